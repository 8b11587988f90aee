// The LSTM over a whole sequence with a hand-written backward pass (BPTT), registered through
// tf.customGrad. Same equations as ./lstm.ts (gate order i, f, g, o); autodiff through the
// per-step ops records ~40 tape entries per timestep, this records one for the whole sequence and
// computes the recurrent-weight gradient as ONE matmul over all timesteps at the end.
// Reference for the backward equations: Graves, "Supervised Sequence Labelling with RNNs" (2012),
// §4.6; the same as cuDNN's / PyTorch's LSTM backward.
//   forward   z = xp_t + h·W_h;  i, f, o = σ(z_i, z_f, z_o);  g = tanh(z_g)
//             c_t = f⊙c + i⊙g;   h_t = o⊙tanh(c_t)
//   backward  dh = dy_t + dh_next;             do = dh⊙tanh(c_t)
//             dc = dc_next + dh⊙o⊙(1 − tanh²(c_t))
//             di = dc⊙g,  df = dc⊙c_{t−1},  dg = dc⊙i,  dc_next = dc⊙f
//             dz = [di⊙i(1−i), df⊙f(1−f), dg⊙(1−g²), do⊙o(1−o)]
//             dxp_t = dz;  dh_next = dz·W_hᵀ;  dW_h = Σ_t h_{t−1}ᵀ·dz_t
// With a mask, padded steps carry h and c through (./sequence-mask.ts):
//             ĉ, ĥ = the step above;  c_t = m⊙ĉ + (1 − m)⊙c_{t−1};  h_t likewise;  y_t = m⊙ĥ
//   backward  dĥ = m⊙(dy_t + dh_next);  dĉ_in = m⊙dc_next, then the equations above with dĥ, dĉ_in;
//             dh_next = dz·W_hᵀ + (1 − m)⊙dh_next;  dc_next = dc⊙f + (1 − m)⊙dc_next
// Used by RNNLayer for LSTM sequences (masked ones too) where neither a whole-layer kernel
// (./fused-layer.ts) nor the TensorFlow-op path (./tensorflow-sequence.ts) applies;
// on the backends where it wins, the same computation runs as one registered kernel (./fused-sequence.ts).
import * as tf from '@tensorflow/tfjs-core';
import { fusedLstmPacked, fusedSequenceAvailable } from './fused-sequence.js';
import { carry, maskOutput, splitArgs, timeMajorMask, unpackSequence } from './sequence-mask.js';

/**
 * Runs the LSTM recurrence over precomputed input projections.
 * xp `[B, T, 4H]` (= x·W_x + b), W_h `[H, 4H]`, h0 and c0 `[B, H]`, optional mask `[B, T]` →
 * `{ hs [B, T, H] (zeros at padding), h [B, H], c [B, H] (the final state) }`; differentiable w.r.t.
 * xp, W_h, h0 and c0.
 */
export function lstmSequence(
  xp: tf.Tensor3D,
  W_h: tf.Tensor2D,
  h0: tf.Tensor2D,
  c0: tf.Tensor2D,
  mask?: tf.Tensor2D,
): { hs: tf.Tensor3D; h: tf.Tensor2D; c: tf.Tensor2D } {
  return tf.tidy(() => {
    const packed = fusedSequenceAvailable(W_h.shape[0])
      ? fusedLstmPacked(xp, W_h, h0, c0, mask) // one registered kernel each way (./fused-sequence.ts)
      : ((mask ? lstmPacked(xp, W_h, h0, c0, timeMajorMask(mask)) : lstmPacked(xp, W_h, h0, c0)) as tf.Tensor3D); // [B, T + 2, H]
    const { hs, finals } = unpackSequence(packed, 2);
    return { hs, h: finals[0]!, c: finals[1]! };
  });
}

