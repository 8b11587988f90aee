// Recurrent sequences as ONE registered kernel per direction of the pass, like tfjs's own kernels:
// the LSTM (`AttendLSTMSequence` / `AttendLSTMSequenceGrad`), the taught GRU (`AttendGRUSequence` /
// `…Grad`) and the vanilla RNN (`AttendRNNSequence` / `…Grad`, attr `activation` tanh | relu), each
// a forward over all T steps that keeps what backward needs and a BPTT kernel, with the gradient
// registered for the forward kernel; and the reset-after GRU (`AttendGRUResetAfterSequence` /
// `…Grad`) on `webgpu` only (cpu, wasm and tensorflow have their own paths for that cell:
// ./fused-layer.ts, ./tensorflow-sequence.ts, else the per-step one). Registered on `cpu`, `wasm`
// and (in WGSL, ./webgpu-sequence.ts) `webgpu`; on cpu and wasm each kernel runs on the WebAssembly
// SIMD module with the batch split over threads (./wasm-sequence.ts) where it loads (in
// Node) and H is a multiple of 4, else as the plain JS below over the backend's arrays. Used
// automatically on cpu (either way it beats the per-step ops, since the pure-JS backend pays for every
// op and intermediate array) and on wasm when on the SIMD module (the plain JS there loses to the
// per-step path's XNNPACK matmuls); see setFusedSequenceMode. The equations, gate orders, mask semantics and
// packed outputs are those of ./lstm-sequence.ts, ./gru-sequence.ts and ./rnn-sequence.ts, which
// stay the reference (their headers give the backward equations):
//   LSTM  z = xp_t + h_{t−1}·W_h;  i, f, o = σ(z_i, z_f, z_o);  g = tanh(z_g);  ĉ = f⊙c + i⊙g;  ĥ = o⊙tanh(ĉ)
//   GRU   [r, z] = σ(xp_rz + h·W_rz);  n = tanh(xp_n + (r⊙h)·W_n);  ĥ = h + z⊙(n − h)
//   GRU reset-after  a = h·W_h + b_h;  [r, z] = σ(xp_rz + a_rz);  n = tanh(xp_n + r⊙a_n);  ĥ = h + z⊙(n − h)
//   RNN   ĥ = act(xp_t + h·W_hh)
//   mask  h_t = m⊙ĥ + (1 − m)⊙h_{t−1} (c likewise);  y_t = m⊙ĥ
// Kernels (outputs after `packed` are what the gradient needs):
//   AttendLSTMSequence  xp [B, T, 4H], W_h [H, 4H], h0, c0 [B, H], mask [B, T] (1/0 floats) →
//                       packed [B, T + 2, H] (y_1..y_T, h_T, c_T), acts [T, B, 4H] (i, f, g, o),
//                       cs [T + 1, B, H] (c_0..c_T, carried), tcs [T, B, H] (tanh ĉ), hs [T + 1, B, H]
//   AttendGRUSequence   xp [B, T, 3H], W_h [H, 3H], h0, mask → packed [B, T + 1, H] (y_1..y_T, h_T),
//                       acts [T, B, 3H] (r, z, n), hs [T + 1, B, H]
//   AttendGRUResetAfterSequence  xp [B, T, 3H], W_h [H, 3H], b_h [3H], h0, mask → packed [B, T + 1, H],
//                       acts [T, B, 3H] (r, z, n), an [T, B, H] (a_n = h·W_hn + b_hn), hs [T + 1, B, H]
//   AttendRNNSequence   xp [B, T, H], W_h [H, H], h0, mask → packed [B, T + 1, H], acts [T, B, H] (ĥ), hs
//   …Grad               W_h, mask, the saved outputs, dy (d packed) → dxp, dW_h (, db_h), dh0 (, dc0);
//                       on webgpu dxp, dh0 (, dc0) and no dW_h: the gradient takes dW_h = H_prevᵀ·dZ as
//                       one tfjs matMul, from the taught GRU's r ⊙ h_{t−1} [T, B, H] (its n block's
//                       source) and the reset-after GRU's dhp [B, T, 3H] (also Σ dhp = db_h), returned last
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, cpuArrayIO, wasmArrayIO, type KernelArrayIO } from '@attend/core';
import { gruForwardWebgpu, gruGradWebgpu, gruResetAfterForwardWebgpu, gruResetAfterGradWebgpu, lstmForwardWebgpu, lstmGradWebgpu, rnnForwardWebgpu, rnnGradWebgpu } from './webgpu-sequence.js';
import { gruBackwardSimd, gruForwardSimd, lstmBackwardSimd, lstmForwardSimd, rnnBackwardSimd, rnnForwardSimd, simdFor } from './wasm-sequence.js';

