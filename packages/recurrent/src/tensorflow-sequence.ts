// The recurrent layers on the `tensorflow` backend (tfjs-node), split the way cuDNN and PyTorch split
// them: everything that does not wait for the previous step is one big matmul, and each timestep is a
// handful of TensorFlow ops driven from JS past tfjs's engine (TensorflowOps, ~7 µs an op):
//   forward   Z_x = X·W_x + b for all T steps (one matmul); per step z = h_{t−1}·W_h + Z_x[t] and
//             the cell's elementwise ops;
//   backward  per step the cell's elementwise gradient (LSTMBlockCellGrad, TensorFlow's fused LSTM
//             cell gradient, for the LSTM; TanhGrad / SigmoidGrad and friends otherwise) and
//             ∂h_{t−1} = ∂z·W_hᵀ; then ∂W_x = Xᵀ·∂Z, ∂W_h = H_prevᵀ·∂Z, ∂b = Σ ∂Z and ∂X = ∂Z·W_xᵀ
//             over all T steps at once.
// Why not TensorFlow's BlockLSTM / GRUBlockCell: they run their per-step matmul through Eigen (a
// 32 × 320 × 1024 step took ~0.45 ms inside BlockLSTM and LSTMBlockCell, where MatMul — oneDNN —
// does 32 × 256 × 1024 in 0.14), and BlockLSTMGrad accumulates ∂w with one small matmul per step.
// Without a gradient tape (inference) the per-step values are freed instead of kept for a backward pass.
// Where Attend's native ops are loaded (attend setup tensorflow builds them; @attend/core's
// native/attend_ops.cc) each cell's recurrence is one op each way instead (lstmNative, rnnNative, gruNative,
// gruResetAfterNative below).
// Unmasked sequences only (masked ones take the SIMD layer kernels, ./fused-layer.ts). Equations as
// ./lstm.ts, ./gru.ts (the taught GRU, reset before the candidate's matmul, and the reset-after
// variant) and ./simple-rnn.ts.
import * as tf from '@tensorflow/tfjs-core';
import { columnSums, runTensorflowOp, tensorflowNativeOps, TensorflowOps, tfAttrs, type TFBinding, type TFHandle } from '@attend/core';
import { recordingGradients } from './derived-weights.js';
import { unpackSequence } from './sequence-mask.js';
import { swapFG } from './tensorflow-step.js';

