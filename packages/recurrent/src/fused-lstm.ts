// The LSTM over a whole sequence as ONE registered kernel per direction of the pass, like tfjs's own
// kernels: `AttendLSTMSequence` (forward over all T steps, keeping what backward needs) and
// `AttendLSTMSequenceGrad` (BPTT), with the gradient registered for the forward kernel. Plain JS over
// the backend's arrays, registered on `cpu` (used there automatically: it beats the per-step ops of
// ./lstm-sequence.ts, since the pure-JS backend pays for every op and every intermediate array) and on
// `wasm` (not used automatically: there XNNPACK's matmuls in the per-step path win; see
// setFusedLstmMode). Same equations, gate order (i, f, g, o), mask semantics and packed output as
// ./lstm-sequence.ts, which stays the reference:
//   forward   z = xp_t + h_{t−1}·W_h;  i, f, o = σ(z_i, z_f, z_o);  g = tanh(z_g)
//             ĉ = f⊙c_{t−1} + i⊙g;  ĥ = o⊙tanh(ĉ);  c_t = m⊙ĉ + (1 − m)⊙c_{t−1} (h_t likewise);  y_t = m⊙ĥ
//   backward  dĥ = m⊙(dy_t + dh);  dĉ = m⊙dc + dĥ⊙o⊙(1 − tanh²ĉ)
//             dz = [dĉ⊙g⊙i(1−i), dĉ⊙c_{t−1}⊙f(1−f), dĉ⊙i⊙(1−g²), dĥ⊙tanh(ĉ)⊙o(1−o)]
//             dh ← dz·W_hᵀ + (1 − m)⊙dh;  dc ← dĉ⊙f + (1 − m)⊙dc;  dW_h += h_{t−1}ᵀ·dz;  dxp_t = dz
// Kernels:
//   AttendLSTMSequence      xp [B, T, 4H], W_h [H, 4H], h0, c0 [B, H], mask [B, T] (1/0 floats) →
//                           packed [B, T + 2, H] (y_1..y_T, h_T, c_T), acts [T, B, 4H] (i, f, g, o
//                           after their nonlinearities), cs [T + 1, B, H] (c_0..c_T, carried),
//                           tcs [T, B, H] (tanh ĉ), hs [T + 1, B, H] (h_0..h_T, carried)
//   AttendLSTMSequenceGrad  W_h, mask, acts, cs, tcs, hs, dy (d packed) → dxp, dW_h, dh0, dc0
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, cpuArrayIO, wasmArrayIO, type KernelArrayIO } from '@attend/core';

export const LSTM_SEQUENCE = 'AttendLSTMSequence';
export const LSTM_SEQUENCE_GRAD = 'AttendLSTMSequenceGrad';

/** The backends this module has kernels for. */
export const FUSED_LSTM_BACKENDS: readonly string[] = ['cpu', 'wasm'];
/** Where mode 'auto' uses them: where they beat the per-step path (see the header). */
const AUTO_BACKENDS: readonly string[] = ['cpu'];

type Args = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

function forwardJs(
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
      for (let k = 0; k < H; k++) {
        const hk = hs[ho + k]!;
        if (hk === 0) continue;
        const wo = k * G;
        for (let j = 0; j < G; j++) z[j] += hk * W[wo + j]!;
      }
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

function backwardJs(
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
        const wo = k * G;
        let s = 0;
        for (let j = 0; j < G; j++) s += dz[j]! * W[wo + j]!;
        dh[so + k] = s + (1 - m) * dh[so + k]!;
        const hk = hs[ho + k]!;
        if (hk === 0) continue;
        for (let j = 0; j < G; j++) dW64[wo + j] += hk * dz[j]!;
      }
    }
  }
  for (let x = 0; x < H * G; x++) dW[x] = dW64[x]!;
  for (let x = 0; x < BH; x++) {
    dh0[x] = dh[x]!;
    dc0[x] = dc[x]!;
  }
}

function forwardKernel(io: (backend: unknown) => KernelArrayIO): tf.KernelFunc {
  return ((args: Args) => {
    const { xp, W_h, h0, c0, mask } = args.inputs as Record<string, tf.TensorInfo>;
    const [B, T, G] = xp!.shape as [number, number, number];
    const H = G / 4;
    const a = io(args.backend);
    return a.outputs([[B, T + 2, H], [T, B, G], [T + 1, B, H], [T, B, H], [T + 1, B, H]], ([packed, acts, cs, tcs, hs]) =>
      forwardJs(B, T, H, a.read(xp!), a.read(W_h!), a.read(h0!), a.read(c0!), a.read(mask!), packed!, acts!, cs!, tcs!, hs!),
    );
  }) as tf.KernelFunc;
}