export const LSTM_SEQUENCE = 'AttendLSTMSequence';
export const LSTM_SEQUENCE_GRAD = 'AttendLSTMSequenceGrad';
export const GRU_SEQUENCE = 'AttendGRUSequence';
export const GRU_SEQUENCE_GRAD = 'AttendGRUSequenceGrad';
export const RNN_SEQUENCE = 'AttendRNNSequence';
export const RNN_SEQUENCE_GRAD = 'AttendRNNSequenceGrad';
export const GRU_RESET_AFTER_SEQUENCE = 'AttendGRUResetAfterSequence';
export const GRU_RESET_AFTER_SEQUENCE_GRAD = 'AttendGRUResetAfterSequenceGrad';

/** The backends this module has kernels for (webgpu's in WGSL: ./webgpu-sequence.ts). */
export const FUSED_SEQUENCE_BACKENDS: readonly string[] = ['cpu', 'wasm', 'webgpu'];
/** …and those it has the reset-after GRU's for (see the header). */
const GRU_RESET_AFTER_BACKENDS: readonly string[] = ['webgpu'];
/** Where mode 'auto' uses them: where they beat the per-step path (see the header). */
const AUTO_BACKENDS: readonly string[] = ['cpu'];
/** …and where they do when they run on the SIMD module (./wasm-sequence.ts). */
const AUTO_BACKENDS_SIMD: readonly string[] = ['cpu', 'wasm'];

type Args = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

// The three matrix loops every cell's kernels are made of (W row-major, `stride` columns):
/** out[o + j] += Σ_k v[vo + k]·W[k·stride + c + j] for j < n: K entries of a row times columns c … c + n − 1 of W. */
function addRowTimesMatrix(out: Float64Array, o: number, v: ArrayLike<number>, vo: number, K: number, W: ArrayLike<number>, stride: number, c: number, n: number): void {
  for (let k = 0; k < K; k++) {
    const vk = v[vo + k]!;
    if (vk === 0) continue;
    const wo = k * stride + c;
    for (let j = 0; j < n; j++) out[o + j] += vk * W[wo + j]!;
  }
}
/** Σ_j d[j]·W[off + j] for j < n: a row of W (from `off`) dotted with d. */
function dotRow(d: Float64Array, W: ArrayLike<number>, off: number, n: number): number {
  let s = 0;
  for (let j = 0; j < n; j++) s += d[j]! * W[off + j]!;
  return s;
}
/** out[off + j] += a·d[j] for j < n (one row of an outer-product accumulation; nothing when a = 0). */
function addScaledRow(out: Float64Array, off: number, a: number, d: Float64Array, n: number): void {
  if (a === 0) return;
  for (let j = 0; j < n; j++) out[off + j] += a * d[j]!;
}

function lstmForwardJs(
  B: number, T: number, H: number,
  xp: ArrayLike<number>, W: ArrayLike<number>, h0: ArrayLike<number>, c0: ArrayLike<number>, mask: ArrayLike<number>,
  packed: Float32Array, acts: Float32Array, cs: Float32Array, tcs: Float32Array, hs: Float32Array,
): void {
  const G = 4 * H;
  const BH = B * H;
  for (let x = 0; x < BH; x++) {
    hs[x] = h0[x]!;
    cs[x] = c0[x]!;
  }
  const z = new Float64Array(G);
  for (let t = 0; t < T; t++) {
    const prev = t * BH; // h_{t−1}, c_{t−1} in hs, cs
    const next = (t + 1) * BH;
    for (let b = 0; b < B; b++) {
      // z = xp_t + h_{t−1}·W_h: rows of W_h scaled by h's entries (contiguous inner loop).
      const xo = (b * T + t) * G;
      for (let j = 0; j < G; j++) z[j] = xp[xo + j]!;
      const ho = prev + b * H;
      addRowTimesMatrix(z, 0, hs, ho, H, W, G, 0, G);
      const m = mask[b * T + t]!;
      const ao = (t * B + b) * G;
      const po = (b * (T + 2) + t) * H;
      for (let u = 0; u < H; u++) {
        const i = sigmoid(z[u]!);
        const f = sigmoid(z[H + u]!);
        const g = Math.tanh(z[2 * H + u]!);
        const o = sigmoid(z[3 * H + u]!);
        acts[ao + u] = i;
        acts[ao + H + u] = f;
        acts[ao + 2 * H + u] = g;
        acts[ao + 3 * H + u] = o;
        const cPrev = cs[prev + b * H + u]!;
        const cc = f * cPrev + i * g;
        const tc = Math.tanh(cc);
        const hc = o * tc;
        tcs[t * BH + b * H + u] = tc;
        packed[po + u] = m * hc;
        cs[next + b * H + u] = m === 1 ? cc : m === 0 ? cPrev : cPrev + m * (cc - cPrev);
        const hPrev = hs[prev + b * H + u]!;
        hs[next + b * H + u] = m === 1 ? hc : m === 0 ? hPrev : hPrev + m * (hc - hPrev);
      }
    }
  }
  for (let b = 0; b < B; b++) {
    for (let u = 0; u < H; u++) {
      packed[(b * (T + 2) + T) * H + u] = hs[T * BH + b * H + u]!;
      packed[(b * (T + 2) + T + 1) * H + u] = cs[T * BH + b * H + u]!;
    }
  }
}