/** Z_x = X·W_x + b: x `[B, T, D]` → `[B, T, kH]` in one matmul. */
function projectAll(x: tf.Tensor3D, W_x: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor3D {
  const [B, T, D] = x.shape;
  return tf.reshape(tf.add(tf.matMul(tf.reshape(x, [B * T, D]), W_x), b), [B, T, W_x.shape[1]]);
}

/** T handles `[B, k]` (freed) as one tfjs tensor `[B·T, k]`, row b·T + t: the layout of x `[B, T, D]` reshaped. */
function rows(ops: TensorflowOps, hs: TFHandle[], B: number, T: number): tf.Tensor2D {
  const k = hs[0]!.shape[1]!;
  const packed = ops.stack(hs, 1); // [B, T, k]
  ops.free(...hs);
  return tf.reshape(ops.wrap(packed), [B * T, k]);
}

/**
 * aᵀ·b `[m, n]` for a `[N, m]`, b `[N, n]` as one raw MatMul: tfjs's matMul with a transposed operand
 * runs TensorFlow's BatchMatMulV2, ~20% slower here.
 */
function matTMul(ops: TensorflowOps, a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const [aId, bId] = ops.ids([a, b]);
  return ops.wrap(ops.matMul(aId!, bId!, true, false));
}

/**
 * The input side's gradients over all steps at once from ∂Z `[B·T, kH]` (the pre-activation
 * gradients, rows as `rows`): [∂X `[B, T, D]`, ∂W_x `[D, kH]`, ∂b `[kH]`].
 */
function inputGrads(ops: TensorflowOps, dZ: tf.Tensor2D, x: tf.Tensor3D, W_x: tf.Tensor2D): [tf.Tensor3D, tf.Tensor2D, tf.Tensor1D] {
  const [B, T, D] = x.shape;
  const [zId, wxId] = ops.ids([dZ, W_x]);
  return [tf.reshape(ops.wrap(ops.matMul(zId!, wxId!, false, true)), [B, T, D]), matTMul(ops, tf.reshape(x, [B * T, D]), dZ), columnSums(dZ)];
}

/** [h0, h_1 … h_{T−1}] as `[B·T, H]` rows (h_{t−1} for every t), from tfjs h0 and the handles of h_1 … h_T. */
function previousStates(ops: TensorflowOps, h0: number, hs: TFHandle[], B: number): tf.Tensor2D {
  const T = hs.length;
  return tf.reshape(ops.wrap(ops.stack([h0, ...hs.slice(0, T - 1)], 1)), [B * T, hs[0]!.shape[1]!]);
}

/**
 * One LSTM layer over a whole sequence on the tensorflow backend: x `[B, T, D]`, W_x `[D, 4H]`,
 * W_h `[H, 4H]`, b `[4H]` (gate order i, f, g, o), h0 and c0 `[B, H]` → `{ hs [B, T, H], h, c [B, H] }`.
 * Differentiable w.r.t. all six inputs.
 */
export function lstmLayerTensorflow(x: tf.Tensor3D, W_x: tf.Tensor2D, W_h: tf.Tensor2D, b: tf.Tensor1D, h0: tf.Tensor2D, c0: tf.Tensor2D): { hs: tf.Tensor3D; h: tf.Tensor2D; c: tf.Tensor2D } {
  return tf.tidy(() => {
    const packed = (tensorflowNativeOps() ? lstmNative : lstmOps)(x, W_x, W_h, b, h0, c0) as tf.Tensor3D; // [B, T + 1, H]: h_1 … h_T, c_T
    const { hs, finals } = unpackSequence(packed, 1);
    return { hs, h: lastStep(hs), c: finals[0]! };
  });
}

const lstmOps = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, W_x, W_h, b, h0, c0, save] = args as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  const [B, T] = x.shape;
  const H = W_h.shape[0];
  const zx = projectAll(x, W_x, b); // [B, T, 4H]
  const ops = new TensorflowOps();
  try {
    const [zxId, whId, h0Id, c0Id] = ops.ids([zx, W_h, h0, c0]);
    const axis1 = ops.int32(1);
    const Zx = ops.unstack(zxId!, T, 1); // T × [B, 4H]
    const [I, F, G, O, C, Co, Hs] = [[], [], [], [], [], [], []] as TFHandle[][];
    let h: number | TFHandle = h0Id!;
    let c: number | TFHandle = c0Id!;
    for (let t = 0; t < T; t++) {
      const zh = ops.matMul(h, whId!); // [B, 4H]
      const z = ops.one('AddV2', [zh, Zx[t]!]);
      ops.free(zh, Zx[t]);
      const [zi, zf, zg, zo] = ops.split(z, 4, axis1); // [B, H] each
      ops.free(z);
      const i = ops.one('Sigmoid', [zi!]);
      const f = ops.one('Sigmoid', [zf!]);
      const g = ops.one('Tanh', [zg!]);
      const o = ops.one('Sigmoid', [zo!]);
      ops.free(zi, zf, zg, zo);
      const fc = ops.one('Mul', [f, c]);
      const ig = ops.one('Mul', [i, g]);
      c = ops.one('AddV2', [fc, ig]); // c_t = f ⊙ c_{t−1} + i ⊙ g
      ops.free(fc, ig);
      const co = ops.one('Tanh', [c]);
      h = ops.one('Mul', [o, co]); // h_t = o ⊙ tanh(c_t)
      I.push(i), F.push(f), G.push(g), O.push(o), C.push(c), Co.push(co), Hs.push(h);
    }
    const value = ops.wrap(ops.stack([...Hs, c], 1)); // [B, T + 1, H]
    if (recordingGradients()) {
      const hPrev = previousStates(ops, h0Id!, Hs, B); // [B·T, H]
      // The per-step gate values for the backward pass, as tfjs tensors (stacking and unstacking them cost more).
      const gates = [I, C, F, O, G, Co].flatMap((s) => s.map((h) => ops.wrap(h))); // 6T × [B, H]: i, c, f, o, g, tanh(c)
      save([x, W_x, W_h, c0, hPrev, ...gates]);
    } // else (no tape: inference) the per-step handles are freed by dispose below
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => lstmOpsGrad(dy as tf.Tensor3D, saved, B, T, H);
    return { value, gradFunc };
  } finally {
    ops.dispose();
  }
}) as Parameters<typeof tf.customGrad>[0]);

/** [h_0, h_1 … h_{T−1}] as `[B·T, H]` rows (h_{t−1} for every t) from h0 `[B, H]` and hs `[B, T, H]`. */
function previousRows(h0: tf.Tensor2D, hs: tf.Tensor3D): tf.Tensor2D {
  const [B, T, H] = hs.shape;
  return tf.reshape(tf.concat([tf.expandDims(h0, 1), tf.slice(hs, [0, 0, 0], [B, T - 1, H])], 1), [B * T, H]);
}

/**
 * The native paths' weight and input gradients from ∂Z_x `[B·T, kH]`: [∂X, ∂W_x, ∂W_h, ∂b], ∂W_h as
 * the column blocks Aᵀ·∂Z_k side by side for `recurrent` = [[A, ∂Z_k] …] (A: the rows that multiply
 * W_h's block, `[B·T, H]` — h_{t−1} from previousRows, or the taught GRU's r ⊙ h_{t−1}).
 */
function nativeInputGrads(dZ: tf.Tensor2D, x: tf.Tensor3D, W_x: tf.Tensor2D, recurrent: [tf.Tensor2D, tf.Tensor2D][]): [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor1D] {
  const ops = new TensorflowOps();
  try {
    const [dx, dWx, db] = inputGrads(ops, dZ, x, W_x);
    const blocks = recurrent.map(([a, dZk]) => matTMul(ops, a, dZk));
    return [dx, dWx, blocks.length === 1 ? blocks[0]! : (tf.concat(blocks, 1) as tf.Tensor2D), db];
  } finally {
    ops.dispose();
  }
}

