// The GRU over a whole sequence with a hand-written backward pass (BPTT), registered through
// tf.customGrad — the GRU counterpart of ./lstm-sequence.ts, for both variants of ./gru.ts (gate
// order r, z, n; z weights the new candidate: h' = (1 − z)⊙h + z⊙n).
// Taught (Cho et al. 2014): reset applied BEFORE the candidate's recurrent matmul:
//   forward   [a_r, a_z] = xp_rz + h·W_hrz;  r, z = σ(a_r, a_z)
//             n = tanh(xp_n + (r⊙h)·W_hn);   h' = (1 − z)⊙h + z⊙n
//   backward  dn = dh'⊙z;  dz = dh'⊙(n − h);  dh = dh'⊙(1 − z)
//             dn̂ = dn⊙(1 − n²);  d(rh) = dn̂·W_hnᵀ;  dr = d(rh)⊙h;  dh += d(rh)⊙r
//             [dr̂, dẑ] = [dr⊙r(1 − r), dz⊙z(1 − z)];  dh += [dr̂, dẑ]·W_hrzᵀ
//             dxp_t = [dr̂, dẑ, dn̂];  dW_hrz = Σ_t hᵀ[dr̂, dẑ];  dW_hn = Σ_t (r⊙h)ᵀ dn̂
// Reset-after (PyTorch / Keras / cuDNN): ONE recurrent matmul, the reset scales its n block:
//   forward   [hp_r, hp_z, hp_n] = h·W_h + b_h;  r, z = σ(xp_r + hp_r, xp_z + hp_z)
//             n = tanh(xp_n + r⊙hp_n);  h' = (1 − z)⊙h + z⊙n
//   backward  dn̂ = dh'⊙z⊙(1 − n²);  dz = dh'⊙(n − h);  dr = dn̂⊙hp_n
//             (the factors that do not depend on dh' computed for all steps at once)
//             [dr̂, dẑ] = [dr⊙r(1 − r), dz⊙z(1 − z)];  dhp = [dr̂, dẑ, dn̂⊙r]
//             dh = dh'⊙(1 − z) + dhp·W_hᵀ;  dxp_t = [dr̂, dẑ, dn̂]
//             dW_h = Σ_t hᵀ dhp;  db_h = Σ_t Σ_batch dhp
// (the weight gradients one matmul / one sum each over all timesteps at the end). With a mask,
// padded steps carry the state through (./sequence-mask.ts). Used by RNNLayer for every GRU (the
// taught one as one registered kernel each way where that wins, the reset-after one on webgpu in
// mode 'fused': ./fused-sequence.ts).
import * as tf from '@tensorflow/tfjs-core';
import { fusedGruPacked, fusedGruResetAfterAvailable, fusedGruResetAfterPacked, fusedSequenceAvailable } from './fused-sequence.js';
import { carry, maskOutput, splitArgs, timeMajorMask, unpackSequence } from './sequence-mask.js';

/**
 * The taught GRU: xp `[B, T, 3H]` (= x·W_x + b), W_h `[H, 3H]`, h0 `[B, H]`, optional mask `[B, T]` →
 * `{ hs [B, T, H] (zeros at padding), h [B, H] (the final state) }`; differentiable w.r.t. xp, W_h and h0.
 */
export function gruSequence(xp: tf.Tensor3D, W_h: tf.Tensor2D, h0: tf.Tensor2D, mask?: tf.Tensor2D): { hs: tf.Tensor3D; h: tf.Tensor2D } {
  return tf.tidy(() => {
    const packed = fusedSequenceAvailable(W_h.shape[0])
      ? fusedGruPacked(xp, W_h, h0, mask) // one registered kernel each way (./fused-sequence.ts)
      : ((mask ? gruPacked(xp, W_h, h0, timeMajorMask(mask)) : gruPacked(xp, W_h, h0)) as tf.Tensor3D); // [B, T + 1, H]
    const { hs, finals } = unpackSequence(packed, 1);
    return { hs, h: finals[0]! };
  });
}

/**
 * The reset-after GRU: xp `[B, T, 3H]` (= x·W_x + b_x), W_h `[H, 3H]`, b_h `[3H]`, h0 `[B, H]`, optional
 * mask `[B, T]` → `{ hs [B, T, H], h [B, H] }`; differentiable w.r.t. xp, W_h, b_h and h0.
 */