// tf.customGrad takes one output tensor, so y_1..y_T, h_T and c_T travel packed as [B, T + 2, H].
// (xp, W_h, h0, c0[, M `[T, B, 1]`]) → [B, T + 2, H].
const lstmPacked = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [inputs, save] = splitArgs(args);
  const [xp, W_h, h0, c0, M] = inputs as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor3D | undefined];
  const [B, T] = xp.shape;
  const H = W_h.shape[0];
  const xs = tf.unstack(xp, 1) as tf.Tensor2D[]; // T × [B, 4H]
  const ms = M ? (tf.unstack(M) as tf.Tensor2D[]) : undefined; // T × [B, 1]
  let h = h0;
  let c = c0;
  const hs: tf.Tensor2D[] = [h0]; // h_0..h_T (the carried states)
  const cs: tf.Tensor2D[] = [c0]; // c_0..c_T (the carried states)
  const ys: tf.Tensor2D[] = [];
  const acts: tf.Tensor2D[] = []; // [i, f, g, o] after their nonlinearities, per step
  const tcs: tf.Tensor2D[] = []; // tanh(ĉ_t)
  for (let t = 0; t < T; t++) {
    const m = ms?.[t];
    const z = tf.add(xs[t]!, tf.matMul(h, W_h)); // [B, 4H]
    const [zif, zg, zo] = tf.split(z, [2 * H, H, H], 1) as tf.Tensor2D[];
    const sif = tf.sigmoid(zif!); // [B, 2H]: i, f
    const g = tf.tanh(zg!);
    const o = tf.sigmoid(zo!);
    const [i, f] = tf.split(sif, 2, 1) as tf.Tensor2D[];
    const cc = tf.add(tf.mul(f!, c), tf.mul(i!, g)) as tf.Tensor2D; // ĉ_t
    const tc = tf.tanh(cc) as tf.Tensor2D;
    const hc = tf.mul(o, tc) as tf.Tensor2D; // ĥ_t
    ys.push(maskOutput(m, hc));
    c = carry(m, cc, c);
    h = carry(m, hc, h);
    acts.push(tf.concat([sif, g, o], 1) as tf.Tensor2D);
    tcs.push(tc);
    hs.push(h);
    cs.push(c);
  }
  save([W_h, tf.stack(acts), tf.stack(cs), tf.stack(tcs), tf.stack(hs), ...(M ? [M] : [])]);
  const value = tf.stack([...ys, h, c], 1); // [B, T + 2, H]
  const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
    const [Wh, A, C, TC, HS, Ms] = saved as [tf.Tensor2D, tf.Tensor3D, tf.Tensor3D, tf.Tensor3D, tf.Tensor3D, tf.Tensor3D | undefined];
    const dys = tf.unstack(dy, 1) as tf.Tensor2D[]; // T + 2 × [B, H]
    const as = tf.unstack(A) as tf.Tensor2D[]; // T × [B, 4H]
    const cPrev = tf.unstack(C) as tf.Tensor2D[]; // T + 1 × [B, H]
    const tcsB = tf.unstack(TC) as tf.Tensor2D[]; // T × [B, H]
    const mb = Ms ? (tf.unstack(Ms) as tf.Tensor2D[]) : undefined;
    let dhNext: tf.Tensor2D = dys[T]!; // dL/dh_T
    let dcNext: tf.Tensor2D = dys[T + 1]!; // dL/dc_T
    const dzs: tf.Tensor2D[] = new Array(T);
    for (let t = T - 1; t >= 0; t--) {
      const m = mb?.[t];
      const [i, f, g, o] = tf.split(as[t]!, 4, 1) as tf.Tensor2D[];
      const tc = tcsB[t]!;
      const dhSum = tf.add(dys[t]!, dhNext);
      const dh = m ? tf.mul(m, dhSum) : dhSum; // dL/dĥ_t
      const dO = tf.mul(dh, tc);
      const dc = tf.add(m ? tf.mul(m, dcNext) : dcNext, tf.mul(tf.mul(dh, o!), tf.sub(1, tf.square(tc)))); // dL/dĉ_t
      const di = tf.mul(dc, g!);
      const df = tf.mul(dc, cPrev[t]!);
      const dg = tf.mul(dc, i!);
      const sig = (d: tf.Tensor, s: tf.Tensor) => tf.mul(d, tf.mul(s, tf.sub(1, s)));
      const dz = tf.concat([sig(di, i!), sig(df, f!), tf.mul(dg, tf.sub(1, tf.square(g!))), sig(dO, o!)], 1) as tf.Tensor2D; // [B, 4H]
      dzs[t] = dz;
      const dcBack = tf.mul(dc, f!);
      const dhBack = tf.matMul(dz, Wh, false, true); // [B, H]
      if (m) {
        const keep = tf.sub(1, m); // [B, 1]
        dcNext = tf.add(dcBack, tf.mul(keep, dcNext)) as tf.Tensor2D;
        dhNext = tf.add(dhBack, tf.mul(keep, dhNext)) as tf.Tensor2D;
      } else {
        dcNext = dcBack as tf.Tensor2D;
        dhNext = dhBack as tf.Tensor2D;
      }
    }
    const dZ = tf.stack(dzs) as tf.Tensor3D; // [T, B, 4H]
    const hPrev = tf.slice(HS, [0, 0, 0], [T, B, H]); // h_0..h_{T−1}: [T, B, H]
    const dWh = tf.matMul(tf.reshape(hPrev, [T * B, H]), tf.reshape(dZ, [T * B, 4 * H]), true, false); // [H, 4H]
    const dxp = tf.transpose(dZ, [1, 0, 2]); // [B, T, 4H]
    const grads = [dxp, dWh, dhNext, dcNext];
    return Ms ? [...grads, tf.zerosLike(Ms)] : grads;
  };
  return { value, gradFunc };
}) as Parameters<typeof tf.customGrad>[0]);