/**
 * The LSTM with Attend's native ops (@attend/core's native/attend_ops.cc): Z_x = X·W_x + b in one
 * MatMul, then the whole recurrence in one AttendLstmRecurrence call (the per-step product and the
 * cell's elementwise step inside, over TensorFlow's intra-op threads); backward one
 * AttendLstmRecurrenceGrad call for ∂Z over all steps, then the same big matmuls as below.
 */
const lstmNative = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, W_x, W_h, b, h0, c0, save] = args as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  const [B, T] = x.shape;
  const H = W_h.shape[0];
  const zx = projectAll(x, W_x, b); // [B, T, 4H]
  const [value, act, cs] = runTensorflowOp('AttendLstmRecurrence', [zx, W_h, h0, c0], [], 3) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D]; // [B, T + 1, H], [T, B, 4H], [T, B, H]
  zx.dispose();
  if (recordingGradients()) save([x, W_x, W_h, h0, c0, value, act, cs]);
  else tf.dispose([act, cs]);
  const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
    const [xs, Wx, Wh, h0s, c0s, hc, acts, css] = saved as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
    const [dz, dh0, dc0] = runTensorflowOp('AttendLstmRecurrenceGrad', [dy, Wh, c0s, acts, css], [], 3); // [B, T, 4H], [B, H], [B, H]
    const dZ = tf.reshape(dz!, [B * T, 4 * H]) as tf.Tensor2D;
    return [...nativeInputGrads(dZ, xs, Wx, [[previousRows(h0s, tf.slice(hc, [0, 0, 0], [B, T, H])), dZ]]), dh0!, dc0!];
  };
  return { value, gradFunc };
}) as Parameters<typeof tf.customGrad>[0]);

function lstmOpsGrad(dy: tf.Tensor3D, saved: tf.Tensor[], B: number, T: number, H: number): tf.Tensor[] {
  const [x, W_x, W_h, c0, hPrev, ...gates] = saved as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, ...tf.Tensor[]];
  // LSTMBlockCellGrad returns ∂z in TensorFlow's gate order (i, g, f, o): ∂h_{t−1} = ∂z·W_h'ᵀ with W_h's blocks swapped to match.
  const whT = tf.transpose(swapFG(W_h, H)); // [4H, H]
  // Its x, h_prev, w and b inputs are only shape-checked: x [B, 0] makes w [H, 4H].
  const xNone = tf.zeros([B, 0]);
  const zerosH = tf.zeros([H]);
  const zeros4H = tf.zeros([4 * H]);
  const ops = new TensorflowOps();
  try {
    const [dyId, whTId, c0Id, xNoneId, whId, zId, z4Id] = ops.ids([dy, whT, c0, xNone, W_h, zerosH, zeros4H]);
    const gateIds = ops.ids(gates);
    const [I, C, F, O, G, Co] = [0, 1, 2, 3, 4, 5].map((k) => gateIds.slice(k * T, (k + 1) * T));
    const dY = ops.unstack(dyId!, T + 1, 1); // ∂h_1 … ∂h_T, ∂c_T
    const gradAttrs = [ops.float, ops.bool('use_peephole', false)];
    const dz: TFHandle[] = new Array(T);
    let dc = dY[T]!;
    let dhNext: TFHandle | undefined;
    for (let t = T - 1; t >= 0; t--) {
      const dh = dhNext ? ops.one('AddV2', [dY[t]!, dhNext]) : dY[t]!;
      // Inputs: x, cs_prev, h_prev, w, wci, wcf, wco, b, i, cs, f, o, ci, co, cs_grad, h_grad.
      // Outputs: cs_prev_grad, dicfo, wci_grad, wcf_grad, wco_grad.
      const cPrev = t > 0 ? C![t - 1]! : c0Id!;
      const [dcPrev, dicfo, ...peep] = ops.run('LSTMBlockCellGrad', [xNoneId!, cPrev, c0Id!, whId!, zId!, zId!, zId!, z4Id!, I![t]!, C![t]!, F![t]!, O![t]!, G![t]!, Co![t]!, dc, dh], 5, gradAttrs);
      ops.free(...peep, dh, dY[t], dhNext, dc);
      dz[t] = dicfo!;
      dc = dcPrev!;
      dhNext = ops.matMul(dicfo!, whTId!); // ∂h_{t−1} [B, H]
    }
    const dZ = rows(ops, dz, B, T); // [B·T, 4H], TensorFlow's gate order
    const [dx, dWx, db] = inputGrads(ops, dZ, x, swapFG(W_x, H) as tf.Tensor2D);
    return [dx, swapFG(dWx, H), swapFG(matTMul(ops, hPrev, dZ), H), swapFG(db, H), ops.wrap(dhNext!), ops.wrap(dc)];
  } finally {
    ops.dispose();
  }
}