function gradKernel(io: (backend: unknown) => KernelArrayIO): tf.KernelFunc {
  return ((args: Args) => {
    const { W_h, mask, acts, cs, tcs, hs, dy } = args.inputs as Record<string, tf.TensorInfo>;
    const [T, B, G] = acts!.shape as [number, number, number];
    const H = G / 4;
    const a = io(args.backend);
    return a.outputs([[B, T, G], [H, G], [B, H], [B, H]], ([dxp, dW, dh0, dc0]) =>
      backwardJs(B, T, H, a.read(W_h!), a.read(mask!), a.read(acts!), a.read(cs!), a.read(tcs!), a.read(hs!), a.read(dy!), dxp!, dW!, dh0!, dc0!),
    );
  }) as tf.KernelFunc;
}

const gradConfig: tf.GradConfig = {
  kernelName: LSTM_SEQUENCE,
  inputsToSave: ['W_h', 'mask'],
  outputsToSave: [false, true, true, true, true],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
    const [W_h, mask, acts, cs, tcs, hs] = saved as tf.Tensor[];
    const dPacked = (Array.isArray(dy) ? dy[0] : dy)!;
    const [dxp, dW, dh0, dc0] = tf.engine().runKernel(LSTM_SEQUENCE_GRAD, { W_h: W_h!, mask: mask!, acts: acts!, cs: cs!, tcs: tcs!, hs: hs!, dy: dPacked }) as tf.Tensor[];
    return { xp: () => dxp!, W_h: () => dW!, h0: () => dh0!, c0: () => dc0!, mask: () => tf.zerosLike(mask!) };
  },
};

/** Registers the kernels (cpu, wasm) and the gradient where missing; safe to call more than once. */
export function registerFusedLstm(): void {
  const kernels: [string, string, tf.KernelFunc][] = [
    [LSTM_SEQUENCE, 'cpu', forwardKernel(cpuArrayIO)],
    [LSTM_SEQUENCE_GRAD, 'cpu', gradKernel(cpuArrayIO)],
    [LSTM_SEQUENCE, 'wasm', forwardKernel(wasmArrayIO)],
    [LSTM_SEQUENCE_GRAD, 'wasm', gradKernel(wasmArrayIO)],
  ];
  for (const [kernelName, backendName, kernelFunc] of kernels) {
    if (!tf.getKernel(kernelName, backendName)) tf.registerKernel({ kernelName, backendName, kernelFunc });
  }
  if (!tf.getGradient(LSTM_SEQUENCE)) tf.registerGradient(gradConfig);
}

export type FusedLstmMode = 'auto' | 'fused' | 'composite';
export const FUSED_LSTM_MODES: readonly FusedLstmMode[] = ['auto', 'fused', 'composite'];
let mode: FusedLstmMode = 'auto';

/**
 * Where LSTM sequences (./lstm-sequence.ts, hence RNNLayer) use the fused kernel: `'auto'` (default)
 * on the backends where it wins (cpu), `'fused'` wherever it is registered (cpu, wasm),
 * `'composite'` never. Returns the previous mode.
 */
export function setFusedLstmMode(m: FusedLstmMode): FusedLstmMode {
  if (!FUSED_LSTM_MODES.includes(m)) throw new ConfigError(`setFusedLstmMode: expected one of ${FUSED_LSTM_MODES.join(', ')}, got ${JSON.stringify(m)}`);
  const before = mode;
  mode = m;
  return before;
}

/** Whether the fused kernel runs on the active backend in the current mode. */
export function fusedLstmAvailable(): boolean {
  if (mode === 'composite') return false;
  const backend = tf.getBackend();
  return (mode === 'fused' ? FUSED_LSTM_BACKENDS : AUTO_BACKENDS).includes(backend);
}

/**
 * The fused kernel: xp `[B, T, 4H]`, W_h `[H, 4H]`, h0, c0 `[B, H]`, optional mask `[B, T]` →
 * packed `[B, T + 2, H]` (y_1..y_T, h_T, c_T), differentiable w.r.t. xp, W_h, h0 and c0. Yours.
 */
export function fusedLstmPacked(xp: tf.Tensor3D, W_h: tf.Tensor2D, h0: tf.Tensor2D, c0: tf.Tensor2D, mask?: tf.Tensor2D): tf.Tensor3D {
  registerFusedLstm();
  const [B, T] = xp.shape;
  return tf.tidy(() => {
    const m = mask === undefined ? tf.ones([B, T]) : tf.cast(mask, 'float32');
    const outs = tf.engine().runKernel(LSTM_SEQUENCE, { xp, W_h, h0, c0, mask: m }) as tf.Tensor[];
    return outs[0] as tf.Tensor3D;
  });
}
