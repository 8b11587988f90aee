// TensorFlow ops executed by name on the `tensorflow` backend (tfjs-node): its binding runs any op
// of libtensorflow's registry (tf.raw_ops.*), so fused kernels that tfjs does not expose —
// BlockLSTM, GRUBlockCell, SparseSoftmaxCrossEntropyWithLogits — are one call away. Only the
// tfjs-node backend object is touched (no Node import), so this file is browser-safe: in a browser
// `tensorflowAvailable()` is simply false.
import * as tf from '@tensorflow/tfjs-core';

/** The parts of tfjs-node's native binding used here. */
export interface TFBinding {
  TF_ATTR_FLOAT: number;
  TF_ATTR_BOOL: number;
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

/** The active tfjs-node backend; call only when `tensorflowAvailable()`. */
export function tensorflowBackend(): TFBackend {
  return tf.backend() as unknown as TFBackend;
}

/**
 * Runs TensorFlow op `name` on tfjs tensors; `attrs` may be a function of the binding (for its
 * type constants). Returns the op's `numOutputs` outputs as fresh tfjs tensors, yours. Call only
 * when `tensorflowAvailable()`.
 */
export function runTensorflowOp(name: string, inputs: tf.Tensor[], attrs: TFAttr[] | ((bind: TFBinding) => TFAttr[]), numOutputs: number): tf.Tensor[] {
  const backend = tensorflowBackend();
  const bind = backend.binding;
  const outs = bind.executeOp(name, typeof attrs === 'function' ? attrs(bind) : attrs, backend.getInputTensorIds(inputs), numOutputs);
  return outs.map((m) => backend.createOutputTensor(m));
}