/** The last step of hs `[B, T, H]` as `[B, H]`. */
function lastStep(hs: tf.Tensor3D): tf.Tensor2D {
  const [B, T, H] = hs.shape;
  return tf.reshape(tf.slice(hs, [0, T - 1, 0], [B, 1, H]), [B, H]);
}

/**
 * The vanilla RNN over a whole sequence on the tensorflow backend: x `[B, T, D]`, W_xh `[D, H]`,
 * W_hh `[H, H]`, b `[H]`, h0 `[B, H]` → `{ hs [B, T, H], h [B, H] }`; h_t = act(h_{t−1}·W_hh + x_t·W_xh + b).
 * Three ops a step each way (MatMul, AddV2, Tanh | Relu; AddV2, TanhGrad | ReluGrad, MatMul).
 * Differentiable w.r.t. all five inputs.
 */
export function rnnLayerTensorflow(x: tf.Tensor3D, W_xh: tf.Tensor2D, W_hh: tf.Tensor2D, b: tf.Tensor1D, h0: tf.Tensor2D, activation: 'tanh' | 'relu'): { hs: tf.Tensor3D; h: tf.Tensor2D } {
  return tf.tidy(() => {
    const native = tensorflowNativeOps();
    const hs = (activation === 'tanh' ? (native ? rnnTanhNative : rnnTanhOps) : native ? rnnReluNative : rnnReluOps)(x, W_xh, W_hh, b, h0) as tf.Tensor3D;
    return { hs, h: lastStep(hs) };
  });
}

function rnnOps(activation: 'tanh' | 'relu') {
  const act = activation === 'tanh' ? 'Tanh' : 'Relu';
  return tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, W_xh, W_hh, b, h0, save] = args as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor2D, tf.GradSaveFunc];
    const [B, T] = x.shape;
    const zx = projectAll(x, W_xh, b); // [B, T, H]
    const ops = new TensorflowOps();
    try {
      const [zxId, whId, h0Id] = ops.ids([zx, W_hh, h0]);
      const Zx = ops.unstack(zxId!, T, 1); // T × [B, H]
      const Hs: TFHandle[] = [];
      let h: number | TFHandle = h0Id!;
      for (let t = 0; t < T; t++) {
        const zh = ops.matMul(h, whId!);
        const z = ops.one('AddV2', [zh, Zx[t]!]);
        ops.free(zh, Zx[t]);
        h = ops.one(act, [z]); // h_t = act(z_t)
        ops.free(z);
        Hs.push(h);
      }
      const value = ops.wrap(ops.stack(Hs, 1)); // [B, T, H]
      if (recordingGradients()) save([x, W_xh, W_hh, previousStates(ops, h0Id!, Hs, B), ...Hs.map((hh) => ops.wrap(hh))]);
      const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => rnnOpsGrad(activation, dy as tf.Tensor3D, saved);
      return { value, gradFunc };
    } finally {
      ops.dispose();
    }
  }) as Parameters<typeof tf.customGrad>[0]);
}
const rnnTanhOps = rnnOps('tanh');
const rnnReluOps = rnnOps('relu');

/** The vanilla RNN with Attend's native ops: one AttendRnnRecurrence call each way (see lstmNative). */
function rnnNative(activation: 'tanh' | 'relu') {
  const attrs = (bind: TFBinding) => tfAttrs(bind, { bool: { relu: activation === 'relu' } });
  return tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, W_xh, W_hh, b, h0, save] = args as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor2D, tf.GradSaveFunc];
    const [B, T] = x.shape;
    const H = W_hh.shape[0];
    const zx = projectAll(x, W_xh, b); // [B, T, H]
    const [value] = runTensorflowOp('AttendRnnRecurrence', [zx, W_hh, h0], attrs, 1) as [tf.Tensor3D]; // [B, T, H]
    zx.dispose();
    if (recordingGradients()) save([x, W_xh, W_hh, h0, value]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, Wx, Wh, h0s, hs] = saved as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor3D];
      const [dz, dh0] = runTensorflowOp('AttendRnnRecurrenceGrad', [dy, Wh, hs], attrs, 2); // [B, T, H], [B, H]
      const dZ = tf.reshape(dz!, [B * T, H]) as tf.Tensor2D;
      return [...nativeInputGrads(dZ, xs, Wx, [[previousRows(h0s, hs), dZ]]), dh0!];
    };
    return { value, gradFunc };
  }) as Parameters<typeof tf.customGrad>[0]);
}
const rnnTanhNative = rnnNative('tanh');
const rnnReluNative = rnnNative('relu');

