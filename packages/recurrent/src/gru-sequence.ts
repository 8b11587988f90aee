// The taught GRU over a whole sequence with a hand-written backward pass (BPTT), registered through
// tf.customGrad — the GRU counterpart of ./lstm-sequence.ts. Same equations as ./gru.ts (gate order
// r, z, n; reset applied BEFORE the candidate's recurrent matmul; z weights the new candidate):
//   forward   [a_r, a_z] = xp_rz + h·W_hrz;  r, z = σ(a_r, a_z)
//             n = tanh(xp_n + (r⊙h)·W_hn);   h' = (1 − z)⊙h + z⊙n
//   backward  dn = dh'⊙z;  dz = dh'⊙(n − h);  dh = dh'⊙(1 − z)
//             dn̂ = dn⊙(1 − n²);  d(rh) = dn̂·W_hnᵀ;  dr = d(rh)⊙h;  dh += d(rh)⊙r
//             [dr̂, dẑ] = [dr⊙r(1 − r), dz⊙z(1 − z)];  dh += [dr̂, dẑ]·W_hrzᵀ
//             dxp_t = [dr̂, dẑ, dn̂];  dW_hrz = Σ_t hᵀ[dr̂, dẑ];  dW_hn = Σ_t (r⊙h)ᵀ dn̂
// (one matmul each over all timesteps at the end). Used by RNNLayer for unmasked taught GRUs.
import * as tf from '@tensorflow/tfjs-core';

/** xp `[B, T, 3H]` (= x·W_x + b), W_h `[H, 3H]`, h0 `[B, H]` → hs `[B, T, H]` (h_T = hs[:, T − 1]). */
export const gruSequence = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [xp, W_h, h0, save] = args as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  const [B, T] = xp.shape;
  const H = W_h.shape[0];
  const [W_hrz, W_hn] = tf.split(W_h, [2 * H, H], 1) as tf.Tensor2D[]; // [H, 2H], [H, H]
  const xs = tf.unstack(xp, 1) as tf.Tensor2D[]; // T × [B, 3H]
  let h = h0;
  const hs: tf.Tensor2D[] = [h0]; // h_0..h_T
  const acts: tf.Tensor2D[] = []; // [r, z, n] per step
  const rhs: tf.Tensor2D[] = []; // r ⊙ h_{t−1}
  for (let t = 0; t < T; t++) {
    const [x_rz, x_n] = tf.split(xs[t]!, [2 * H, H], 1) as tf.Tensor2D[];
    const rz = tf.sigmoid(tf.add(x_rz!, tf.matMul(h, W_hrz!))); // [B, 2H]
    const [r, z] = tf.split(rz, 2, 1) as tf.Tensor2D[];
    const rh = tf.mul(r!, h) as tf.Tensor2D;
    const n = tf.tanh(tf.add(x_n!, tf.matMul(rh, W_hn!))) as tf.Tensor2D;
    h = tf.add(h, tf.mul(z!, tf.sub(n, h))) as tf.Tensor2D; // (1 − z)⊙h + z⊙n
    acts.push(tf.concat([rz, n], 1) as tf.Tensor2D);
    rhs.push(rh);
    hs.push(h);
  }
  save([W_hrz!, W_hn!, tf.stack(acts), tf.stack(rhs), tf.stack(hs)]);
  const value = tf.stack(hs.slice(1), 1); // [B, T, H]
  const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
    const [Wrz, Wn, A, RH, HS] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
    const dys = tf.unstack(dy, 1) as tf.Tensor2D[]; // T × [B, H]
    const as = tf.unstack(A) as tf.Tensor2D[]; // T × [B, 3H]
    const hPrev = tf.unstack(HS) as tf.Tensor2D[]; // T + 1 × [B, H]
    let dhNext: tf.Tensor2D = tf.zeros([B, H]);
    const drzs: tf.Tensor2D[] = new Array(T);
    const dns: tf.Tensor2D[] = new Array(T);
    for (let t = T - 1; t >= 0; t--) {
      const [r, z, n] = tf.split(as[t]!, 3, 1) as tf.Tensor2D[];
      const hp = hPrev[t]!;
      const dh = tf.add(dys[t]!, dhNext);
      const dnHat = tf.mul(tf.mul(dh, z!), tf.sub(1, tf.square(n!))); // [B, H]
      const dz = tf.mul(dh, tf.sub(n!, hp));
      const dRh = tf.matMul(dnHat, Wn, false, true); // [B, H]
      const dr = tf.mul(dRh, hp);
      const drz = tf.concat([tf.mul(dr, tf.mul(r!, tf.sub(1, r!))), tf.mul(dz, tf.mul(z!, tf.sub(1, z!)))], 1) as tf.Tensor2D; // [B, 2H]
      dhNext = tf.add(tf.add(tf.mul(dh, tf.sub(1, z!)), tf.mul(dRh, r!)), tf.matMul(drz, Wrz, false, true)) as tf.Tensor2D;
      drzs[t] = drz;
      dns[t] = dnHat as tf.Tensor2D;
    }
    const dRZ = tf.stack(drzs) as tf.Tensor3D; // [T, B, 2H]
    const dN = tf.stack(dns) as tf.Tensor3D; // [T, B, H]
    const hp = tf.reshape(tf.slice(HS, [0, 0, 0], [T, B, H]), [T * B, H]); // h_0..h_{T−1}
    const dWrz = tf.matMul(hp, tf.reshape(dRZ, [T * B, 2 * H]), true, false); // [H, 2H]
    const dWn = tf.matMul(tf.reshape(RH, [T * B, H]), tf.reshape(dN, [T * B, H]), true, false); // [H, H]
    const dxp = tf.transpose(tf.concat([dRZ, dN], 2), [1, 0, 2]); // [B, T, 3H]
    return [dxp, tf.concat([dWrz, dWn], 1), dhNext];
  };
  return { value, gradFunc };
}) as Parameters<typeof tf.customGrad>[0]) as (xp: tf.Tensor3D, W_h: tf.Tensor2D, h0: tf.Tensor2D) => tf.Tensor3D;
