// Replacements for kernels of tfjs 4.22's WASM backend that are correct but slow on the paths every
// recurrent net takes (measured in shared/docs/BACKENDS.md):
// - Slice, Unpack (tf.unstack) and SplitV (tf.split) copy the WHOLE input out of the wasm heap for
//   every slice (`backend.readSync`); a sequence loop slicing T timesteps copies the input T times.
//   Ours read through a view of the heap and copy only the slice.
// - BatchMatMul with transposeA/transposeB (what every matMul gradient asks for) leaves XNNPACK's
//   fast path (10–30× slower). Ours transposes explicitly, then runs the plain kernel. And products
//   big enough to pay for the copies run on our own SIMD GEMM (./simd.ts) on every core instead of
//   XNNPACK's one thread.
// - GatherV2 along axis 0 (every embedding lookup) reads the indices back and reshapes twice; ours
//   copies the rows through heap views.
// - Identity (tf.clone, and every tensor the gradient tape saves) copies the data; ours shares it
//   with a reference count, as the cpu backend's does (tensors are immutable).
// - Sum over leading axes (a bias gradient: [rows, N] → [N]) transposes the whole input first. Ours
//   adds the rows in place.
// Same kernel names, same semantics (reference: tfjs-backend-wasm/src/kernels/{Slice,Unpack,SplitV,
// BatchMatMul,Sum,Identity,GatherV2}.ts); tests compare every one against the cpu backend.
import * as tf from '@tensorflow/tfjs-core';
import { simdKernels, type SimdKernels } from './simd.js';

/** The parts of tfjs-backend-wasm's `BackendWasm` used here. */
interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object): boolean;
  incRef(dataId: object): void;
}
type Args = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

const MARK = Symbol.for('attend.wasmFastPath');

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1]! * shape[i + 1]!;
  return s;
}

/** Copies the box `begin`/`size` of `x` into a new output, reading `x` through a heap view. */
function sliceInfo(x: tf.TensorInfo, begin: readonly number[], size: readonly number[], backend: WasmBackend): tf.TensorInfo {
  const out = backend.makeOutput([...size], x.dtype);
  const n = sizeOf(size);
  if (n === 0) return out;
  // Views only after makeOutput: allocating can grow (and detach) the wasm memory.
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  const rank = x.shape.length;
  const xs = strides(x.shape);
  // Merge trailing dims that are taken whole into one contiguous run.
  let inner = rank - 1;
  let run = size[inner]!;
  while (inner > 0 && size[inner] === x.shape[inner] && begin[inner] === 0) {
    inner--;
    run *= size[inner]!;
  }
  if (inner === 0 || rank === 0) {
    const off = rank === 0 ? 0 : begin[0]! * xs[0]!;
    dst.set(src.subarray(off, off + n));
    return out;
  }
  // Odometer over dims [0, inner), copying runs of `run` elements starting at dim `inner`.
  const idx = new Array<number>(inner).fill(0);
  let o = 0;
  for (;;) {
    let off = begin[inner]! * xs[inner]!;
    for (let d = 0; d < inner; d++) off += (begin[d]! + idx[d]!) * xs[d]!;
    dst.set(src.subarray(off, off + run), o);
    o += run;
    let d = inner - 1;
    while (d >= 0 && ++idx[d]! === size[d]) idx[d--] = 0;
    if (d < 0) break;
  }
  return out;
}

function slice(args: Args): tf.TensorInfo {
  const x = args.inputs.x as tf.TensorInfo;
  const { begin, size } = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
  const [b, s] = tf.slice_util.parseSliceParams(x as tf.TensorInfo as tf.Tensor, begin, size);
  return sliceInfo(x, b, s, args.backend as WasmBackend);
}

function unpack(args: Args): tf.TensorInfo[] {
  const value = args.inputs.value as tf.TensorInfo;
  let { axis } = args.attrs as unknown as { axis: number };
  if (axis < 0) axis += value.shape.length;
  const outShape = value.shape.filter((_, i) => i !== axis);
  const begin = new Array<number>(value.shape.length).fill(0);
  const size = [...value.shape];
  size[axis] = 1;
  const outs: tf.TensorInfo[] = [];
  for (let i = 0; i < value.shape[axis]!; i++) {
    begin[axis] = i;
    const o = sliceInfo(value, begin, size, args.backend as WasmBackend);
    outs.push({ dataId: o.dataId, dtype: o.dtype, shape: outShape });
  }
  return outs;
}