function lstmBackwardJs(
  B: number, T: number, H: number,
  W: ArrayLike<number>, mask: ArrayLike<number>, acts: ArrayLike<number>, cs: ArrayLike<number>, tcs: ArrayLike<number>, hs: ArrayLike<number>,
  dy: ArrayLike<number>,
  dxp: Float32Array, dW: Float32Array, dh0: Float32Array, dc0: Float32Array,
): void {
  const G = 4 * H;
  const BH = B * H;
  const dh = new Float64Array(BH);
  const dc = new Float64Array(BH);
  for (let b = 0; b < B; b++) {
    for (let u = 0; u < H; u++) {
      dh[b * H + u] = dy[(b * (T + 2) + T) * H + u]!;
      dc[b * H + u] = dy[(b * (T + 2) + T + 1) * H + u]!;
    }
  }
  const dW64 = new Float64Array(H * G);
  const dz = new Float64Array(G);
  for (let t = T - 1; t >= 0; t--) {
    for (let b = 0; b < B; b++) {
      const m = mask[b * T + t]!;
      const ao = (t * B + b) * G;
      const so = b * H;
      for (let u = 0; u < H; u++) {
        const i = acts[ao + u]!;
        const f = acts[ao + H + u]!;
        const g = acts[ao + 2 * H + u]!;
        const o = acts[ao + 3 * H + u]!;
        const tc = tcs[t * BH + so + u]!;
        const dhh = m * (dy[(b * (T + 2) + t) * H + u]! + dh[so + u]!); // dĥ
        const dcc = m * dc[so + u]! + dhh * o * (1 - tc * tc); // dĉ
        dz[u] = dcc * g * i * (1 - i);
        dz[H + u] = dcc * cs[t * BH + so + u]! * f * (1 - f);
        dz[2 * H + u] = dcc * i * (1 - g * g);
        dz[3 * H + u] = dhh * tc * o * (1 - o);
        dc[so + u] = dcc * f + (1 - m) * dc[so + u]!;
      }
      const xo = (b * T + t) * G;
      for (let j = 0; j < G; j++) dxp[xo + j] = dz[j]!;
      // dh ← dz·W_hᵀ + (1 − m)⊙dh;  dW_h += h_{t−1}ᵀ·dz.
      const ho = t * BH + so;
      for (let k = 0; k < H; k++) {
        dh[so + k] = dotRow(dz, W, k * G, G) + (1 - m) * dh[so + k]!;
        addScaledRow(dW64, k * G, hs[ho + k]!, dz, G);
      }
    }
  }
  for (let x = 0; x < H * G; x++) dW[x] = dW64[x]!;
  for (let x = 0; x < BH; x++) {
    dh0[x] = dh[x]!;
    dc0[x] = dc[x]!;
  }
}

function lstmForwardKernel(io: (backend: unknown) => KernelArrayIO): tf.KernelFunc {
  return ((args: Args) => {
    const { xp, W_h, h0, c0, mask } = args.inputs as Record<string, tf.TensorInfo>;
    const [B, T, G] = xp!.shape as [number, number, number];
    const H = G / 4;
    const a = io(args.backend);
    const s = simdFor(H);
    return a.outputs([[B, T + 2, H], [T, B, G], [T + 1, B, H], [T, B, H], [T + 1, B, H]], ([packed, acts, cs, tcs, hs]) =>
      s
        ? lstmForwardSimd(s, B, T, H, a.read(xp!), a.read(W_h!), a.read(h0!), a.read(c0!), a.read(mask!), packed!, acts!, cs!, tcs!, hs!)
        : lstmForwardJs(B, T, H, a.read(xp!), a.read(W_h!), a.read(h0!), a.read(c0!), a.read(mask!), packed!, acts!, cs!, tcs!, hs!),
    );
  }) as tf.KernelFunc;
}

function lstmGradKernel(io: (backend: unknown) => KernelArrayIO): tf.KernelFunc {
  return ((args: Args) => {
    const { W_h, mask, acts, cs, tcs, hs, dy } = args.inputs as Record<string, tf.TensorInfo>;
    const [T, B, G] = acts!.shape as [number, number, number];
    const H = G / 4;
    const a = io(args.backend);
    const s = simdFor(H);
    return a.outputs([[B, T, G], [H, G], [B, H], [B, H]], ([dxp, dW, dh0, dc0]) =>
      s
        ? lstmBackwardSimd(s, B, T, H, a.read(W_h!), a.read(mask!), a.read(acts!), a.read(cs!), a.read(tcs!), a.read(hs!), a.read(dy!), dxp!, dW!, dh0!, dc0!)
        : lstmBackwardJs(B, T, H, a.read(W_h!), a.read(mask!), a.read(acts!), a.read(cs!), a.read(tcs!), a.read(hs!), a.read(dy!), dxp!, dW!, dh0!, dc0!),
    );
  }) as tf.KernelFunc;
}

/**
 * On webgpu the Grad kernels leave dW_h (and db_h) out — they return dz and what its product needs —
 * and it is one tfjs matMul here: a tiled GEMM over the B·T rows (./webgpu-sequence.ts).
 */
