// Kernels the tfjs 4.22 WASM backend lacks but Attend needs, registered under the same kernel
// names so ordinary tfjs code (and its gradients) runs on `wasm`.
// Probe: kernels registered for `cpu` but not `wasm` in tfjs 4.22 are Complex, ComplexAbs,
// Conv2DBackpropFilter, DepthwiseConv2dNative{BackpropFilter,BackpropInput}, Draw, Einsum, FFT, IFFT,
// Imag, Ragged*, Real, StaticRegexReplace and UnsortedSegmentSum. Of these, Attend's models use only
// UnsortedSegmentSum: it is the gradient of `gather`, i.e. of every embedding lookup.
// Reference: tfjs-backend-cpu/src/kernels/UnsortedSegmentSum.ts (same semantics).
import * as tf from '@tensorflow/tfjs-core';
import { registerWasmFastPaths } from './wasm-fast-paths.js';

/** The parts of tfjs-backend-wasm's `BackendWasm` these kernels use. */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/**
 * UnsortedSegmentSum: `out[s, ...] = Σ_{i: ids[i] = s} x[i, ...]`; ids outside [0, numSegments) are dropped.
 * x: [...ids.shape, ...inner] → out: [numSegments, ...inner].
 */
function unsortedSegmentSum(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const { x, segmentIds } = args.inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const numSegments = (args.attrs as { numSegments: number }).numSegments;
  const backend = args.backend as WasmBackendLike;
  const idsRank = segmentIds.shape.length;
  const innerShape = x.shape.slice(idsRank);
  const inner = innerShape.reduce((a, b) => a * b, 1);
  const out = backend.makeOutput([numSegments, ...innerShape], x.dtype);
  // Read the heap views only after makeOutput: allocating can grow (and detach) the wasm memory.
  const outVals = backend.typedArrayFromHeap(out);
  const xVals = backend.typedArrayFromHeap(x);
  const ids = backend.typedArrayFromHeap(segmentIds);
  outVals.fill(0);
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i]!;
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) outVals[dst + j] += xVals[src + j]!;
  }
  return out;
}

/** The kernel names this module adds to the `wasm` backend. */
export const WASM_GAP_KERNELS: readonly string[] = ['UnsortedSegmentSum'];

/**
 * Registers the missing kernels for `wasm` and replaces its slow paths (./wasm-fast-paths.ts);
 * safe to call more than once.
 */
export function registerWasmGapKernels(): void {
  registerWasmFastPaths();
  if (!tf.getKernel('UnsortedSegmentSum', 'wasm')) {
    tf.registerKernel({ kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: unsortedSegmentSum as tf.KernelFunc });
  }
}
