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
import { runTensorflowOp, tensorflowAvailable, type TFBackend, type TFBinding } from '@attend/core';
import { DerivedWeights, recordingGradients } from './derived-weights.js';

export { tensorflowAvailable };

/** The attribute T = float32 that TensorFlow's RNN cell ops take. */
const floatT = (bind: TFBinding) => [{ name: 'T', type: bind.TF_ATTR_TYPE, value: bind.TF_FLOAT }];

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
  // Inputs: x, cs_prev, h_prev, w, wci, wcf, wco, b. Outputs: i, cs, f, o, ci, co, h.
  const t = runTensorflowOp('LSTMBlockCell', [x, c, h, w, zeros, zeros, zeros, bb], (bind) => [
    { name: 'T', type: bind.TF_ATTR_TYPE, value: bind.TF_FLOAT },
    { name: 'use_peephole', type: bind.TF_ATTR_BOOL, value: false },
    { name: 'forget_bias', type: bind.TF_ATTR_FLOAT, value: 0 },
    { name: 'cell_clip', type: bind.TF_ATTR_FLOAT, value: -1 },
  ], 7);
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

/** The packing itself (uncached; also inside the training op's custom gradient). */
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

/**
 * The taught GRU over a whole sequence on the tensorflow backend, for training: one GRUBlockCell op
 * per timestep forward and one GRUBlockCellGrad per timestep backward (TensorFlow's fused GRU cell
 * and its gradient, the kernels behind tf.raw_ops.GRUBlockCell / GRUBlockCellGrad), with the weight
 * gradients of all T steps in two matmuls after the loop:
 *   ∂w_ru = Σ_t [x_t, h_{t−1}]ᵀ·∂[r̄, ū]_t        ∂w_c = Σ_t [x_t, r_t ⊙ h_{t−1}]ᵀ·∂c̄_t
 * (TensorFlow's own Python gradient of GRUBlockCell does the same per step). x `[B, T, D]`, W_x
 * `[D, 3H]`, W_h `[H, 3H]`, b `[3H]` (gate blocks r, z, n), h0 `[B, H]` → `{ hs [B, T, H], h [B, H] }`.
 * Differentiable w.r.t. all five inputs. Unmasked only.
 */
export function gruLayerTensorflow(x: tf.Tensor3D, W_x: tf.Tensor2D, W_h: tf.Tensor2D, b: tf.Tensor1D, h0: tf.Tensor2D): { hs: tf.Tensor3D; h: tf.Tensor2D } {
  return tf.tidy(() => {
    const [B, T, H] = [x.shape[0], x.shape[1], W_h.shape[0]];
    const hs = blockGru(x, W_x, W_h, b, h0) as tf.Tensor3D; // [B, T, H]
    return { hs, h: tf.reshape(tf.slice(hs, [0, T - 1, 0], [B, 1, H]), [B, H]) as tf.Tensor2D };
  });
}

const blockGru = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, W_x, W_h, b, h0, save] = args as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor2D, tf.GradSaveFunc];
  const [, T, D] = x.shape;
  const H = W_h.shape[0];
  // w_ru `[D + H, 2H]` = [W_r, −W_z] and b_ru `[2H]`: TensorFlow's u = σ(ū) weights the OLD state,
  // ours z the new candidate, so ū = −z̄. w_c `[D + H, H]`, b_c `[H]`: the candidate's.
  const [w_ru, wn, b_ru, bn] = gruPacking(W_x, W_h, b);
  const xs = tf.unstack(x, 1) as tf.Tensor2D[]; // T × [B, D]
  const rs: tf.Tensor[] = [];
  const us: tf.Tensor[] = [];
  const cs: tf.Tensor[] = [];
  const hs: tf.Tensor[] = [];
  let h: tf.Tensor = h0;
  for (let t = 0; t < T; t++) {
    // Inputs: x, h_prev, w_ru, w_c, b_ru, b_c. Outputs: r, u, c, h.
    const [r, u, c, hNext] = runTensorflowOp('GRUBlockCell', [xs[t]!, h, w_ru, wn, b_ru, bn], floatT, 4);
    rs.push(r!);
    us.push(u!);
    cs.push(c!);
    hs.push(hNext!);
    h = hNext!;
  }
  save([x, h0, w_ru, wn, b_ru, bn, ...rs, ...us, ...cs, ...hs]);
  const value = tf.stack(hs, 1); // [B, T, H]
  const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
    const [sx, sh0, sw_ru, sw_c, sb_ru, sb_c] = saved as tf.Tensor2D[];
    const r = saved.slice(6, 6 + T);
    const u = saved.slice(6 + T, 6 + 2 * T);
    const c = saved.slice(6 + 2 * T, 6 + 3 * T);
    const hPrev = [sh0!, ...saved.slice(6 + 3 * T, 6 + 4 * T - 1)]; // h_{t−1} for t = 0 … T − 1
    const sxs = tf.unstack(sx!, 1) as tf.Tensor2D[]; // T × [B, D]
    const dys = tf.unstack(dy, 1); // T × [B, H]
    const dxs: tf.Tensor[] = new Array(T);
    const dcs: tf.Tensor[] = new Array(T);
    const drus: tf.Tensor[] = new Array(T);
    let dh: tf.Tensor | undefined;
    for (let t = T - 1; t >= 0; t--) {
      const dht = dh ? tf.add(dys[t]!, dh) : dys[t]!; // [B, H]
      // Inputs: x, h_prev, w_ru, w_c, b_ru, b_c, r, u, c, d_h. Outputs: d_x, d_h_prev, d_c_bar, d_r_bar_u_bar.
      const [dx, dhPrev, dc, dru] = runTensorflowOp('GRUBlockCellGrad', [sxs[t]!, hPrev[t]!, sw_ru!, sw_c!, sb_ru!, sb_c!, r[t]!, u[t]!, c[t]!, dht], floatT, 4);
      dxs[t] = dx!;
      dcs[t] = dc!;
      drus[t] = dru!;
      dh = dhPrev!;
    }
    const xAll = tf.concat(sxs, 0); // [T·B, D]
    const hAll = tf.concat(hPrev, 0); // [T·B, H]
    const rhAll = tf.mul(tf.concat(r, 0), hAll); // [T·B, H]: r_t ⊙ h_{t−1}
    const dRU = tf.concat(drus, 0); // [T·B, 2H]
    const dC = tf.concat(dcs, 0); // [T·B, H]
    const dw_ru = tf.matMul(tf.concat([xAll, hAll], 1), dRU, true, false); // [D + H, 2H]
    const dw_c = tf.matMul(tf.concat([xAll, rhAll], 1), dC, true, false); // [D + H, H]
    const db_ru = tf.sum(dRU, 0); // [2H]
    const db_c = tf.sum(dC, 0); // [H]
    // Back to ours: r as it is, z negated, n = the candidate's.
    const dW = tf.concat([tf.slice(dw_ru, [0, 0], [D + H, H]), tf.neg(tf.slice(dw_ru, [0, H], [D + H, H])), dw_c], 1); // [D + H, 3H]
    return [
      tf.stack(dxs, 1), // [B, T, D]
      tf.slice(dW, [0, 0], [D, 3 * H]),
      tf.slice(dW, [D, 0], [H, 3 * H]),
      tf.concat([tf.slice(db_ru, [0], [H]), tf.neg(tf.slice(db_ru, [H], [H])), db_c], 0),
      dh!,
    ];
  };
  return { value, gradFunc };
}) as Parameters<typeof tf.customGrad>[0]);
