// The Attend WebAssembly SIMD module (built by ../scripts/build-wasm.mjs into ../src/wasm/): the
// matrix product, the recurrent sequence kernels and elementwise activations, exported for ../src/simd.ts.
export { gemm, gemmBatch, linear, packB, sumRows, transpose } from './gemm';
export { lstmForward, lstmBackward, weightGrad, weightGradPacked, gruForward, gruBackward, gruRAForward, gruRABackward, rnnForward, rnnBackward } from './sequence';
export { adam, gelu, geluGrad, layerNorm, layerNormGrad } from './activations';