function rnnOpsGrad(activation: 'tanh' | 'relu', dy: tf.Tensor3D, saved: tf.Tensor[]): tf.Tensor[] {
  const [x, W_xh, W_hh, hPrev, ...hs] = saved as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, ...tf.Tensor[]];
  const [B, T] = x.shape;
  const ops = new TensorflowOps();
  try {
    const [dyId, whId] = ops.ids([dy, W_hh]);
    const Hs = ops.ids(hs);
    const dY = ops.unstack(dyId!, T, 1); // T × [B, H]
    const dz: TFHandle[] = new Array(T);
    let dhNext: TFHandle | undefined;
    for (let t = T - 1; t >= 0; t--) {
      const dh = dhNext ? ops.one('AddV2', [dY[t]!, dhNext]) : dY[t]!;
      // ∂z = ∂h ⊙ (1 − h²) | ∂h ⊙ [h > 0]
      dz[t] = activation === 'tanh' ? ops.one('TanhGrad', [Hs[t]!, dh]) : ops.one('ReluGrad', [dh, Hs[t]!]);
      ops.free(dh, dY[t], dhNext);
      dhNext = ops.matMul(dz[t]!, whId!, false, true); // ∂h_{t−1} = ∂z·W_hhᵀ
    }
    const dZ = rows(ops, dz, B, T); // [B·T, H]
    const [dx, dWx, db] = inputGrads(ops, dZ, x, W_xh);
    return [dx, dWx, matTMul(ops, hPrev, dZ), db, ops.wrap(dhNext!)];
  } finally {
    ops.dispose();
  }
}

/**
 * The taught GRU (reset before the candidate's matmul, z weighting the new candidate; ./gru.ts) over
 * a whole sequence on the tensorflow backend: x `[B, T, D]`, W_x `[D, 3H]`, W_h `[H, 3H]`, b `[3H]`
 * (gate blocks r, z, n), h0 `[B, H]` → `{ hs [B, T, H], h [B, H] }`. Per step:
 *   [r, z] = σ(h_{t−1}·W_h[:, r z] + Z_x[t, r z])     n = tanh((r ⊙ h_{t−1})·W_h[:, n] + Z_x[t, n])
 *   h_t = h_{t−1} + z ⊙ (n − h_{t−1})
 * Differentiable w.r.t. all five inputs.
 */
export function gruLayerTensorflow(x: tf.Tensor3D, W_x: tf.Tensor2D, W_h: tf.Tensor2D, b: tf.Tensor1D, h0: tf.Tensor2D): { hs: tf.Tensor3D; h: tf.Tensor2D } {
  return tf.tidy(() => {
    const hs = (tensorflowNativeOps() ? gruNative : gruOps)(x, W_x, W_h, b, h0) as tf.Tensor3D;
    return { hs, h: lastStep(hs) };
  });
}

/** W `[·, 3H]` split into its r z blocks `[·, 2H]` and its n block `[·, H]`. */
function splitRZ<T extends tf.Tensor>(w: T, H: number): [T, T] {
  const [rz, n] = tf.split(w, [2 * H, H], w.rank - 1);
  return [rz as T, n as T];
}

/** Both GRUs' input projections: [x·W_x[:, r z] + b[r z] `[B, T, 2H]`, x·W_x[:, n] + b[n] `[B, T, H]`]. */
function projectGru(x: tf.Tensor3D, W_x: tf.Tensor2D, b: tf.Tensor1D, H: number): [tf.Tensor3D, tf.Tensor3D] {
  const [W_rz, W_n] = splitRZ(W_x, H);
  const [b_rz, b_n] = splitRZ(b, H);
  return [projectAll(x, W_rz, b_rz), projectAll(x, W_n, b_n)];
}

/** Both GRUs' state update h_t = h + z ⊙ (n − h): h_t, and n − h (kept for ∂z). */
function gruUpdate(ops: TensorflowOps, h: number | TFHandle, z: TFHandle, n: TFHandle): { h: TFHandle; nMinusH: TFHandle } {
  const nMinusH = ops.one('Sub', [n, h]);
  const zd = ops.one('Mul', [z, nMinusH]);
  const next = ops.one('AddV2', [h, zd]);
  ops.free(zd);
  return { h: next, nMinusH };
}

/**
 * Back through gruUpdate and n = tanh(n̄), from the full ∂h_t: ∂z = ∂h ⊙ (n − h), ∂h ⊙ (1 − z) (the
 * direct part of ∂h_{t−1}) and ∂n̄ = ∂n ⊙ (1 − n²) with ∂n = ∂h ⊙ z.
 */
function gruUpdateGrad(ops: TensorflowOps, dh: TFHandle, z: number, n: number, nMinusH: number): { dz: TFHandle; dhDirect: TFHandle; dnPre: TFHandle } {
  const dz = ops.one('Mul', [dh, nMinusH]);
  const dn = ops.one('Mul', [dh, z]);
  const dhDirect = ops.one('Sub', [dh, dn]);
  const dnPre = ops.one('TanhGrad', [n, dn]);
  ops.free(dn);
  return { dz, dhDirect, dnPre };
}

