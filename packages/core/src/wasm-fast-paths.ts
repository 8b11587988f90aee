// Replacements for kernels of tfjs 4.22's WASM backend that are correct but slow on the paths every
// recurrent net takes (measured in shared/docs/BACKENDS.md):
// - Slice, Unpack (tf.unstack) and SplitV (tf.split) copy the WHOLE input out of the wasm heap for
//   every slice (`backend.readSync`); a sequence loop slicing T timesteps copies the input T times.
//   Ours read through a view of the heap and copy only the slice.
// - BatchMatMul with transposeA/transposeB (what every matMul gradient asks for) leaves XNNPACK's
//   fast path (10–30× slower). Ours transposes explicitly, then runs the plain kernel.
// Same kernel names, same semantics (reference: tfjs-backend-wasm/src/kernels/{Slice,Unpack,SplitV,
// BatchMatMul}.ts); tests compare every one against the cpu backend.
import * as tf from '@tensorflow/tfjs-core';

/** The parts of tfjs-backend-wasm's `BackendWasm` used here. */
interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object): boolean;
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

/** `BatchMatMul` wrapper: explicit transposes, then the original (XNNPACK) kernel without them. */
function makeBatchMatMul(original: tf.KernelFunc, transpose: tf.KernelFunc): tf.KernelFunc {
  return ((args: Args) => {
    const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
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

/** The kernel names this module replaces on `wasm`. */
export const WASM_FAST_PATH_KERNELS: readonly string[] = ['Slice', 'Unpack', 'SplitV', 'BatchMatMul'];

function replace(kernelName: string, make: (original: tf.KernelConfig) => tf.KernelFunc): void {
  const original = tf.getKernel(kernelName, 'wasm');
  if (!original || (original.kernelFunc as unknown as Record<symbol, boolean>)[MARK]) return;
  const kernelFunc = make(original);
  (kernelFunc as unknown as Record<symbol, boolean>)[MARK] = true;
  tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc, setupFunc: original.setupFunc, disposeFunc: original.disposeFunc });
}

/** Replaces the slow wasm kernels; safe to call more than once. Call after the wasm backend is registered. */
export function registerWasmFastPaths(): void {
  replace('Slice', () => slice as tf.KernelFunc);
  replace('Unpack', () => unpack as unknown as tf.KernelFunc);
  replace('SplitV', () => splitV as unknown as tf.KernelFunc);
  const transpose = tf.getKernel('Transpose', 'wasm');
  if (transpose) replace('BatchMatMul', (original) => makeBatchMatMul(original.kernelFunc, transpose.kernelFunc));
}
