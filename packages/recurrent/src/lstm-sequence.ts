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
// Used by RNNLayer for unmasked LSTM sequences; the masked path stays on autodiff (the reference).
import * as tf from '@tensorflow/tfjs-core';

/**
 * Runs the LSTM recurrence over precomputed input projections.
 * xp `[B, T, 4H]` (= x·W_x + b), W_h `[H, 4H]`, h0 and c0 `[B, H]` →
 * `{ hs [B, T, H], h [B, H], c [B, H] }`; differentiable w.r.t. all four inputs.
 */
export function lstmSequence(
  xp: tf.Tensor3D,
  W_h: tf.Tensor2D,
  h0: tf.Tensor2D,
  c0: tf.Tensor2D,
): { hs: tf.Tensor3D; h: tf.Tensor2D; c: tf.Tensor2D } {
  return tf.tidy(() => unpackLstm(lstmPacked(xp, W_h, h0, c0) as tf.Tensor3D));
}

/**
 * Splits the packed output of an LSTM custom gradient — `[B, T + 1, H]`: h_1..h_T, then c_T (tf.customGrad
 * returns one tensor) — into `{ hs [B, T, H], h = h_T, c = c_T }`.
 */
export function unpackLstm(packed: tf.Tensor3D): { hs: tf.Tensor3D; h: tf.Tensor2D; c: tf.Tensor2D } {
  const [B, T1, H] = packed.shape;
  const T = T1 - 1;
  const hs = tf.slice(packed, [0, 0, 0], [B, T, H]) as tf.Tensor3D; // [B, T, H]
  const h = tf.reshape(tf.slice(packed, [0, T - 1, 0], [B, 1, H]), [B, H]) as tf.Tensor2D;
  const c = tf.reshape(tf.slice(packed, [0, T, 0], [B, 1, H]), [B, H]) as tf.Tensor2D;
  return { hs, h, c };
}

// tf.customGrad takes one output tensor, so h_1..h_T and c_T travel packed as [B, T + 1, H].
const lstmPacked = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [xp, W_h, h0, c0, save] = args as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  const [B, T] = xp.shape;
  const H = W_h.shape[0];
  const xs = tf.unstack(xp, 1) as tf.Tensor2D[]; // T × [B, 4H]
  let h = h0;
  let c = c0;
  const hs: tf.Tensor2D[] = [h0]; // h_0..h_T
  const cs: tf.Tensor2D[] = [c0]; // c_0..c_T
  const acts: tf.Tensor2D[] = []; // [i, f, g, o] after their nonlinearities, per step
  const tcs: tf.Tensor2D[] = []; // tanh(c_t)
  for (let t = 0; t < T; t++) {
    const z = tf.add(xs[t]!, tf.matMul(h, W_h)); // [B, 4H]
    const [zif, zg, zo] = tf.split(z, [2 * H, H, H], 1) as tf.Tensor2D[];
    const sif = tf.sigmoid(zif!); // [B, 2H]: i, f
    const g = tf.tanh(zg!);
    const o = tf.sigmoid(zo!);
    const [i, f] = tf.split(sif, 2, 1) as tf.Tensor2D[];
    c = tf.add(tf.mul(f!, c), tf.mul(i!, g)) as tf.Tensor2D;
    const tc = tf.tanh(c) as tf.Tensor2D;
    h = tf.mul(o, tc) as tf.Tensor2D;
    acts.push(tf.concat([sif, g, o], 1) as tf.Tensor2D);
    tcs.push(tc);
    hs.push(h);
    cs.push(c);
  }
  save([W_h, tf.stack(acts), tf.stack(cs), tf.stack(tcs), tf.stack(hs)]);
  const value = tf.concat([tf.stack(hs.slice(1), 1), tf.reshape(c, [B, 1, H])], 1); // [B, T + 1, H]
  const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
    const [Wh, A, C, TC, HS] = saved as [tf.Tensor2D, tf.Tensor3D, tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
    const dys = tf.unstack(dy, 1) as tf.Tensor2D[]; // T + 1 × [B, H]
    const as = tf.unstack(A) as tf.Tensor2D[]; // T × [B, 4H]
    const cPrev = tf.unstack(C) as tf.Tensor2D[]; // T + 1 × [B, H]
    const tcsB = tf.unstack(TC) as tf.Tensor2D[]; // T × [B, H]
    let dhNext: tf.Tensor2D = tf.zeros([B, H]);
    let dcNext: tf.Tensor2D = dys[T]!; // dL/dc_T
    const dzs: tf.Tensor2D[] = new Array(T);
    for (let t = T - 1; t >= 0; t--) {
      const [i, f, g, o] = tf.split(as[t]!, 4, 1) as tf.Tensor2D[];
      const tc = tcsB[t]!;
      const dh = tf.add(dys[t]!, dhNext);
      const dO = tf.mul(dh, tc);
      const dc = tf.add(dcNext, tf.mul(tf.mul(dh, o!), tf.sub(1, tf.square(tc))));
      const di = tf.mul(dc, g!);
      const df = tf.mul(dc, cPrev[t]!);
      const dg = tf.mul(dc, i!);
      dcNext = tf.mul(dc, f!) as tf.Tensor2D;
      const sig = (d: tf.Tensor, s: tf.Tensor) => tf.mul(d, tf.mul(s, tf.sub(1, s)));
      const dz = tf.concat([sig(di, i!), sig(df, f!), tf.mul(dg, tf.sub(1, tf.square(g!))), sig(dO, o!)], 1) as tf.Tensor2D; // [B, 4H]
      dzs[t] = dz;
      dhNext = tf.matMul(dz, Wh, false, true); // [B, H]
    }
    const dZ = tf.stack(dzs) as tf.Tensor3D; // [T, B, 4H]
    const hPrev = tf.slice(HS, [0, 0, 0], [T, B, H]); // h_0..h_{T−1}: [T, B, H]
    const dWh = tf.matMul(tf.reshape(hPrev, [T * B, H]), tf.reshape(dZ, [T * B, 4 * H]), true, false); // [H, 4H]
    const dxp = tf.transpose(dZ, [1, 0, 2]); // [B, T, 4H]
    return [dxp, dWh, dhNext, dcNext];
  };
  return { value, gradFunc };
}) as Parameters<typeof tf.customGrad>[0]);