function splitV(args: Args): tf.TensorInfo[] {
  const x = args.inputs.x as tf.TensorInfo;
  const { numOrSizeSplits, axis } = args.attrs as unknown as { numOrSizeSplits: number | number[]; axis: number };
  const $axis = tf.util.parseAxisParam(axis, x.shape)[0]!;
  const sizes = tf.backend_util.prepareSplitSize(x as tf.TensorInfo as tf.Tensor, numOrSizeSplits, $axis);
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((s) => {
    const size = [...x.shape];
    size[$axis] = s;
    const o = sliceInfo(x, begin, size, args.backend as WasmBackend);
    begin[$axis] += s;
    return o;
  });
}

/** Multiply–adds per call (all of a batch's products together) from which a float32 product runs on the SIMD GEMM (below it, the copies in and out cost more than XNNPACK loses). */
export const SIMD_MATMUL_MIN_MACS = 1 << 18;
/** …and rows of the product: B is copied and packed on every call, which only M rows of work repay (sampling's 1 × H · H × 4H stays on XNNPACK). */
export const SIMD_MATMUL_MIN_ROWS = 32;

/**
 * a·b on the SIMD GEMM, or null where it does not apply (not float32, batch dims that are neither
 * equal nor one side's all ones, too small or too few rows): a `[...batch, M, K]` (or `[..., K, M]`, transposeA),
 * b `[...batch, K, N]` (or `[..., N, K]`) → `[...batch, M, N]`; each matrix's rows split over the threads.
 */
function simdMatMul(s: SimdKernels, a: tf.TensorInfo, b: tf.TensorInfo, transposeA: boolean, transposeB: boolean, backend: WasmBackend): tf.TensorInfo | null {
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return null;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const [M, K] = transposeA ? [a.shape[ra - 1]!, a.shape[ra - 2]!] : [a.shape[ra - 2]!, a.shape[ra - 1]!];
  const N = transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  const batchDimsA = a.shape.slice(0, -2);
  const batchDimsB = b.shape.slice(0, -2);
  const nA = sizeOf(batchDimsA);
  const nB = sizeOf(batchDimsB);
  const same = batchDimsA.length === batchDimsB.length && batchDimsA.every((d, i) => d === batchDimsB[i]);
  if (!same && nA !== 1 && nB !== 1) return null;
  const batch = Math.max(nA, nB);
  // Size over the whole batch: attention's 48 products of 64 × 32 · 32 × 64 are small one by one, and
  // XNNPACK ran them at ~2 GFLOP/s (re-packing each B).
  if (batch * M * N * K < SIMD_MATMUL_MIN_MACS || M < SIMD_MATMUL_MIN_ROWS || N === 0 || K === 0) return null;
  const outShape = [...(nA >= nB && batchDimsA.length >= batchDimsB.length ? batchDimsA : batchDimsB), M, N];
  const alloc = s.layout();
  const pA = alloc(nA * M * K);
  const pB = alloc(nB * K * N);
  const pBT = transposeB ? alloc(nB * K * N) : pB;
  const pC = alloc(batch * M * N);
  const pPanel = alloc(K * (N & ~7));
  const m = s.f32();
  m.set(backend.typedArrayFromHeap(a) as Float32Array, pA / 4);
  m.set(backend.typedArrayFromHeap(b) as Float32Array, pB / 4);
  if (transposeB) for (let i = 0; i < nB; i++) s.exports.transpose(pBT + i * K * N * 4, pB + i * K * N * 4, N, K); // [N, K] → [K, N]
  if (batch >= 2 * s.threadCount && nB > 1) {
    // A batch of products (attention's): the items split over the threads, each packing its own B_i.
    const parts = s.threadCount;
    const per = Math.ceil(batch / parts);
    const panels = Array.from({ length: parts }, () => alloc(K * (N & ~7)));
    const jobs: number[][] = [];
    for (let p = 0, i0 = 0; i0 < batch; p++, i0 += per) {
      const count = Math.min(per, batch - i0);
      // gemmBatch(count, C, strideC, A, strideA, lda, transA, B, strideB, M, K, N, panel)
      jobs.push([count, pC + i0 * M * N * 4, M * N, pA + (nA === 1 ? 0 : i0 * M * K * 4), nA === 1 ? 0 : M * K, transposeA ? M : K, transposeA ? 1 : 0, pBT + i0 * K * N * 4, K * N, M, K, N, panels[p]!]);
    }
    s.run('gemmBatch', jobs);
  } else {
    // Each product's rows split over the threads, sharing one packed B.
    const rows = s.split(M, 16, 4);
    for (let i = 0; i < batch; i++) {
      const A = pA + (nA === 1 ? 0 : i * M * K * 4);
      const B = pBT + (nB === 1 ? 0 : i * K * N * 4);
      const C = pC + i * M * N * 4;
      if (i === 0 || nB > 1) s.exports.packB(pPanel, B, N, K, N);
      // gemm(C, ldc, A, lda, transA, B, ldb, M, K, N, panel, overwrite) on rows i0 … i1 − 1
      s.run('gemm', rows.map(([i0, i1]) => [C + i0 * N * 4, N, transposeA ? A + i0 * 4 : A + i0 * K * 4, transposeA ? M : K, transposeA ? 1 : 0, B, N, i1 - i0, K, N, pPanel, 1]));
    }
  }
  const out = backend.makeOutput(outShape, 'float32');
  (backend.typedArrayFromHeap(out) as Float32Array).set(s.f32().subarray(pC / 4, pC / 4 + batch * M * N));
  return out;
}

