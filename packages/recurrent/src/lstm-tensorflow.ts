// Fused TensorFlow ops on the `tensorflow` backend (tfjs-node), executed by name. The whole LSTM
// layer as ONE op: BlockLSTM
// forward and BlockLSTMGrad backward (TensorFlow's fused LSTM, the kernels behind
// tf.raw_ops.BlockLSTM / LSTMBlockFusedCell), executed by name through tfjs-node's binding. This
// replaces ~15 tfjs ops per timestep (and ~25 in the backward pass) with 2 ops per sequence.
// Differences from our equations handled here: TensorFlow's gate order is i, ci (= g), f, o where
// ours is i, f, g, o; its weight is [x, h]·w, i.e. w = [W_x; W_h]; forget_bias 0 (ours is in b);
// cell_clip off; no peepholes (their weights are passed as zeros). Also one-step LSTMBlockCell and
// GRUBlockCell for stateful generation (below).
// Only the tfjs-node backend object is touched (no Node import), so this file is browser-safe: in a
// browser `tensorflowAvailable()` is simply false.
import * as tf from '@tensorflow/tfjs-core';
import { tensorflowAvailable, type TFBackend } from '@attend/core';
import { DerivedWeights, recordingGradients } from './derived-weights.js';

export { tensorflowAvailable };

/** Runs TensorFlow op `name` with a leading int64 scalar input `seq_len_max` = T. */
function execWithSeqLen(name: string, T: number, inputs: tf.Tensor[], numOutputs: number, extraAttrs: { name: string; type: number; value: unknown }[]): tf.Tensor[] {
  const backend = tf.backend() as unknown as TFBackend;
  const bind = backend.binding;
  const seqLen = bind.createTensor([], bind.TF_INT64, new Int32Array([T, 0])); // little-endian int64
  try {
    const attrs = [{ name: 'T', type: bind.TF_ATTR_TYPE, value: bind.TF_FLOAT }, { name: 'use_peephole', type: bind.TF_ATTR_BOOL, value: false }, ...extraAttrs];
    const outs = bind.executeOp(name, attrs, [seqLen, ...backend.getInputTensorIds(inputs)], numOutputs);
    return outs.map((m) => backend.createOutputTensor(m));
  } finally {
    bind.deleteTensor(seqLen);
  }
}

/** Swaps gate blocks 1 and 2 along the last axis: i, f, g, o ⇄ i, g, f, o (its own inverse). */
function swapFG(w: tf.Tensor, H: number): tf.Tensor {
  const [i, f, g, o] = tf.split(w, [H, H, H, H], w.rank - 1);
  return tf.concat([i!, g!, f!, o!], w.rank - 1);
}

/**
 * One LSTM layer over a whole sequence on the tensorflow backend: x `[B, T, D]`, W_x `[D, 4H]`,
 * W_h `[H, 4H]`, b `[4H]` (gate order i, f, g, o), h0 and c0 `[B, H]` →
 * `{ hs [B, T, H], h [B, H], c [B, H] }`. Differentiable w.r.t. all six inputs.
 */
export function lstmLayerTensorflow(
  x: tf.Tensor3D,
  W_x: tf.Tensor2D,
  W_h: tf.Tensor2D,
  b: tf.Tensor1D,
  h0: tf.Tensor2D,
  c0: tf.Tensor2D,
): { hs: tf.Tensor3D; h: tf.Tensor2D; c: tf.Tensor2D } {
  return tf.tidy(() => unpackLstm(blockLstm(x, W_x, W_h, b, h0, c0) as tf.Tensor3D)); // [B, T + 1, H] packed
}

/**
 * Splits the packed output of the BlockLSTM custom gradient below —
 * `[B, T + 1, H]`: h_1..h_T, then c_T (tf.customGrad returns one tensor; unmasked, so h = h_T) — into
 * `{ hs [B, T, H], h = h_T, c = c_T }`.
 */
function unpackLstm(packed: tf.Tensor3D): { hs: tf.Tensor3D; h: tf.Tensor2D; c: tf.Tensor2D } {
  const [B, T1, H] = packed.shape;
  const T = T1 - 1;
  const hs = tf.slice(packed, [0, 0, 0], [B, T, H]) as tf.Tensor3D; // [B, T, H]
  const h = tf.reshape(tf.slice(packed, [0, T - 1, 0], [B, 1, H]), [B, H]) as tf.Tensor2D;
  const c = tf.reshape(tf.slice(packed, [0, T, 0], [B, 1, H]), [B, H]) as tf.Tensor2D;
  return { hs, h, c };
}