const gruOps = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, W_x, W_h, b, h0, save] = args as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor2D, tf.GradSaveFunc];
  const [B, T] = x.shape;
  const H = W_h.shape[0];
  const [W_hrz, W_hn] = splitRZ(W_h, H);
  const [zrz, zn] = projectGru(x, W_x, b, H); // [B, T, 2H], [B, T, H]
  const ops = new TensorflowOps();
  try {
    const [zrzId, znId, whrzId, whnId, h0Id] = ops.ids([zrz, zn, W_hrz, W_hn, h0]);
    const axis1 = ops.int32(1);
    const Zrz = ops.unstack(zrzId!, T, 1); // T × [B, 2H]
    const Zn = ops.unstack(znId!, T, 1); // T × [B, H]
    const [S, R, Z, N, Dn, RH, Hs] = [[], [], [], [], [], [], []] as TFHandle[][];
    let h: number | TFHandle = h0Id!;
    for (let t = 0; t < T; t++) {
      const a = ops.matMul(h, whrzId!); // [B, 2H]
      const pre = ops.one('AddV2', [a, Zrz[t]!]);
      const s = ops.one('Sigmoid', [pre]); // [r, z] [B, 2H], kept for the backward pass's one SigmoidGrad
      const [r, z] = ops.split(s, 2, axis1); // [B, H] each
      ops.free(a, pre, Zrz[t]);
      const rh = ops.one('Mul', [r!, h]); // r ⊙ h_{t−1}
      const nh = ops.matMul(rh, whnId!);
      const nPre = ops.one('AddV2', [nh, Zn[t]!]);
      const n = ops.one('Tanh', [nPre]);
      ops.free(nh, nPre, Zn[t]);
      const next = gruUpdate(ops, h, z!, n);
      h = next.h;
      S.push(s), R.push(r!), Z.push(z!), N.push(n), Dn.push(next.nMinusH), RH.push(rh), Hs.push(h);
    }
    const value = ops.wrap(ops.stack(Hs, 1)); // [B, T, H]
    if (recordingGradients()) {
      const hPrev = previousStates(ops, h0Id!, Hs, B); // [B·T, H]
      const rhAll = rows(ops, RH, B, T); // [B·T, H]: r_t ⊙ h_{t−1}
      save([x, W_x, W_h, h0, hPrev, rhAll, ...[S, R, Z, N, Dn, Hs].flatMap((l) => l.map((hh) => ops.wrap(hh)))]);
    }
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => gruOpsGrad(dy as tf.Tensor3D, saved);
    return { value, gradFunc };
  } finally {
    ops.dispose();
  }
}) as Parameters<typeof tf.customGrad>[0]);

/** The taught GRU with Attend's native ops: one AttendGruRecurrence call each way (see lstmNative). */
const gruNative = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, W_x, W_h, b, h0, save] = args as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor2D, tf.GradSaveFunc];
  const [B, T] = x.shape;
  const H = W_h.shape[0];
  const zx = projectAll(x, W_x, b); // [B, T, 3H]
  const [value, act, rh] = runTensorflowOp('AttendGruRecurrence', [zx, W_h, h0], [], 3) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D]; // [B, T, H], [T, B, 3H] (r z n), [B, T, H] (r ⊙ h_{t−1})
  zx.dispose();
  if (recordingGradients()) save([x, W_x, W_h, h0, value, act, rh]);
  else tf.dispose([act, rh]);
  const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
    const [xs, Wx, Wh, h0s, hs, acts, rhs] = saved as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
    const [dz, dh0] = runTensorflowOp('AttendGruRecurrenceGrad', [dy, Wh, h0s, hs, acts], [], 2); // [B, T, 3H] (r̄ z̄ n̄), [B, H]
    const dZ = tf.reshape(dz!, [B * T, 3 * H]) as tf.Tensor2D;
    const [dZrz, dZn] = splitRZ(dZ, H);
    return [...nativeInputGrads(dZ, xs, Wx, [[previousRows(h0s, hs), dZrz], [tf.reshape(rhs, [B * T, H]) as tf.Tensor2D, dZn]]), dh0!];
  };
  return { value, gradFunc };
}) as Parameters<typeof tf.customGrad>[0]);

function gruOpsGrad(dy: tf.Tensor3D, saved: tf.Tensor[]): tf.Tensor[] {
  const [x, W_x, W_h, h0, hPrev, rhAll, ...perStep] = saved as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, ...tf.Tensor[]];
  const [B, T] = x.shape;
  const H = W_h.shape[0];
  const [W_hrz, W_hn] = splitRZ(W_h, H);
  const ops = new TensorflowOps();
  try {
    const [dyId, whrzId, whnId, h0Id] = ops.ids([dy, W_hrz, W_hn, h0]);
    const ids = ops.ids(perStep);
    const [S, R, Z, N, Dn, Hs] = [0, 1, 2, 3, 4, 5].map((k) => ids.slice(k * T, (k + 1) * T));
    const axis1 = ops.int32(1);
    const dY = ops.unstack(dyId!, T, 1); // T × [B, H]
    const dRZ: TFHandle[] = new Array(T);
    const dN: TFHandle[] = new Array(T);
    let dh = dY[T - 1]!; // ∂h_t in full: from the output and from step t + 1
    for (let t = T - 1; t >= 0; t--) {
      const hp = t > 0 ? Hs![t - 1]! : h0Id!;
      const { dz, dhDirect: dh1, dnPre } = gruUpdateGrad(ops, dh, Z![t]!, N![t]!, Dn![t]!);
      const drh = ops.matMul(dnPre, whnId!, false, true); // ∂(r ⊙ h) = ∂n̄·W_hnᵀ
      const dr = ops.one('Mul', [drh, hp]);
      const dh2 = ops.one('Mul', [drh, R![t]!]);
      const drz = ops.concat([dr, dz], axis1); // ∂[r, z] [B, 2H]
      const drzPre = ops.one('SigmoidGrad', [S![t]!, drz]); // ∂[r̄, z̄]
      const dh3 = ops.matMul(drzPre, whrzId!, false, true);
      ops.free(dh, dz, drh, dr, drz);
      // ∂h_{t−1}: through the state, the reset, the gates, plus the output's own gradient at t − 1.
      const terms = t > 0 ? [dh1, dh2, dh3, dY[t - 1]!] : [dh1, dh2, dh3];
      dh = ops.addN(terms);
      ops.free(...terms);
      dRZ[t] = drzPre;
      dN[t] = dnPre;
    }
    const dZrz = rows(ops, dRZ, B, T); // [B·T, 2H]
    const dZn = rows(ops, dN, B, T); // [B·T, H]
    const dZ = tf.concat([dZrz, dZn], 1); // [B·T, 3H]
    const [dx, dWx, db] = inputGrads(ops, dZ, x, W_x);
    const dWh = tf.concat([matTMul(ops, hPrev, dZrz), matTMul(ops, rhAll, dZn)], 1); // [H, 3H]
    return [dx, dWx, dWh, db, ops.wrap(dh)];
  } finally {
    ops.dispose();
  }
}