function weightGradOutside(): boolean {
  return tf.getBackend() === 'webgpu';
}

/** h_0 … h_{T−1} from hs `[T + 1, B, H]` as `[B·T, H]`, rows b·T + t (the rows of dxp `[B, T, G]`). */
function previousRows(hs: tf.Tensor): tf.Tensor2D {
  const [T1, B, H] = hs.shape as [number, number, number];
  return tf.reshape(tf.transpose(tf.slice(hs, [0, 0, 0], [T1 - 1, B, H]), [1, 0, 2]), [B * (T1 - 1), H]);
}

/** Σ_t h_{t−1}ᵀ·dz_t `[H, G]` for dz `[B, T, G]` (rows as previousRows). */
function hTimes(hPrev: tf.Tensor2D, dz: tf.Tensor): tf.Tensor2D {
  return tf.matMul(hPrev, tf.reshape(dz, [hPrev.shape[0], -1]), true, false);
}

const lstmGradConfig: tf.GradConfig = {
  kernelName: LSTM_SEQUENCE,
  inputsToSave: ['W_h', 'mask'],
  outputsToSave: [false, true, true, true, true],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
    const [W_h, mask, acts, cs, tcs, hs] = saved as tf.Tensor[];
    const dPacked = (Array.isArray(dy) ? dy[0] : dy)!;
    const inputs = { W_h: W_h!, mask: mask!, acts: acts!, cs: cs!, tcs: tcs!, hs: hs!, dy: dPacked };
    if (weightGradOutside()) {
      const [dxp, dh0, dc0] = tf.engine().runKernel(LSTM_SEQUENCE_GRAD, inputs) as tf.Tensor[];
      return { xp: () => dxp!, W_h: () => hTimes(previousRows(hs!), dxp!), h0: () => dh0!, c0: () => dc0!, mask: () => tf.zerosLike(mask!) };
    }
    const [dxp, dW, dh0, dc0] = tf.engine().runKernel(LSTM_SEQUENCE_GRAD, inputs) as tf.Tensor[];
    return { xp: () => dxp!, W_h: () => dW!, h0: () => dh0!, c0: () => dc0!, mask: () => tf.zerosLike(mask!) };
  },
};


// ---------------------------------------------------------------------------------------------
// The taught GRU (gate blocks r, z, n; reset before the candidate's recurrent matmul).

function gruForwardJs(
  B: number, T: number, H: number,
  xp: ArrayLike<number>, W: ArrayLike<number>, h0: ArrayLike<number>, mask: ArrayLike<number>,
  packed: Float32Array, acts: Float32Array, hs: Float32Array,
): void {
  const G = 3 * H;
  const BH = B * H;
  for (let x = 0; x < BH; x++) hs[x] = h0[x]!;
  const a = new Float64Array(G); // pre-activations: r, z from xp + h·W_rz; n's input part, then + (r⊙h)·W_n
  const rh = new Float64Array(H);
  for (let t = 0; t < T; t++) {
    const prev = t * BH;
    const next = (t + 1) * BH;
    for (let b = 0; b < B; b++) {
      const xo = (b * T + t) * G;
      for (let j = 0; j < G; j++) a[j] = xp[xo + j]!;
      const ho = prev + b * H;
      addRowTimesMatrix(a, 0, hs, ho, H, W, G, 0, 2 * H); // r, z
      const ao = (t * B + b) * G;
      for (let u = 0; u < 2 * H; u++) acts[ao + u] = sigmoid(a[u]!);
      for (let k = 0; k < H; k++) rh[k] = acts[ao + k]! * hs[ho + k]!;
      addRowTimesMatrix(a, 2 * H, rh, 0, H, W, G, 2 * H, H); // n: (r⊙h)·W_n
      const m = mask[b * T + t]!;
      const po = (b * (T + 1) + t) * H;
      for (let u = 0; u < H; u++) {
        const z = acts[ao + H + u]!;
        const n = Math.tanh(a[2 * H + u]!);
        acts[ao + 2 * H + u] = n;
        const hPrev = hs[ho + u]!;
        const hc = hPrev + z * (n - hPrev);
        packed[po + u] = m * hc;
        hs[next + b * H + u] = m === 1 ? hc : m === 0 ? hPrev : hPrev + m * (hc - hPrev);
      }
    }
  }
  for (let b = 0; b < B; b++) for (let u = 0; u < H; u++) packed[(b * (T + 1) + T) * H + u] = hs[T * BH + b * H + u]!;
}

