// @attend/core — the public API: typed errors, seeded randomness, backend selection (browser-safe).
import './gradients.js';
export {
  AttendError,
  BackendError,
  ConfigError,
  DataError,
  ShapeError,
  assertInt,
  assertNumber,
  assertShape,
  withDefaults,
} from './errors.js';
export { Rng, hashSeed, type RngState } from './random.js';
export { assertBool, assertChoice, configure } from './config.js';
export {
  assignWeights,
  countParams,
  glorotUniform,
  glorotVariable,
  makeVariable,
  prefixed,
  type SetWeightsOptions,
} from './variables.js';
export {
  BACKEND_NAMES,
  parseBackendName,
  selectBackend,
  selectFrom,
  cpuCandidate,
  wasmCandidate,
  type BackendCandidate,
  type BackendName,
  type BackendSelection,
  type SelectBackendOptions,
} from './backend.js';
export { registerWasmGapKernels, WASM_GAP_KERNELS } from './wasm-kernels.js';
export { setWasmFastPaths, WASM_FAST_PATH_KERNELS } from './wasm-fast-paths.js';
export { SPARSE_CROSS_ENTROPY, SPARSE_CROSS_ENTROPY_GRAD, sparseSoftmaxCrossEntropy } from './cross-entropy.js';
export { columnSums, runTensorflowOp, setTensorflowNativeOps, tensorflowAvailable, tensorflowNativeOps, tensorflowBackend, TensorflowOps, tfAttrs, type TFAttr, type TFAttrSpec, type TFBackend, type TFBinding, type TFHandle } from './tensorflow-ops.js';
export { cpuArrayIO, tensorflowArrayIO, wasmArrayIO, type KernelArrayIO } from './kernel-io.js';
export { f32Bits, setSimdThreads, simdKernels, simdStatus, type SimdExports, type SimdJob, SimdKernels } from './simd.js';
export { webgpuGroupProgram, webgpuRowProgram, wgslFloat, type WebGPUBackendLike, type WebGPUGroupOptions, type WebGPUProgramLike } from './webgpu-program.js';