/**
 * The reset-after GRU (PyTorch's, Keras's and cuDNN's; ./gru.ts with `resetAfter: true`) over a whole
 * sequence on the tensorflow backend: x `[B, T, D]`, W_x `[D, 3H]`, W_h `[H, 3H]`, b_x and b_h `[3H]`
 * (gate blocks r, z, n), h0 `[B, H]` → `{ hs [B, T, H], h [B, H] }`. One recurrent matmul a step:
 *   [a_r, a_z, a_n] = h_{t−1}·W_h + b_h     [r, z] = σ(Z_x[t, r z] + [a_r, a_z])
 *   n = tanh(Z_x[t, n] + r ⊙ a_n)            h_t = h_{t−1} + z ⊙ (n − h_{t−1})
 * Differentiable w.r.t. all six inputs.
 */
export function gruResetAfterLayerTensorflow(x: tf.Tensor3D, W_x: tf.Tensor2D, W_h: tf.Tensor2D, b_x: tf.Tensor1D, b_h: tf.Tensor1D, h0: tf.Tensor2D): { hs: tf.Tensor3D; h: tf.Tensor2D } {
  return tf.tidy(() => {
    const hs = (tensorflowNativeOps() ? gruResetAfterNative : gruResetAfterOps)(x, W_x, W_h, b_x, b_h, h0) as tf.Tensor3D;
    return { hs, h: lastStep(hs) };
  });
}

const gruResetAfterOps = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, W_x, W_h, b_x, b_h, h0, save] = args as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor1D, tf.Tensor2D, tf.GradSaveFunc];
  const [B, T] = x.shape;
  const H = W_h.shape[0];
  const [zrz, zn] = projectGru(x, W_x, b_x, H); // [B, T, 2H], [B, T, H]
  const ops = new TensorflowOps();
  try {
    const [zrzId, znId, whId, bhId, h0Id] = ops.ids([zrz, zn, W_h, b_h, h0]);
    const axis1 = ops.int32(1);
    const sizes = ops.int32([2 * H, H]);
    const splitVAttrs = tfAttrs(ops.bind, { type: { T: 'float32', Tlen: 'int32' }, int: { num_split: 2 } });
    const Zrz = ops.unstack(zrzId!, T, 1); // T × [B, 2H]
    const Zn = ops.unstack(znId!, T, 1); // T × [B, H]
    const [S, R, Z, N, An, Dn, Hs] = [[], [], [], [], [], [], []] as TFHandle[][];
    let h: number | TFHandle = h0Id!;
    for (let t = 0; t < T; t++) {
      const mm = ops.matMul(h, whId!);
      const a = ops.one('AddV2', [mm, bhId!]); // h_{t−1}·W_h + b_h [B, 3H]
      const [arz, an] = ops.run('SplitV', [a, sizes, axis1], 2, splitVAttrs); // [B, 2H], [B, H]
      ops.free(mm, a);
      const pre = ops.one('AddV2', [arz!, Zrz[t]!]);
      const s = ops.one('Sigmoid', [pre]); // [r, z]
      const [r, z] = ops.split(s, 2, axis1);
      ops.free(arz, pre, Zrz[t]);
      const m = ops.one('Mul', [r!, an!]); // r ⊙ a_n
      const nPre = ops.one('AddV2', [Zn[t]!, m]);
      const n = ops.one('Tanh', [nPre]);
      ops.free(m, nPre, Zn[t]);
      const next = gruUpdate(ops, h, z!, n);
      h = next.h;
      S.push(s), R.push(r!), Z.push(z!), N.push(n), An.push(an!), Dn.push(next.nMinusH), Hs.push(h);
    }
    const value = ops.wrap(ops.stack(Hs, 1)); // [B, T, H]
    if (recordingGradients()) save([x, W_x, W_h, previousStates(ops, h0Id!, Hs, B), ...[S, R, Z, N, An, Dn].flatMap((l) => l.map((hh) => ops.wrap(hh)))]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => gruResetAfterOpsGrad(dy as tf.Tensor3D, saved);
    return { value, gradFunc };
  } finally {
    ops.dispose();
  }
}) as Parameters<typeof tf.customGrad>[0]);