export function gruResetAfterSequence(
  xp: tf.Tensor3D,
  W_h: tf.Tensor2D,
  b_h: tf.Tensor1D,
  h0: tf.Tensor2D,
  mask?: tf.Tensor2D,
): { hs: tf.Tensor3D; h: tf.Tensor2D } {
  return tf.tidy(() => {
    const packed = fusedGruResetAfterAvailable(W_h.shape[0])
      ? fusedGruResetAfterPacked(xp, W_h, b_h, h0, mask) // one registered kernel each way (webgpu: ./fused-sequence.ts)
      : ((mask ? gruResetAfterPacked(xp, W_h, b_h, h0, timeMajorMask(mask)) : gruResetAfterPacked(xp, W_h, b_h, h0)) as tf.Tensor3D); // [B, T + 1, H]
    const { hs, finals } = unpackSequence(packed, 1);
    return { hs, h: finals[0]! };
  });
}

// (xp, W_h, h0[, M `[T, B, 1]`]) → `[B, T + 1, H]`: y_1..y_T, h_T.
const gruPacked = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [inputs, save] = splitArgs(args);
  const [xp, W_h, h0, M] = inputs as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor3D | undefined];
  const [B, T] = xp.shape;
  const H = W_h.shape[0];
  const [W_hrz, W_hn] = tf.split(W_h, [2 * H, H], 1) as tf.Tensor2D[]; // [H, 2H], [H, H]
  const xs = tf.unstack(xp, 1) as tf.Tensor2D[]; // T × [B, 3H]
  const ms = M ? (tf.unstack(M) as tf.Tensor2D[]) : undefined; // T × [B, 1]
  let h = h0;
  const hs: tf.Tensor2D[] = [h0]; // h_0..h_T (the carried states)
  const ys: tf.Tensor2D[] = [];
  const acts: tf.Tensor2D[] = []; // [r, z, n] per step
  const rhs: tf.Tensor2D[] = []; // r ⊙ h_{t−1}
  for (let t = 0; t < T; t++) {
    const m = ms?.[t];
    const [x_rz, x_n] = tf.split(xs[t]!, [2 * H, H], 1) as tf.Tensor2D[];
    const rz = tf.sigmoid(tf.add(x_rz!, tf.matMul(h, W_hrz!))); // [B, 2H]
    const [r, z] = tf.split(rz, 2, 1) as tf.Tensor2D[];
    const rh = tf.mul(r!, h) as tf.Tensor2D;
    const n = tf.tanh(tf.add(x_n!, tf.matMul(rh, W_hn!))) as tf.Tensor2D;
    const hc = tf.add(h, tf.mul(z!, tf.sub(n, h))) as tf.Tensor2D; // (1 − z)⊙h + z⊙n
    ys.push(maskOutput(m, hc));
    h = carry(m, hc, h);
    acts.push(tf.concat([rz, n], 1) as tf.Tensor2D);
    rhs.push(rh);
    hs.push(h);
  }
  save([W_hrz!, W_hn!, tf.stack(acts), tf.stack(rhs), tf.stack(hs), ...(M ? [M] : [])]);
  const value = tf.stack([...ys, h], 1); // [B, T + 1, H]
  const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
    const [Wrz, Wn, A, RH, HS, Ms] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor3D, tf.Tensor3D, tf.Tensor3D, tf.Tensor3D | undefined];
    const dys = tf.unstack(dy, 1) as tf.Tensor2D[]; // T + 1 × [B, H]
    const as = tf.unstack(A) as tf.Tensor2D[]; // T × [B, 3H]
    const hPrev = tf.unstack(HS) as tf.Tensor2D[]; // T + 1 × [B, H]
    const mb = Ms ? (tf.unstack(Ms) as tf.Tensor2D[]) : undefined;
    let dhNext: tf.Tensor2D = dys[T]!; // dL/dh_T
    const drzs: tf.Tensor2D[] = new Array(T);
    const dns: tf.Tensor2D[] = new Array(T);
    for (let t = T - 1; t >= 0; t--) {
      const m = mb?.[t];
      const [r, z, n] = tf.split(as[t]!, 3, 1) as tf.Tensor2D[];
      const hp = hPrev[t]!;
      const dhSum = tf.add(dys[t]!, dhNext);
      const dh = m ? tf.mul(m, dhSum) : dhSum; // dL/dĥ_t
      const dnHat = tf.mul(tf.mul(dh, z!), tf.sub(1, tf.square(n!))); // [B, H]
      const dz = tf.mul(dh, tf.sub(n!, hp));
      const dRh = tf.matMul(dnHat, Wn, false, true); // [B, H]
      const dr = tf.mul(dRh, hp);
      const drz = tf.concat([tf.mul(dr, tf.mul(r!, tf.sub(1, r!))), tf.mul(dz, tf.mul(z!, tf.sub(1, z!)))], 1) as tf.Tensor2D; // [B, 2H]
      const back = tf.add(tf.add(tf.mul(dh, tf.sub(1, z!)), tf.mul(dRh, r!)), tf.matMul(drz, Wrz, false, true));
      dhNext = (m ? tf.add(back, tf.mul(tf.sub(1, m), dhNext)) : back) as tf.Tensor2D;
      drzs[t] = drz;
      dns[t] = dnHat as tf.Tensor2D;
    }
    const dRZ = tf.stack(drzs) as tf.Tensor3D; // [T, B, 2H]
    const dN = tf.stack(dns) as tf.Tensor3D; // [T, B, H]
    const hp = tf.reshape(tf.slice(HS, [0, 0, 0], [T, B, H]), [T * B, H]); // h_0..h_{T−1}
    const dWrz = tf.matMul(hp, tf.reshape(dRZ, [T * B, 2 * H]), true, false); // [H, 2H]
    const dWn = tf.matMul(tf.reshape(RH, [T * B, H]), tf.reshape(dN, [T * B, H]), true, false); // [H, H]
    const dxp = tf.transpose(tf.concat([dRZ, dN], 2), [1, 0, 2]); // [B, T, 3H]
    const grads = [dxp, tf.concat([dWrz, dWn], 1), dhNext];
    return Ms ? [...grads, tf.zerosLike(Ms)] : grads;
  };
  return { value, gradFunc };
}) as Parameters<typeof tf.customGrad>[0]);