function gruBackwardJs(
  B: number, T: number, H: number,
  W: ArrayLike<number>, mask: ArrayLike<number>, acts: ArrayLike<number>, hs: ArrayLike<number>, dy: ArrayLike<number>,
  dxp: Float32Array, dW: Float32Array, dh0: Float32Array,
): void {
  const G = 3 * H;
  const BH = B * H;
  const dh = new Float64Array(BH);
  for (let b = 0; b < B; b++) for (let u = 0; u < H; u++) dh[b * H + u] = dy[(b * (T + 1) + T) * H + u]!;
  const dW64 = new Float64Array(H * G);
  const dhh = new Float64Array(H); // dĥ
  const dnHat = new Float64Array(H);
  const dRh = new Float64Array(H);
  const drz = new Float64Array(2 * H);
  for (let t = T - 1; t >= 0; t--) {
    for (let b = 0; b < B; b++) {
      const m = mask[b * T + t]!;
      const ao = (t * B + b) * G;
      const so = b * H;
      const ho = t * BH + so; // h_{t−1}
      for (let u = 0; u < H; u++) {
        dhh[u] = m * (dy[(b * (T + 1) + t) * H + u]! + dh[so + u]!);
        const n = acts[ao + 2 * H + u]!;
        dnHat[u] = dhh[u]! * acts[ao + H + u]! * (1 - n * n);
      }
      // d(r⊙h) = dn̂·W_nᵀ
      for (let k = 0; k < H; k++) dRh[k] = dotRow(dnHat, W, k * G + 2 * H, H);
      for (let u = 0; u < H; u++) {
        const r = acts[ao + u]!;
        const z = acts[ao + H + u]!;
        const n = acts[ao + 2 * H + u]!;
        const hp = hs[ho + u]!;
        drz[u] = dRh[u]! * hp * r * (1 - r);
        drz[H + u] = dhh[u]! * (n - hp) * z * (1 - z);
      }
      const xo = (b * T + t) * G;
      for (let j = 0; j < 2 * H; j++) dxp[xo + j] = drz[j]!;
      for (let j = 0; j < H; j++) dxp[xo + 2 * H + j] = dnHat[j]!;
      for (let k = 0; k < H; k++) {
        const r = acts[ao + k]!;
        const z = acts[ao + H + k]!;
        dh[so + k] = dhh[k]! * (1 - z) + dRh[k]! * r + dotRow(drz, W, k * G, 2 * H) + (1 - m) * dh[so + k]!;
        // dW_rz += h_{t−1}ᵀ·[dr̂, dẑ];  dW_n += (r⊙h_{t−1})ᵀ·dn̂
        const hk = hs[ho + k]!;
        addScaledRow(dW64, k * G, hk, drz, 2 * H);
        addScaledRow(dW64, k * G + 2 * H, r * hk, dnHat, H);
      }
    }
  }
  for (let x = 0; x < H * G; x++) dW[x] = dW64[x]!;
  for (let x = 0; x < BH; x++) dh0[x] = dh[x]!;
}

// ---------------------------------------------------------------------------------------------
// The vanilla RNN, tanh or relu.

function rnnForwardJs(
  B: number, T: number, H: number, relu: boolean,
  xp: ArrayLike<number>, W: ArrayLike<number>, h0: ArrayLike<number>, mask: ArrayLike<number>,
  packed: Float32Array, acts: Float32Array, hs: Float32Array,
): void {
  const BH = B * H;
  for (let x = 0; x < BH; x++) hs[x] = h0[x]!;
  const a = new Float64Array(H);
  for (let t = 0; t < T; t++) {
    const prev = t * BH;
    const next = (t + 1) * BH;
    for (let b = 0; b < B; b++) {
      const xo = (b * T + t) * H;
      for (let j = 0; j < H; j++) a[j] = xp[xo + j]!;
      const ho = prev + b * H;
      addRowTimesMatrix(a, 0, hs, ho, H, W, H, 0, H);
      const m = mask[b * T + t]!;
      const ao = (t * B + b) * H;
      const po = (b * (T + 1) + t) * H;
      for (let u = 0; u < H; u++) {
        const hc = relu ? Math.max(0, a[u]!) : Math.tanh(a[u]!);
        acts[ao + u] = hc;
        packed[po + u] = m * hc;
        const hPrev = hs[ho + u]!;
        hs[next + b * H + u] = m === 1 ? hc : m === 0 ? hPrev : hPrev + m * (hc - hPrev);
      }
    }
  }
  for (let b = 0; b < B; b++) for (let u = 0; u < H; u++) packed[(b * (T + 1) + T) * H + u] = hs[T * BH + b * H + u]!;
}