/** The reset-after GRU with Attend's native ops: one AttendGruResetAfterRecurrence call each way (see lstmNative). */
const gruResetAfterNative = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, W_x, W_h, b_x, b_h, h0, save] = args as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor1D, tf.Tensor2D, tf.GradSaveFunc];
  const [B, T] = x.shape;
  const H = W_h.shape[0];
  const zx = projectAll(x, W_x, b_x); // [B, T, 3H]
  const [value, act, an] = runTensorflowOp('AttendGruResetAfterRecurrence', [zx, W_h, b_h, h0], [], 3) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D]; // [B, T, H], [T, B, 3H] (r z n), [T, B, H] (a_n)
  zx.dispose();
  if (recordingGradients()) save([x, W_x, W_h, h0, value, act, an]);
  else tf.dispose([act, an]);
  const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
    const [xs, Wx, Wh, h0s, hs, acts, ans] = saved as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
    const [da, dn, dh0] = runTensorflowOp('AttendGruResetAfterRecurrenceGrad', [dy, Wh, h0s, hs, acts, ans], [], 3); // [B, T, 3H], [B, T, H], [B, H]
    const dA = tf.reshape(da!, [B * T, 3 * H]) as tf.Tensor2D;
    const dZ = tf.concat([splitRZ(dA, H)[0], tf.reshape(dn!, [B * T, H])], 1) as tf.Tensor2D; // ∂Z_x: r̄, z̄ shared with ∂a; n̄ its own
    const ops = new TensorflowOps();
    try {
      const [dx, dWx, dbx] = inputGrads(ops, dZ, xs, Wx);
      return [dx, dWx, matTMul(ops, previousRows(h0s, hs), dA), dbx, columnSums(dA), dh0!];
    } finally {
      ops.dispose();
    }
  };
  return { value, gradFunc };
}) as Parameters<typeof tf.customGrad>[0]);

function gruResetAfterOpsGrad(dy: tf.Tensor3D, saved: tf.Tensor[]): tf.Tensor[] {
  const [x, W_x, W_h, hPrev, ...perStep] = saved as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, ...tf.Tensor[]];
  const [B, T] = x.shape;
  const H = W_h.shape[0];
  const ops = new TensorflowOps();
  try {
    const [dyId, whId] = ops.ids([dy, W_h]);
    const ids = ops.ids(perStep);
    const [S, R, Z, N, An, Dn] = [0, 1, 2, 3, 4, 5].map((k) => ids.slice(k * T, (k + 1) * T));
    const axis1 = ops.int32(1);
    const dY = ops.unstack(dyId!, T, 1); // T × [B, H]
    const dA: TFHandle[] = new Array(T); // ∂(h·W_h + b_h) [B, 3H]
    const dN: TFHandle[] = new Array(T); // ∂n̄ [B, H]
    let dh = dY[T - 1]!;
    for (let t = T - 1; t >= 0; t--) {
      const { dz, dhDirect: dh1, dnPre } = gruUpdateGrad(ops, dh, Z![t]!, N![t]!, Dn![t]!);
      const dan = ops.one('Mul', [dnPre, R![t]!]); // ∂a_n = ∂n̄ ⊙ r
      const dr = ops.one('Mul', [dnPre, An![t]!]); // ∂r = ∂n̄ ⊙ a_n
      const drz = ops.concat([dr, dz], axis1);
      const drzPre = ops.one('SigmoidGrad', [S![t]!, drz]); // ∂[r̄, z̄]
      const da = ops.concat([drzPre, dan], axis1); // ∂a [B, 3H]
      const dh2 = ops.matMul(da, whId!, false, true); // ∂a·W_hᵀ
      ops.free(dh, dz, dan, dr, drz, drzPre);
      const terms = t > 0 ? [dh1, dh2, dY[t - 1]!] : [dh1, dh2];
      dh = ops.addN(terms); // ∂h_{t−1}
      ops.free(...terms);
      dA[t] = da;
      dN[t] = dnPre;
    }
    const dAall = rows(ops, dA, B, T); // [B·T, 3H]
    const dNall = rows(ops, dN, B, T); // [B·T, H]
    const dZ = tf.concat([tf.slice(dAall, [0, 0], [B * T, 2 * H]), dNall], 1); // ∂Z_x [B·T, 3H]: r̄, z̄ shared with ∂a; n̄ its own
    const [dx, dWx, dbx] = inputGrads(ops, dZ, x, W_x);
    return [dx, dWx, matTMul(ops, hPrev, dAall), dbx, columnSums(dAall), ops.wrap(dh)];
  } finally {
    ops.dispose();
  }
}
