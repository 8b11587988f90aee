// TensorFlow ops executed by name on the `tensorflow` backend (tfjs-node): its binding runs any op
// of libtensorflow's registry (tf.raw_ops.*), so fused kernels that tfjs does not expose —
// LSTMBlockCellGrad, GRUBlockCell, FusedBatchNormV3, SparseSoftmaxCrossEntropyWithLogits — are one call away. Only the
// tfjs-node backend object is touched (no Node import), so this file is browser-safe: in a browser
// `tensorflowAvailable()` is simply false.
import * as tf from '@tensorflow/tfjs-core';

/** The parts of tfjs-node's native binding used here. */
export interface TFBinding {
  TF_ATTR_FLOAT: number;
  TF_ATTR_BOOL: number;
  TF_ATTR_INT: number;
  TF_ATTR_STRING: number;
  TF_ATTR_TYPE: number;
  TF_FLOAT: number;
  TF_INT32: number;
  TF_INT64: number;
  createTensor(shape: number[], dtype: number, values: Int32Array | Float32Array): number;
  deleteTensor(id: number): void;
  executeOp(name: string, attrs: TFAttr[], inputIds: number[], numOutputs: number): unknown[];
}

/** One attribute of an op, e.g. `{ name: 'T', type: bind.TF_ATTR_TYPE, value: bind.TF_FLOAT }`. */
export interface TFAttr {
  name: string;
  type: number;
  value: unknown;
}

/** The parts of tfjs-node's backend used here. */
export interface TFBackend {
  binding: TFBinding;
  getInputTensorIds(tensors: tf.Tensor[]): number[];
  createOutputTensor(metadata: unknown): tf.Tensor;
}

/** Whether the active backend is tfjs-node's, with its op-by-name binding. */
export function tensorflowAvailable(): boolean {
  if (tf.getBackend() !== 'tensorflow') return false;
  const b = tf.backend() as unknown as Partial<TFBackend>;
  return typeof b.binding?.executeOp === 'function' && typeof b.getInputTensorIds === 'function';
}

let nativeLoaded = false;
let nativeWanted = true;

/**
 * Whether Attend's native TensorFlow ops (native/attend_ops.cc: AttendLstmRecurrence and the other
 * recurrences) are loaded into libtensorflow and in use. Loaded by the Node backend loader
 * (./tensorflow-native.ts); `setTensorflowNativeOps(false)` keeps the layers on their TensorFlow-op
 * paths (to compare them), `true` (the default) uses the native ops when they are loaded. Returns
 * the previous setting.
 */
export function tensorflowNativeOps(): boolean {
  return nativeLoaded && nativeWanted && tensorflowAvailable();
}

export function setTensorflowNativeOps(on: boolean): boolean {
  const before = nativeWanted;
  nativeWanted = on;
  return before;
}

/** For the loader: whether the library is in the process. */
export function markTensorflowNativeOpsLoaded(loaded: boolean): void {
  nativeLoaded = loaded;
}

/** An op's attributes by kind, e.g. `{ type: { T: 'float32' }, bool: { causal: true }, float: { scale: 0.5 }, int: { heads: 4 } }`. */
export interface TFAttrSpec {
  type?: Record<string, 'float32' | 'int32'>;
  int?: Record<string, number>;
  bool?: Record<string, boolean>;
  float?: Record<string, number>;
  string?: Record<string, string>;
}

/** `spec` as the binding's attribute list (an int and a float are told apart by where they are listed, not by value). */
export function tfAttrs(bind: TFBinding, spec: TFAttrSpec): TFAttr[] {
  const of = <V>(kind: Record<string, V> | undefined, type: number, value: (v: V) => unknown = (v) => v) =>
    Object.entries(kind ?? {}).map(([name, v]) => ({ name, type, value: value(v) }));
  return [
    ...of(spec.type, bind.TF_ATTR_TYPE, (t) => (t === 'int32' ? bind.TF_INT32 : bind.TF_FLOAT)),
    ...of(spec.int, bind.TF_ATTR_INT),
    ...of(spec.bool, bind.TF_ATTR_BOOL),
    ...of(spec.float, bind.TF_ATTR_FLOAT),
    ...of(spec.string, bind.TF_ATTR_STRING),
  ];
}