function rnnBackwardJs(
  B: number, T: number, H: number, relu: boolean,
  W: ArrayLike<number>, mask: ArrayLike<number>, acts: ArrayLike<number>, hs: ArrayLike<number>, dy: ArrayLike<number>,
  dxp: Float32Array, dW: Float32Array, dh0: Float32Array,
): void {
  const BH = B * H;
  const dh = new Float64Array(BH);
  for (let b = 0; b < B; b++) for (let u = 0; u < H; u++) dh[b * H + u] = dy[(b * (T + 1) + T) * H + u]!;
  const dW64 = new Float64Array(H * H);
  const da = new Float64Array(H);
  for (let t = T - 1; t >= 0; t--) {
    for (let b = 0; b < B; b++) {
      const m = mask[b * T + t]!;
      const ao = (t * B + b) * H;
      const so = b * H;
      for (let u = 0; u < H; u++) {
        const y = acts[ao + u]!;
        const d = m * (dy[(b * (T + 1) + t) * H + u]! + dh[so + u]!);
        da[u] = relu ? (y > 0 ? d : 0) : d * (1 - y * y);
      }
      const xo = (b * T + t) * H;
      for (let j = 0; j < H; j++) dxp[xo + j] = da[j]!;
      const ho = t * BH + so;
      for (let k = 0; k < H; k++) {
        dh[so + k] = dotRow(da, W, k * H, H) + (1 - m) * dh[so + k]!;
        addScaledRow(dW64, k * H, hs[ho + k]!, da, H);
      }
    }
  }
  for (let x = 0; x < H * H; x++) dW[x] = dW64[x]!;
  for (let x = 0; x < BH; x++) dh0[x] = dh[x]!;
}

/** GRU (gates 3) or RNN (gates 1) kernels: same inputs and outputs, different math. */
function gruOrRnnForwardKernel(io: (backend: unknown) => KernelArrayIO, gates: 3 | 1): tf.KernelFunc {
  return ((args: Args) => {
    const { xp, W_h, h0, mask } = args.inputs as Record<string, tf.TensorInfo>;
    const [B, T, G] = xp!.shape as [number, number, number];
    const H = G / gates;
    const relu = (args.attrs as { activation?: string } | undefined)?.activation === 'relu';
    const a = io(args.backend);
    const s = simdFor(H);
    return a.outputs([[B, T + 1, H], [T, B, G], [T + 1, B, H]], ([packed, acts, hs]) =>
      s && gates === 3
        ? gruForwardSimd(s, B, T, H, a.read(xp!), a.read(W_h!), a.read(h0!), a.read(mask!), packed!, acts!, hs!)
        : s
        ? rnnForwardSimd(s, B, T, H, relu, a.read(xp!), a.read(W_h!), a.read(h0!), a.read(mask!), packed!, acts!, hs!)
        : gates === 3
        ? gruForwardJs(B, T, H, a.read(xp!), a.read(W_h!), a.read(h0!), a.read(mask!), packed!, acts!, hs!)
        : rnnForwardJs(B, T, H, relu, a.read(xp!), a.read(W_h!), a.read(h0!), a.read(mask!), packed!, acts!, hs!),
    );
  }) as tf.KernelFunc;
}

function gruOrRnnGradKernel(io: (backend: unknown) => KernelArrayIO, gates: 3 | 1): tf.KernelFunc {
  return ((args: Args) => {
    const { W_h, mask, acts, hs, dy } = args.inputs as Record<string, tf.TensorInfo>;
    const [T, B, G] = acts!.shape as [number, number, number];
    const H = G / gates;
    const relu = (args.attrs as { activation?: string } | undefined)?.activation === 'relu';
    const a = io(args.backend);
    const s = simdFor(H);
    return a.outputs([[B, T, G], [H, G], [B, H]], ([dxp, dW, dh0]) =>
      s && gates === 3
        ? gruBackwardSimd(s, B, T, H, a.read(W_h!), a.read(mask!), a.read(acts!), a.read(hs!), a.read(dy!), dxp!, dW!, dh0!)
        : s
        ? rnnBackwardSimd(s, B, T, H, relu, a.read(W_h!), a.read(mask!), a.read(acts!), a.read(hs!), a.read(dy!), dxp!, dW!, dh0!)
        : gates === 3
        ? gruBackwardJs(B, T, H, a.read(W_h!), a.read(mask!), a.read(acts!), a.read(hs!), a.read(dy!), dxp!, dW!, dh0!)
        : rnnBackwardJs(B, T, H, relu, a.read(W_h!), a.read(mask!), a.read(acts!), a.read(hs!), a.read(dy!), dxp!, dW!, dh0!),
    );
  }) as tf.KernelFunc;
}

function gruOrRnnGradConfig(kernelName: string, gradName: string): tf.GradConfig {
  return {
    kernelName,
    inputsToSave: ['W_h', 'mask'],
    outputsToSave: [false, true, true],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const [W_h, mask, acts, hs] = saved as tf.Tensor[];
      const dPacked = (Array.isArray(dy) ? dy[0] : dy)!;
      const inputs = { W_h: W_h!, mask: mask!, acts: acts!, hs: hs!, dy: dPacked };
      if (weightGradOutside()) {
        // The RNN: [dxp, dh0]; the taught GRU also r ⊙ h_{t−1} [T, B, H], the n block's source.
        const [dxp, dh0, rh] = tf.engine().runKernel(gradName, inputs, attrs) as tf.Tensor[];
        const dW = () => {
          const hPrev = previousRows(hs!);
          if (!rh) return hTimes(hPrev, dxp!);
          const [B, T, G] = dxp!.shape as [number, number, number];
          const H = G / 3;
          const rhRows = tf.reshape(tf.transpose(rh, [1, 0, 2]), [B * T, H]) as tf.Tensor2D;
          const [dzRz, dzN] = tf.split(dxp!, [2 * H, H], 2);
          return tf.concat([hTimes(hPrev, dzRz!), hTimes(rhRows, dzN!)], 1);
        };
        return { xp: () => dxp!, W_h: dW, h0: () => dh0!, mask: () => tf.zerosLike(mask!) };
      }
      const [dxp, dW, dh0] = tf.engine().runKernel(gradName, inputs, attrs) as tf.Tensor[];
      return { xp: () => dxp!, W_h: () => dW!, h0: () => dh0!, mask: () => tf.zerosLike(mask!) };
    },
  };
}

