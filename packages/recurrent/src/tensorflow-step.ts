// One recurrent step as ONE fused TensorFlow op on the `tensorflow` backend (tfjs-node), executed by
// name, for stateful generation: LSTMBlockCell for the LSTM and GRUBlockCell for the taught GRU
// (the single-step kernels behind tf.raw_ops.BlockLSTM and GRUBlockCell), inference only. Differences
// from our equations handled here: TensorFlow's LSTM gate order is i, ci (= g), f, o where ours is
// i, f, g, o; its weight is [x, h]·w, i.e. w = [W_x; W_h]; forget_bias 0 (ours is in b); cell_clip
// off; no peepholes (their weights are passed as zeros). Training runs ./tensorflow-sequence.ts.
// Only the tfjs-node backend object is touched (no Node import), so this file is browser-safe: in a
// browser `tensorflowAvailable()` is simply false.
import * as tf from '@tensorflow/tfjs-core';
import { runTensorflowOp, tensorflowAvailable, tfAttrs, type TFBinding } from '@attend/core';
import { DerivedWeights, recordingGradients } from './derived-weights.js';

export { tensorflowAvailable };

/** The attribute T = float32 that TensorFlow's RNN cell ops take. */
const floatT = (bind: TFBinding) => tfAttrs(bind, { type: { T: 'float32' } });

/** Swaps gate blocks 1 and 2 along the last axis: i, f, g, o ⇄ i, g, f, o (TensorFlow's LSTM order; its own inverse). */
export function swapFG(w: tf.Tensor, H: number): tf.Tensor {
  const [i, f, g, o] = tf.split(w, [H, H, H, H], w.rank - 1);
  return tf.concat([i!, g!, f!, o!], w.rank - 1);
}

// One LSTM step as ONE TensorFlow op (LSTMBlockCell, the single-step kernel behind BlockLSTM), for
// stateful generation: ~12 tfjs ops per layer and character become one, with h and c kept on the
// backend between steps. Inference only (no gradient is registered): callers use it when no
// gradient is being recorded. The packed weights w = swapFG([W_x; W_h]) and b are cached per
// variable data (a Variable's assign replaces its dataId, so a trained or reloaded model repacks).
const packedLstm = new WeakMap<object, DerivedWeights<[tf.Tensor2D, tf.Tensor1D, tf.Tensor1D]>>();

/** [w, b, zeros]: w = swapFG([W_x; W_h]) `[D + H, 4H]` and b `[4H]` in TF's gate order, zero peephole weights `[H]`. */
function packLstm(owner: object, W_x: tf.Tensor2D, W_h: tf.Tensor2D, b: tf.Tensor1D): [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D] {
  let cache = packedLstm.get(owner);
  if (!cache) packedLstm.set(owner, (cache = new DerivedWeights()));
  const H = W_h.shape[0];
  return cache.get([W_x, W_h, b], () => [swapFG(tf.concat([W_x, W_h], 0), H) as tf.Tensor2D, swapFG(b, H) as tf.Tensor1D, tf.zeros([H])]);
}

/** Whether `lstmStepTensorflow` may run now: the tensorflow backend, and no gradient being recorded. */
export function tensorflowStepAvailable(): boolean {
  return tensorflowAvailable() && !recordingGradients();
}

/**
 * One LSTM step on the tensorflow backend: x `[B, D]`, weights as `lstmLayerTensorflow`, h and c
 * `[B, H]` → `{ h, c }` `[B, H]`, yours. `owner` (the cell) keys the cached packed weights.
 */
export function lstmStepTensorflow(owner: object, x: tf.Tensor2D, W_x: tf.Tensor2D, W_h: tf.Tensor2D, b: tf.Tensor1D, h: tf.Tensor2D, c: tf.Tensor2D): { h: tf.Tensor2D; c: tf.Tensor2D } {
  const [w, bb, zeros] = packLstm(owner, W_x, W_h, b);
  // Inputs: x, cs_prev, h_prev, w, wci, wcf, wco, b. Outputs: i, cs, f, o, ci, co, h.
  const t = runTensorflowOp('LSTMBlockCell', [x, c, h, w, zeros, zeros, zeros, bb], (bind) =>
    tfAttrs(bind, { type: { T: 'float32' }, bool: { use_peephole: false }, float: { forget_bias: 0, cell_clip: -1 } }), 7);
  tf.dispose([t[0]!, t[2]!, t[3]!, t[4]!, t[5]!]);
  return { h: t[6] as tf.Tensor2D, c: t[1] as tf.Tensor2D };
}

// The taught GRU's step as ONE TensorFlow op (GRUBlockCell, Cho et al.'s GRU with the reset before
// the candidate's matmul — TensorFlow's definition: [r̄, ū] = [x, h]·w_ru + b_ru, c = tanh([x, r ⊙ h]·w_c
// + b_c), h' = (1 − u) ⊙ c + u ⊙ h). Ours weights the NEW candidate by z, so u = 1 − z = σ(−z̄): the
// z blocks of the weights and bias are negated when packing. Inference only, like the LSTM step.
const packedGru = new WeakMap<object, DerivedWeights<[tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor1D]>>();

/** [w_ru `[D + H, 2H]`, w_c `[D + H, H]`, b_ru `[2H]`, b_c `[H]`] from W_x, W_h, b (gate blocks r, z, n), z negated: u = σ(−z̄) = 1 − z. */
function packGru(owner: object, W_x: tf.Tensor2D, W_h: tf.Tensor2D, b: tf.Tensor1D): [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor1D] {
  let cache = packedGru.get(owner);
  if (!cache) packedGru.set(owner, (cache = new DerivedWeights()));
  return cache.get([W_x, W_h, b], () => gruPacking(W_x, W_h, b));
}

/** The packing itself (uncached). */
function gruPacking(W_x: tf.Tensor2D, W_h: tf.Tensor2D, b: tf.Tensor1D): [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor1D] {
  const [wr, wz, wn] = tf.split(tf.concat([W_x, W_h], 0), 3, 1) as tf.Tensor2D[]; // [D + H, H] each
  const [br, bz, bn] = tf.split(b, 3, 0) as tf.Tensor1D[];
  return [tf.concat([wr!, tf.neg(wz!)], 1), wn!, tf.concat([br!, tf.neg(bz!)], 0), bn!];
}

/**
 * One step of the taught GRU on the tensorflow backend: x `[B, D]`, W_x `[D, 3H]`, W_h `[H, 3H]`,
 * b `[3H]` (gate blocks r, z, n), h `[B, H]` → h' `[B, H]`, yours. `owner` keys the packed weights.
 */
export function gruStepTensorflow(owner: object, x: tf.Tensor2D, W_x: tf.Tensor2D, W_h: tf.Tensor2D, b: tf.Tensor1D, h: tf.Tensor2D): tf.Tensor2D {
  const [w_ru, w_c, b_ru, b_c] = packGru(owner, W_x, W_h, b);
  // Inputs: x, h_prev, w_ru, w_c, b_ru, b_c. Outputs: r, u, c, h.
  const t = runTensorflowOp('GRUBlockCell', [x, h, w_ru, w_c, b_ru, b_c], floatT, 4);
  tf.dispose([t[0]!, t[1]!, t[2]!]);
  return t[3] as tf.Tensor2D;
}
