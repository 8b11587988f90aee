// The vanilla (Elman) RNN over a whole sequence with a hand-written backward pass (BPTT, Werbos
// 1990, "Backpropagation through time: what it does and how to do it"), registered through
// tf.customGrad — the counterpart of ./lstm-sequence.ts. Same equations as ./simple-rnn.ts:
//   forward   a_t = xp_t + h_{t−1}·W_hh      (xp = x·W_xh + b, projected for all steps at once)
//             h_t = act(a_t)                  act ∈ {tanh, relu}
//   backward  dh_t = dy_t + da_{t+1}·W_hhᵀ     (from the output, and from step t + 1)
//             da_t = dh_t⊙act'(a_t)           tanh: 1 − h_t²;  relu: [h_t > 0]  (all steps at once)
//             dxp_t = da_t;  dh_0 = da_1·W_hhᵀ;  dW_hh = Σ_t h_{t−1}ᵀ·da_t
// dW_hh is ONE matmul over all timesteps at the end; dW_xh, db and dx come from autodiff of the
// input projection (also one matmul each). With a mask, padded steps carry the state through
// (./sequence-mask.ts). Used by RNNLayer for every vanilla RNN sequence (as one registered kernel
// each way where that wins: ./fused-sequence.ts).
import * as tf from '@tensorflow/tfjs-core';
import type { Activation } from './cell.js';
import { fusedRnnPacked, fusedSequenceAvailable } from './fused-sequence.js';
import { carry, maskOutput, splitArgs, timeMajorMask, unpackSequence } from './sequence-mask.js';

/**
 * Runs the vanilla RNN recurrence over precomputed input projections.
 * xp `[B, T, H]` (= x·W_xh + b), W_hh `[H, H]`, h0 `[B, H]`, optional mask `[B, T]` →
 * `{ hs [B, T, H] (zeros at padding), h [B, H] (the final state) }`; differentiable w.r.t. xp, W_hh and h0.
 */
export function rnnSequence(
  xp: tf.Tensor3D,
  W_hh: tf.Tensor2D,
  h0: tf.Tensor2D,
  activation: Activation = 'tanh',
  mask?: tf.Tensor2D,
): { hs: tf.Tensor3D; h: tf.Tensor2D } {
  return tf.tidy(() => {
    const f = activation === 'relu' ? rnnRelu : rnnTanh;
    const packed = fusedSequenceAvailable(W_hh.shape[0])
      ? fusedRnnPacked(xp, W_hh, h0, activation, mask) // one registered kernel each way (./fused-sequence.ts)
      : ((mask ? f(xp, W_hh, h0, timeMajorMask(mask)) : f(xp, W_hh, h0)) as tf.Tensor3D); // [B, T + 1, H]
    const { hs, finals } = unpackSequence(packed, 1);
    return { hs, h: finals[0]! };
  });
}

/** The custom gradient for one activation: (xp, W_hh, h0[, M `[T, B, 1]`]) → `[B, T + 1, H]` (y_1..y_T, h_T). */
function rnnPacked(activation: Activation) {
  const act = activation === 'relu' ? tf.relu : tf.tanh;
  // act'(a) from the activation's output ĥ = act(a), for all steps at once.
  const actGrad = activation === 'relu' ? (y: tf.Tensor) => tf.step(y) : (y: tf.Tensor) => tf.sub(1, tf.square(y));
  return tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [inputs, save] = splitArgs(args);
    const [xp, W_hh, h0, M] = inputs as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor3D | undefined];
    const [B, T, H] = xp.shape;
    const xs = tf.unstack(xp, 1) as tf.Tensor2D[]; // T × [B, H]
    const ms = M ? (tf.unstack(M) as tf.Tensor2D[]) : undefined; // T × [B, 1]
    let h = h0;
    const hs: tf.Tensor2D[] = [h0]; // h_0..h_T (the carried states)
    const cands: tf.Tensor2D[] = []; // ĥ_t = act(a_t)
    const ys: tf.Tensor2D[] = [];
    for (let t = 0; t < T; t++) {
      const m = ms?.[t];
      const hc = act(tf.add(xs[t]!, tf.matMul(h, W_hh))) as tf.Tensor2D; // [B, H]
      ys.push(maskOutput(m, hc));
      h = carry(m, hc, h);
      cands.push(hc);
      hs.push(h);
    }
    const HS = tf.stack(hs); // [T + 1, B, H]
    // Unmasked, the candidates ARE h_1..h_T: saved once.
    save(M ? [W_hh, HS, tf.stack(cands), M] : [W_hh, HS]);
    const value = tf.stack([...ys, h], 1); // [B, T + 1, H]
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [Wh, S, C, Ms] = saved as [tf.Tensor2D, tf.Tensor3D, tf.Tensor3D | undefined, tf.Tensor3D | undefined];
      const dys = tf.unstack(dy, 1) as tf.Tensor2D[]; // T + 1 × [B, H]
      // Everything that does not depend on the incoming gradient, for all steps in one op each:
      // m⊙act'(a_t), and the carry factor 1 − m.
      const dAct = actGrad(C ?? tf.slice(S, [1, 0, 0], [T, B, H])); // [T, B, H]
      const gs = tf.unstack(Ms ? tf.mul(Ms, dAct) : dAct) as tf.Tensor2D[]; // T × [B, H]
      const keeps = Ms ? (tf.unstack(tf.sub(1, Ms)) as tf.Tensor2D[]) : undefined; // T × [B, 1]
      let dhNext: tf.Tensor2D = dys[T]!; // dL/dh_T
      const das: tf.Tensor2D[] = new Array(T);
      for (let t = T - 1; t >= 0; t--) {
        const da = tf.mul(tf.add(dys[t]!, dhNext), gs[t]!) as tf.Tensor2D; // [B, H]
        das[t] = da;
        const back = tf.matMul(da, Wh, false, true) as tf.Tensor2D; // [B, H]
        dhNext = keeps ? (tf.add(back, tf.mul(keeps[t]!, dhNext)) as tf.Tensor2D) : back;
      }
      const dA = tf.stack(das) as tf.Tensor3D; // [T, B, H]
      const hPrev = tf.reshape(tf.slice(S, [0, 0, 0], [T, B, H]), [T * B, H]); // h_0..h_{T−1}
      const dWh = tf.matMul(hPrev, tf.reshape(dA, [T * B, H]), true, false); // [H, H]
      const dxp = tf.transpose(dA, [1, 0, 2]); // [B, T, H]
      return Ms ? [dxp, dWh, dhNext, tf.zerosLike(Ms)] : [dxp, dWh, dhNext];
    };
    return { value, gradFunc };
  }) as Parameters<typeof tf.customGrad>[0]);
}

const rnnTanh = rnnPacked('tanh');
const rnnRelu = rnnPacked('relu');