// The reset-after GRU (registered on webgpu only): its forward kernel's gradient (acts, an, hs saved).
const gruResetAfterGradConfig: tf.GradConfig = {
  kernelName: GRU_RESET_AFTER_SEQUENCE,
  inputsToSave: ['W_h', 'mask'],
  outputsToSave: [false, true, true, true],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
    const [W_h, mask, acts, an, hs] = saved as tf.Tensor[];
    const dPacked = (Array.isArray(dy) ? dy[0] : dy)!;
    const inputs = { W_h: W_h!, mask: mask!, acts: acts!, an: an!, hs: hs!, dy: dPacked };
    if (weightGradOutside()) {
      // [dxp, dh0, dhp [B, T, 3H]]: dW_h = H_prevᵀ·dhp, db_h = Σ dhp.
      const [dxp, dh0, dhp] = tf.engine().runKernel(GRU_RESET_AFTER_SEQUENCE_GRAD, inputs) as tf.Tensor[];
      const G = dhp!.shape[2]!;
      return { xp: () => dxp!, W_h: () => hTimes(previousRows(hs!), dhp!), b_h: () => tf.sum(tf.reshape(dhp!, [-1, G]), 0), h0: () => dh0!, mask: () => tf.zerosLike(mask!) };
    }
    const [dxp, dW, db, dh0] = tf.engine().runKernel(GRU_RESET_AFTER_SEQUENCE_GRAD, inputs) as tf.Tensor[];
    return { xp: () => dxp!, W_h: () => dW!, b_h: () => db!, h0: () => dh0!, mask: () => tf.zerosLike(mask!) };
  },
};

// ---------------------------------------------------------------------------------------------
// Registration, mode and the entry points.

/** Registers the kernels (cpu, wasm, webgpu; the reset-after GRU's on webgpu) and their gradients where missing; safe to call more than once. */
export function registerFusedSequences(): void {
  const kernels: [string, string, tf.KernelFunc][] = [];
  for (const [backend, io] of [['cpu', cpuArrayIO], ['wasm', wasmArrayIO]] as const) {
    kernels.push(
      [LSTM_SEQUENCE, backend, lstmForwardKernel(io)],
      [LSTM_SEQUENCE_GRAD, backend, lstmGradKernel(io)],
      [GRU_SEQUENCE, backend, gruOrRnnForwardKernel(io, 3)],
      [GRU_SEQUENCE_GRAD, backend, gruOrRnnGradKernel(io, 3)],
      [RNN_SEQUENCE, backend, gruOrRnnForwardKernel(io, 1)],
      [RNN_SEQUENCE_GRAD, backend, gruOrRnnGradKernel(io, 1)],
    );
  }
  const webgpu: [string, (args: never) => tf.TensorInfo[]][] = [
    [LSTM_SEQUENCE, lstmForwardWebgpu], [LSTM_SEQUENCE_GRAD, lstmGradWebgpu],
    [GRU_SEQUENCE, gruForwardWebgpu], [GRU_SEQUENCE_GRAD, gruGradWebgpu],
    [RNN_SEQUENCE, rnnForwardWebgpu], [RNN_SEQUENCE_GRAD, rnnGradWebgpu],
    [GRU_RESET_AFTER_SEQUENCE, gruResetAfterForwardWebgpu], [GRU_RESET_AFTER_SEQUENCE_GRAD, gruResetAfterGradWebgpu],
  ];
  for (const [name, f] of webgpu) kernels.push([name, 'webgpu', f as unknown as tf.KernelFunc]);
  for (const [kernelName, backendName, kernelFunc] of kernels) {
    if (!tf.getKernel(kernelName, backendName)) tf.registerKernel({ kernelName, backendName, kernelFunc });
  }
  if (!tf.getGradient(LSTM_SEQUENCE)) tf.registerGradient(lstmGradConfig);
  if (!tf.getGradient(GRU_SEQUENCE)) tf.registerGradient(gruOrRnnGradConfig(GRU_SEQUENCE, GRU_SEQUENCE_GRAD));
  if (!tf.getGradient(RNN_SEQUENCE)) tf.registerGradient(gruOrRnnGradConfig(RNN_SEQUENCE, RNN_SEQUENCE_GRAD));
  if (!tf.getGradient(GRU_RESET_AFTER_SEQUENCE)) tf.registerGradient(gruResetAfterGradConfig);
}