const blockLstm = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, W_x, W_h, b, h0, c0, save] = args as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  const [B, T, D] = x.shape;
  const H = W_h.shape[0];
  const xT = tf.transpose(x, [1, 0, 2]); // [T, B, D]
  const w = swapFG(tf.concat([W_x, W_h], 0), H); // [D + H, 4H], TF gate order
  const bb = swapFG(b, H); // [4H]
  const zeros = tf.zeros([H]); // peephole weights (unused)
  // Outputs: i, cs, f, o, ci, co, h — each [T, B, H].
  const outs = execWithSeqLen('BlockLSTM', T, [xT, c0, h0, w, zeros, zeros, zeros, bb], 7, [
    { name: 'forget_bias', type: (tf.backend() as unknown as TFBackend).binding.TF_ATTR_FLOAT, value: 0 },
    { name: 'cell_clip', type: (tf.backend() as unknown as TFBackend).binding.TF_ATTR_FLOAT, value: -1 },
  ]);
  const [, cs, , , , , hOut] = outs as tf.Tensor3D[];
  save([xT, c0, h0, w, zeros, bb, ...outs]);
  const value = tf.concat([tf.transpose(hOut!, [1, 0, 2]), tf.reshape(tf.slice(cs!, [T - 1, 0, 0], [1, B, H]), [B, 1, H])], 1); // [B, T + 1, H]
  const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
    const [sx, sc0, sh0, sw, sz, sb, i, cs2, f, o, ci, co, h] = saved as tf.Tensor[];
    const hGrad = tf.transpose(tf.slice(dy, [0, 0, 0], [B, T, H]), [1, 0, 2]); // [T, B, H]
    const dcT = tf.reshape(tf.slice(dy, [0, T, 0], [B, 1, H]), [1, B, H]);
    const csGrad = T > 1 ? tf.concat([tf.zeros([T - 1, B, H]), dcT], 0) : dcT; // only c_T is an output
    // Outputs: x_grad, cs_prev_grad, h_prev_grad, w_grad, wci_grad, wcf_grad, wco_grad, b_grad.
    const g = execWithSeqLen('BlockLSTMGrad', T, [sx!, sc0!, sh0!, sw!, sz!, sz!, sz!, sb!, i!, cs2!, f!, o!, ci!, co!, h!, csGrad, hGrad], 8, []);
    const [xGrad, c0Grad, h0Grad, wGrad, , , , bGrad] = g as tf.Tensor[];
    const dW = swapFG(wGrad!, H); // back to i, f, g, o
    return [
      tf.transpose(xGrad!, [1, 0, 2]), // [B, T, D]
      tf.slice(dW, [0, 0], [D, 4 * H]),
      tf.slice(dW, [D, 0], [H, 4 * H]),
      swapFG(bGrad!, H),
      h0Grad!,
      c0Grad!,
    ];
  };
  return { value, gradFunc };
}) as Parameters<typeof tf.customGrad>[0]);

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
  const backend = tf.backend() as unknown as TFBackend;
  const bind = backend.binding;
  const attrs = [
    { name: 'T', type: bind.TF_ATTR_TYPE, value: bind.TF_FLOAT },
    { name: 'use_peephole', type: bind.TF_ATTR_BOOL, value: false },
    { name: 'forget_bias', type: bind.TF_ATTR_FLOAT, value: 0 },
    { name: 'cell_clip', type: bind.TF_ATTR_FLOAT, value: -1 },
  ];
  // Inputs: x, cs_prev, h_prev, w, wci, wcf, wco, b. Outputs: i, cs, f, o, ci, co, h.
  const outs = bind.executeOp('LSTMBlockCell', attrs, backend.getInputTensorIds([x, c, h, w, zeros, zeros, zeros, bb]), 7);
  const t = outs.map((m) => backend.createOutputTensor(m));
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
  return cache.get([W_x, W_h, b], () => {
    const [wr, wz, wn] = tf.split(tf.concat([W_x, W_h], 0), 3, 1) as tf.Tensor2D[]; // [D + H, H] each
    const [br, bz, bn] = tf.split(b, 3, 0) as tf.Tensor1D[];
    return [tf.concat([wr!, tf.neg(wz!)], 1), wn!, tf.concat([br!, tf.neg(bz!)], 0), bn!];
  });
}

/**
 * One step of the taught GRU on the tensorflow backend: x `[B, D]`, W_x `[D, 3H]`, W_h `[H, 3H]`,
 * b `[3H]` (gate blocks r, z, n), h `[B, H]` → h' `[B, H]`, yours. `owner` keys the packed weights.
 */
export function gruStepTensorflow(owner: object, x: tf.Tensor2D, W_x: tf.Tensor2D, W_h: tf.Tensor2D, b: tf.Tensor1D, h: tf.Tensor2D): tf.Tensor2D {
  const [w_ru, w_c, b_ru, b_c] = packGru(owner, W_x, W_h, b);
  const backend = tf.backend() as unknown as TFBackend;
  const bind = backend.binding;
  // Inputs: x, h_prev, w_ru, w_c, b_ru, b_c. Outputs: r, u, c, h.
  const outs = bind.executeOp('GRUBlockCell', [{ name: 'T', type: bind.TF_ATTR_TYPE, value: bind.TF_FLOAT }], backend.getInputTensorIds([x, h, w_ru, w_c, b_ru, b_c]), 4);
  const t = outs.map((m) => backend.createOutputTensor(m));
  tf.dispose([t[0]!, t[1]!, t[2]!]);
  return t[3] as tf.Tensor2D;
}