/** `BatchMatMul` wrapper: the SIMD GEMM where it applies; else explicit transposes, then the original (XNNPACK) kernel without them. */
function makeBatchMatMul(original: tf.KernelFunc, transpose: tf.KernelFunc): tf.KernelFunc {
  return ((args: Args) => {
    const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const s = simdKernels();
    const fast = s && simdMatMul(s, args.inputs.a as tf.TensorInfo, args.inputs.b as tf.TensorInfo, transposeA, transposeB, args.backend as WasmBackend);
    if (fast) return fast;
    if (!transposeA && !transposeB) return original(args as Parameters<tf.KernelFunc>[0]);
    const backend = args.backend as WasmBackend;
    const t = (x: tf.TensorInfo): tf.TensorInfo => {
      const r = x.shape.length;
      const perm = [...Array(r - 2).keys(), r - 1, r - 2];
      return transpose({ inputs: { x }, backend: args.backend, attrs: { perm } } as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    };
    const a = transposeA ? t(args.inputs.a as tf.TensorInfo) : (args.inputs.a as tf.TensorInfo);
    const b = transposeB ? t(args.inputs.b as tf.TensorInfo) : (args.inputs.b as tf.TensorInfo);
    try {
      return original({ ...args, inputs: { a, b }, attrs: { ...args.attrs, transposeA: false, transposeB: false } } as Parameters<tf.KernelFunc>[0]);
    } finally {
      if (transposeA) backend.disposeData(a.dataId);
      if (transposeB) backend.disposeData(b.dataId);
    }
  }) as tf.KernelFunc;
}

/** `Sum` wrapper: float32 sums over the leading axes (rows) add rows in place; the rest go to the original kernel. */
function makeSum(original: tf.KernelFunc): tf.KernelFunc {
  return ((args: Args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
    const leading = axes.length > 0 && axes.length < x.shape.length && axes.every((a, i) => a === i);
    if (x.dtype !== 'float32' || !leading) return original(args as Parameters<tf.KernelFunc>[0]);
    const backend = args.backend as WasmBackend;
    const kept = x.shape.slice(axes.length);
    const N = sizeOf(kept);
    const rows = sizeOf(x.shape.slice(0, axes.length));
    const acc = new Float64Array(N);
    const src = backend.typedArrayFromHeap(x);
    for (let r = 0, o = 0; r < rows; r++, o += N) for (let j = 0; j < N; j++) acc[j] += src[o + j]!;
    const out = backend.makeOutput(keepDims ? [...axes.map(() => 1), ...kept] : kept, 'float32');
    (backend.typedArrayFromHeap(out) as Float32Array).set(acc);
    return out;
  }) as tf.KernelFunc;
}

/** `Identity` wrapper: shares the data (reference count) instead of copying it; strings go to the original. */
function makeIdentity(original: tf.KernelFunc): tf.KernelFunc {
  return ((args: Args) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype === 'string') return original(args as Parameters<tf.KernelFunc>[0]);
    (args.backend as WasmBackend).incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  }) as tf.KernelFunc;
}

