// The Attend WebAssembly SIMD module (built by ../scripts/build-wasm.mjs into ../src/wasm/): the
// matrix product and the recurrent sequence kernels, exported for ../src/simd.ts.
export { gemm, linear, packB, sumRows, transpose } from './gemm';
export { lstmForward, lstmBackward, weightGrad, weightGradPacked, gruForward, gruBackward, rnnForward, rnnBackward } from './sequence';