// (xp, W_h, b_h, h0[, M `[T, B, 1]`]) → `[B, T + 1, H]`: y_1..y_T, h_T.
const gruResetAfterPacked = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [inputs, save] = splitArgs(args);
  const [xp, W_h, b_h, h0, M] = inputs as [tf.Tensor3D, tf.Tensor2D, tf.Tensor1D, tf.Tensor2D, tf.Tensor3D | undefined];
  const [B, T] = xp.shape;
  const H = W_h.shape[0];
  const xs = tf.unstack(xp, 1) as tf.Tensor2D[]; // T × [B, 3H]
  const ms = M ? (tf.unstack(M) as tf.Tensor2D[]) : undefined; // T × [B, 1]
  let h = h0;
  const hs: tf.Tensor2D[] = [h0]; // h_0..h_T (the carried states)
  const ys: tf.Tensor2D[] = [];
  const acts: tf.Tensor2D[] = []; // [r, z, n] per step
  const hns: tf.Tensor2D[] = []; // hp_n = (h·W_h + b_h)_n, the block the reset scales
  for (let t = 0; t < T; t++) {
    const m = ms?.[t];
    const [x_rz, x_n] = tf.split(xs[t]!, [2 * H, H], 1) as tf.Tensor2D[];
    const [hp_rz, hp_n] = tf.split(tf.add(tf.matMul(h, W_h), b_h), [2 * H, H], 1) as tf.Tensor2D[]; // [B, 2H], [B, H]
    const rz = tf.sigmoid(tf.add(x_rz!, hp_rz!)); // [B, 2H]
    const [r, z] = tf.split(rz, 2, 1) as tf.Tensor2D[];
    const n = tf.tanh(tf.add(x_n!, tf.mul(r!, hp_n!))) as tf.Tensor2D;
    const hc = tf.add(h, tf.mul(z!, tf.sub(n, h))) as tf.Tensor2D; // (1 − z)⊙h + z⊙n
    ys.push(maskOutput(m, hc));
    h = carry(m, hc, h);
    acts.push(tf.concat([rz, n], 1) as tf.Tensor2D);
    hns.push(hp_n!);
    hs.push(h);
  }
  save([W_h, tf.stack(acts), tf.stack(hns), tf.stack(hs), ...(M ? [M] : [])]);
  const value = tf.stack([...ys, h], 1); // [B, T + 1, H]
  const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
    const [Wh, A, HN, HS, Ms] = saved as [tf.Tensor2D, tf.Tensor3D, tf.Tensor3D, tf.Tensor3D, tf.Tensor3D | undefined];
    const dys = tf.unstack(dy, 1) as tf.Tensor2D[]; // T + 1 × [B, H]
    // The factors that do not depend on the incoming gradient, for all steps at once (s = dL/dh_t):
    //   dn̂ = s⊙Pn, Pn = m⊙z⊙(1 − n²);   dhp = [dn̂, s, dn̂]⊙Q, Q = [hp_n⊙r(1 − r), m⊙(n − h)⊙z(1 − z), r];
    //   dh_{t−1} = s⊙Pd + dhp·W_hᵀ (+ (1 − m)⊙dh_t), Pd = m⊙(1 − z)
    const [R, Z, N] = tf.split(A, 3, 2) as tf.Tensor3D[]; // [T, B, H] each
    const hPrev = tf.slice(HS, [0, 0, 0], [T, B, H]); // h_0..h_{T−1}
    const withMask = (P: tf.Tensor) => (Ms ? tf.mul(Ms, P) : P);
    const Pn = tf.unstack(withMask(tf.mul(Z!, tf.sub(1, tf.square(N!))))) as tf.Tensor2D[]; // T × [B, H]
    const Pz = withMask(tf.mul(tf.sub(N!, hPrev), tf.mul(Z!, tf.sub(1, Z!)))); // [T, B, H]
    const Q = tf.unstack(tf.concat([tf.mul(HN, tf.mul(R!, tf.sub(1, R!))), Pz, R!], 2)) as tf.Tensor2D[]; // T × [B, 3H]
    const Pd = tf.unstack(withMask(tf.sub(1, Z!))) as tf.Tensor2D[]; // T × [B, H]
    const keeps = Ms ? (tf.unstack(tf.sub(1, Ms)) as tf.Tensor2D[]) : undefined; // T × [B, 1]
    let dhNext: tf.Tensor2D = dys[T]!; // dL/dh_T
    const dhps: tf.Tensor2D[] = new Array(T);
    const dns: tf.Tensor2D[] = new Array(T);
    for (let t = T - 1; t >= 0; t--) {
      const s = tf.add(dys[t]!, dhNext); // dL/dh_t (before the carry)
      const dnHat = tf.mul(s, Pn[t]!) as tf.Tensor2D; // [B, H]
      const dhp = tf.mul(tf.concat([dnHat, s, dnHat], 1), Q[t]!) as tf.Tensor2D; // [B, 3H]: dr̂, dẑ, dn̂⊙r
      const back = tf.add(tf.mul(s, Pd[t]!), tf.matMul(dhp, Wh, false, true)) as tf.Tensor2D;
      dhNext = keeps ? (tf.add(back, tf.mul(keeps[t]!, dhNext)) as tf.Tensor2D) : back;
      dhps[t] = dhp;
      dns[t] = dnHat;
    }
    const dHP = tf.reshape(tf.stack(dhps), [T * B, 3 * H]); // [T·B, 3H]
    const dWh = tf.matMul(tf.reshape(hPrev, [T * B, H]), dHP, true, false); // [H, 3H]
    const dbh = tf.sum(dHP, 0); // [3H]
    const dRZ = tf.reshape(tf.slice(dHP, [0, 0], [T * B, 2 * H]), [T, B, 2 * H]); // [T, B, 2H]
    const dxp = tf.transpose(tf.concat([dRZ, tf.stack(dns)], 2), [1, 0, 2]); // [B, T, 3H]
    const grads = [dxp, dWh, dbh, dhNext];
    return Ms ? [...grads, tf.zerosLike(Ms)] : grads;
  };
  return { value, gradFunc };
}) as Parameters<typeof tf.customGrad>[0]);