export type FusedSequenceMode = 'auto' | 'fused' | 'composite';
export const FUSED_SEQUENCE_MODES: readonly FusedSequenceMode[] = ['auto', 'fused', 'composite'];
let mode: FusedSequenceMode = 'auto';

/**
 * Where recurrent sequences (./lstm-sequence.ts, ./gru-sequence.ts, ./rnn-sequence.ts, hence
 * RNNLayer) use the fused kernels: `'auto'` (default) on the backends where they win (cpu; wasm
 * where the SIMD module runs them),
 * `'fused'` wherever they are registered (cpu, wasm, webgpu), `'composite'` never. Returns the previous mode.
 */
export function setFusedSequenceMode(m: FusedSequenceMode): FusedSequenceMode {
  if (!FUSED_SEQUENCE_MODES.includes(m)) throw new ConfigError(`setFusedSequenceMode: expected one of ${FUSED_SEQUENCE_MODES.join(', ')}, got ${JSON.stringify(m)}`);
  const before = mode;
  mode = m;
  return before;
}

/** The current mode (see setFusedSequenceMode). */
export function fusedSequenceMode(): FusedSequenceMode {
  return mode;
}

/**
 * Whether the fused kernels run on the active backend in the current mode, for hidden size `hidden`
 * (mode 'auto' takes wasm only where the SIMD module runs them: in Node, H a multiple of 4).
 */
export function fusedSequenceAvailable(hidden?: number): boolean {
  if (mode === 'composite') return false;
  if (mode === 'fused') return FUSED_SEQUENCE_BACKENDS.includes(tf.getBackend());
  return (hidden !== undefined && simdFor(hidden) ? AUTO_BACKENDS_SIMD : AUTO_BACKENDS).includes(tf.getBackend());
}

/**
 * Whether the reset-after GRU's sequence kernel runs here: where it is registered (webgpu) and
 * fusedSequenceAvailable says so (so on webgpu in mode 'fused' only, for now).
 */
export function fusedGruResetAfterAvailable(hidden?: number): boolean {
  return GRU_RESET_AFTER_BACKENDS.includes(tf.getBackend()) && fusedSequenceAvailable(hidden);
}

/** Runs a forward kernel with a float mask (all ones without one) and returns its packed output. */
function runPacked(kernel: string, inputs: tf.NamedTensorMap, B: number, T: number, mask?: tf.Tensor2D, attrs?: tf.NamedAttrMap): tf.Tensor3D {
  registerFusedSequences();
  return tf.tidy(() => {
    const m = mask === undefined ? tf.ones([B, T]) : tf.cast(mask, 'float32');
    return (tf.engine().runKernel(kernel, { ...inputs, mask: m }, attrs) as tf.Tensor[])[0] as tf.Tensor3D;
  });
}

/** LSTM: xp `[B, T, 4H]`, W_h `[H, 4H]`, h0, c0 `[B, H]`, mask? `[B, T]` → packed `[B, T + 2, H]` (y_1..y_T, h_T, c_T). */
export function fusedLstmPacked(xp: tf.Tensor3D, W_h: tf.Tensor2D, h0: tf.Tensor2D, c0: tf.Tensor2D, mask?: tf.Tensor2D): tf.Tensor3D {
  return runPacked(LSTM_SEQUENCE, { xp, W_h, h0, c0 }, xp.shape[0], xp.shape[1], mask);
}

/** Taught GRU: xp `[B, T, 3H]`, W_h `[H, 3H]`, h0 `[B, H]`, mask? → packed `[B, T + 1, H]` (y_1..y_T, h_T). */
export function fusedGruPacked(xp: tf.Tensor3D, W_h: tf.Tensor2D, h0: tf.Tensor2D, mask?: tf.Tensor2D): tf.Tensor3D {
  return runPacked(GRU_SEQUENCE, { xp, W_h, h0 }, xp.shape[0], xp.shape[1], mask);
}

/** Reset-after GRU: xp `[B, T, 3H]`, W_h `[H, 3H]`, b_h `[3H]`, h0 `[B, H]`, mask? → packed `[B, T + 1, H]` (y_1..y_T, h_T). */
export function fusedGruResetAfterPacked(xp: tf.Tensor3D, W_h: tf.Tensor2D, b_h: tf.Tensor1D, h0: tf.Tensor2D, mask?: tf.Tensor2D): tf.Tensor3D {
  return runPacked(GRU_RESET_AFTER_SEQUENCE, { xp, W_h, b_h, h0 }, xp.shape[0], xp.shape[1], mask);
}

/** Vanilla RNN: xp `[B, T, H]`, W_hh `[H, H]`, h0 `[B, H]`, mask? → packed `[B, T + 1, H]` (y_1..y_T, h_T). */
export function fusedRnnPacked(xp: tf.Tensor3D, W_hh: tf.Tensor2D, h0: tf.Tensor2D, activation: 'tanh' | 'relu', mask?: tf.Tensor2D): tf.Tensor3D {
  return runPacked(RNN_SEQUENCE, { xp, W_h: W_hh, h0 }, xp.shape[0], xp.shape[1], mask, { activation });
}