/** The active tfjs-node backend; call only when `tensorflowAvailable()`. */
export function tensorflowBackend(): TFBackend {
  return tf.backend() as unknown as TFBackend;
}

/**
 * Runs TensorFlow op `name` on tfjs tensors (or a kernel's TensorInfos; `null` passes an empty
 * float32 tensor `[0]`, for an absent optional input); `attrs` may be a function of the binding (for
 * its type constants). Returns the op's `numOutputs` outputs as fresh tfjs tensors, yours. Call only
 * when `tensorflowAvailable()`.
 */
export function runTensorflowOp(name: string, inputs: (tf.Tensor | tf.TensorInfo | null)[], attrs: TFAttr[] | ((bind: TFBinding) => TFAttr[]), numOutputs: number): tf.Tensor[] {
  const backend = tensorflowBackend();
  const bind = backend.binding;
  const empty = inputs.includes(null) ? bind.createTensor([0], bind.TF_FLOAT, new Float32Array(0)) : undefined;
  try {
    const ids = inputs.map((t) => (t === null ? empty! : backend.getInputTensorIds([t as tf.Tensor])[0]!));
    const outs = bind.executeOp(name, typeof attrs === 'function' ? attrs(bind) : attrs, ids, numOutputs);
    return outs.map((m) => backend.createOutputTensor(m));
  } finally {
    if (empty !== undefined) bind.deleteTensor(empty);
  }
}

/** A tensor made by `TensorflowOps.run`: tfjs-node's metadata of a TensorFlow eager tensor. */
export interface TFHandle {
  id: number;
  shape: number[];
  dtype: unknown;
}

/**
 * TensorFlow ops on raw tensor handles, past tfjs's engine: ~7 µs an op where a tfjs op costs ~16
 * (measured on tfjs-node 4.22, 2-core CPU), for loops of hundreds of small ops such as a recurrent
 * layer's timesteps. tfjs does not track handles; this runner does: each output stays live until
 * `free`d or `wrap`ped into a tfjs tensor, and `dispose` frees whatever is left (an error half-way
 * through a loop leaks nothing). Construct only when `tensorflowAvailable()`; always `dispose`.
 */
export class TensorflowOps {
  readonly backend: TFBackend = tensorflowBackend();
  readonly bind: TFBinding = this.backend.binding;
  /** The attribute T = float32 most float ops take. */
  readonly float: TFAttr = { name: 'T', type: this.bind.TF_ATTR_TYPE, value: this.bind.TF_FLOAT };
  /** Ids of the handles this runner made that are neither freed nor wrapped yet. */
  private readonly live = new Set<number>();

  /** tfjs tensors as op inputs (they stay tfjs's). */
  ids(tensors: tf.Tensor[]): number[] {
    return this.backend.getInputTensorIds(tensors);
  }

  /** Runs op `name` on handles or ids; `attrs` default to [T = float32]. Returns its `numOutputs` outputs. */
  run(name: string, inputs: (number | TFHandle)[], numOutputs = 1, attrs: TFAttr[] = [this.float]): TFHandle[] {
    const ids = inputs.map((t) => (typeof t === 'number' ? t : t.id));
    const outs = this.bind.executeOp(name, attrs, ids, numOutputs) as TFHandle[];
    for (const o of outs) this.live.add(o.id);
    return outs;
  }

  /** `run` for a one-output op. */
  one(name: string, inputs: (number | TFHandle)[], attrs?: TFAttr[]): TFHandle {
    return this.run(name, inputs, 1, attrs)[0]!;
  }