/** `GatherV2` wrapper: rows of a table along axis 0 (an embedding lookup) copied through heap views; the rest go to the original kernel. */
function makeGather(original: tf.KernelFunc): tf.KernelFunc {
  return ((args: Args) => {
    const { x, indices } = args.inputs as Record<string, tf.TensorInfo>;
    const { axis, batchDims } = args.attrs as unknown as { axis: number; batchDims: number };
    const $axis = tf.util.parseAxisParam(axis, x!.shape)[0];
    if ($axis !== 0 || batchDims !== 0 || x!.dtype === 'string' || x!.dtype === 'complex64' || indices!.dtype !== 'int32') return original(args as Parameters<tf.KernelFunc>[0]);
    const backend = args.backend as WasmBackend;
    const rows = x!.shape[0]!;
    const row = sizeOf(x!.shape.slice(1));
    const out = backend.makeOutput([...indices!.shape, ...x!.shape.slice(1)], x!.dtype);
    // Views only after makeOutput: allocating can grow (and detach) the wasm memory.
    const ids = backend.typedArrayFromHeap(indices!);
    const src = backend.typedArrayFromHeap(x!);
    const dst = backend.typedArrayFromHeap(out);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!(id >= 0 && id < rows)) {
        backend.disposeData(out.dataId);
        throw new Error(`GatherV2: the index value ${id} is not in [0, ${rows - 1}]`);
      }
      dst.set(src.subarray(id * row, (id + 1) * row), i * row);
    }
    return out;
  }) as tf.KernelFunc;
}

/** The kernel names this module replaces on `wasm`. */
export const WASM_FAST_PATH_KERNELS: readonly string[] = ['Slice', 'Unpack', 'SplitV', 'BatchMatMul', 'Sum', 'Identity', 'GatherV2'];

/** tfjs's own kernels we replaced, and ours, by name: to switch back and forth (setWasmFastPaths). */
const originals = new Map<string, tf.KernelConfig>();
const ours = new Map<string, tf.KernelConfig>();

function replace(kernelName: string, make: (original: tf.KernelConfig) => tf.KernelFunc): void {
  const original = tf.getKernel(kernelName, 'wasm');
  if (!original || (original.kernelFunc as unknown as Record<symbol, boolean>)[MARK]) return;
  const kernelFunc = make(original);
  (kernelFunc as unknown as Record<symbol, boolean>)[MARK] = true;
  const config = { kernelName, backendName: 'wasm', kernelFunc, setupFunc: original.setupFunc, disposeFunc: original.disposeFunc };
  originals.set(kernelName, original);
  ours.set(kernelName, config);
  tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel(config);
}

/**
 * Switches the wasm backend between Attend's kernels (on: the default once registered) and tfjs's
 * stock ones (off) — for benchmarks that measure what plain tfjs gives. Returns the previous state.
 * Selecting the wasm backend (selectBackend) registers Attend's kernels again.
 */
export function setWasmFastPaths(on: boolean): boolean {
  const before = [...ours.keys()].some((name) => (tf.getKernel(name, 'wasm')?.kernelFunc as unknown as Record<symbol, boolean> | undefined)?.[MARK] === true);
  for (const [name, config] of on ? ours : originals) {
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(config);
  }
  return before;
}

/** Replaces the slow wasm kernels; safe to call more than once. Call after the wasm backend is registered. */
export function registerWasmFastPaths(): void {
  replace('Slice', () => slice as tf.KernelFunc);
  replace('Unpack', () => unpack as unknown as tf.KernelFunc);
  replace('SplitV', () => splitV as unknown as tf.KernelFunc);
  replace('Sum', (original) => makeSum(original.kernelFunc));
  replace('Identity', (original) => makeIdentity(original.kernelFunc));
  replace('GatherV2', (original) => makeGather(original.kernelFunc));
  const transpose = tf.getKernel('Transpose', 'wasm');
  if (transpose) replace('BatchMatMul', (original) => makeBatchMatMul(original.kernelFunc, transpose.kernelFunc));
}