  /** An int32 constant (a shape, an axis) as an op input, freed by `dispose`. */
  int32(values: number[] | number): number {
    const scalar = typeof values === 'number';
    const id = this.bind.createTensor(scalar ? [] : [values.length], this.bind.TF_INT32, Int32Array.from(scalar ? [values] : values));
    this.live.add(id);
    return id;
  }

  /** Attributes: a bool, an int. */
  bool(name: string, value: boolean): TFAttr {
    return tfAttrs(this.bind, { bool: { [name]: value } })[0]!;
  }
  int(name: string, value: number): TFAttr {
    return tfAttrs(this.bind, { int: { [name]: value } })[0]!;
  }

  /** `t` along `axis` as `n` handles (TensorFlow's Unpack). */
  unstack(t: number | TFHandle, n: number, axis: number): TFHandle[] {
    return this.run('Unpack', [t], n, [this.float, this.int('num', n), this.int('axis', axis)]);
  }

  /** Handles stacked along `axis` into one (TensorFlow's Pack). */
  stack(ts: (number | TFHandle)[], axis: number): TFHandle {
    return this.one('Pack', ts, [this.float, this.int('N', ts.length), this.int('axis', axis)]);
  }

  /** `t` in `n` equal parts along `axis` (an int32 constant from `int32`; TensorFlow's Split). */
  split(t: number | TFHandle, n: number, axis: number): TFHandle[] {
    return this.run('Split', [axis, t], n, [this.float, this.int('num_split', n)]);
  }

  /** Handles joined along `axis` (an int32 constant from `int32`; TensorFlow's ConcatV2). */
  concat(ts: (number | TFHandle)[], axis: number): TFHandle {
    return this.one('ConcatV2', [...ts, axis], [this.float, this.int('N', ts.length), { name: 'Tidx', type: this.bind.TF_ATTR_TYPE, value: this.bind.TF_INT32 }]);
  }

  /** The elementwise sum of handles of one shape (TensorFlow's AddN). */
  addN(ts: (number | TFHandle)[]): TFHandle {
    return this.one('AddN', ts, [this.float, this.int('N', ts.length)]);
  }

  /** a·b with optional transposes (TensorFlow's MatMul; oneDNN's where TensorFlow enables it). */
  matMul(a: number | TFHandle, b: number | TFHandle, transposeA = false, transposeB = false): TFHandle {
    return this.one('MatMul', [a, b], [this.float, this.bool('transpose_a', transposeA), this.bool('transpose_b', transposeB)]);
  }

  /** A handle as a tfjs tensor: tfjs owns it from now on. */
  wrap<R extends tf.Rank = tf.Rank>(h: TFHandle): tf.Tensor<R> {
    this.live.delete(h.id);
    return this.backend.createOutputTensor(h) as tf.Tensor<R>;
  }

  /** Frees handles made by this runner (never tfjs tensors' ids); undefined entries are skipped. */
  free(...hs: (TFHandle | undefined)[]): void {
    for (const h of hs) {
      if (h && this.live.delete(h.id)) this.bind.deleteTensor(h.id);
    }
  }

  /** Frees every handle not freed or wrapped yet, and the int32 constants. */
  dispose(): void {
    for (const id of this.live) this.bind.deleteTensor(id);
    this.live.clear();
  }
}

/**
 * Σ over the rows of z `[N, k]` → `[k]` as ones·z on TensorFlow's MatMul (its column Sum over 3,200
 * rows took ~2× that product on the 2-core CPU). Call only when `tensorflowAvailable()`.
 */
export function columnSums(z: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const ops = new TensorflowOps();
    try {
      const [zId, onesId] = ops.ids([z, tf.ones([1, z.shape[0]])]);
      return tf.reshape(ops.wrap(ops.matMul(onesId!, zId!)), [z.shape[1]]) as tf.Tensor1D;
    } finally {
      ops.dispose();
    }
  });
}
