// One LSTM step's elementwise part as ONE registered kernel, `AttendLSTMStep`, for generation on the
// cpu and wasm backends (plain JS over the backend's arrays): with xp = x·W_x + b and hW = h·W_h
// computed by the matmuls, z = xp + hW; i, f, o = σ(z_i, z_f, z_o); g = tanh(z_g); c' = f⊙c + i⊙g;
// h' = o⊙tanh(c') — the dozen small ops of ./lstm.ts's stepper, which at batch 1 cost more in
// per-op overhead than their arithmetic. Inference only (no gradient is registered): RNNLayer.step
// uses it when no gradient is being recorded. The taught GRU likewise, in two kernels around the
// candidate's matmul (the reset gate applies before it): [r, z] = σ(xp_rz + h·W_rz), then
// h' = h + z⊙(tanh(xp_n + (r⊙h)·W_n) − h).
//   AttendLSTMStep      xp, hW [B, 4H] (gate blocks i, f, g, o), c [B, H] → h' [B, H], c' [B, H]
//   AttendGRUStepGates  xp [B, 3H] (r, z, n), hW [B, 2H] (h·W_rz), h [B, H] → r⊙h [B, H], z [B, H]
//   AttendGRUStepOut    xp [B, 3H], rhW [B, H] ((r⊙h)·W_n), z, h [B, H] → h' [B, H]
import * as tf from '@tensorflow/tfjs-core';
import { cpuArrayIO, wasmArrayIO, type KernelArrayIO } from '@attend/core';
import { recordingGradients } from './derived-weights.js';

export const LSTM_STEP = 'AttendLSTMStep';
export const GRU_STEP_GATES = 'AttendGRUStepGates';
export const GRU_STEP_OUT = 'AttendGRUStepOut';
const BACKENDS = ['cpu', 'wasm'] as const;

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

function kernel(io: (backend: unknown) => KernelArrayIO): tf.KernelFunc {
  return ((args: { inputs: tf.NamedTensorInfoMap; backend: unknown }) => {
    const { xp, hW, c } = args.inputs as Record<string, tf.TensorInfo>;
    const [B, H] = c!.shape as [number, number];
    const a = io(args.backend);
    return a.outputs([[B, H], [B, H]], ([hOut, cOut]) => {
      const x = a.read(xp!);
      const r = a.read(hW!);
      const cPrev = a.read(c!);
      for (let b = 0; b < B; b++) {
        const z = b * 4 * H;
        for (let u = 0; u < H; u++) {
          const i = sigmoid(x[z + u]! + r[z + u]!);
          const f = sigmoid(x[z + H + u]! + r[z + H + u]!);
          const g = Math.tanh(x[z + 2 * H + u]! + r[z + 2 * H + u]!);
          const o = sigmoid(x[z + 3 * H + u]! + r[z + 3 * H + u]!);
          const cc = f * cPrev[b * H + u]! + i * g;
          cOut![b * H + u] = cc;
          hOut![b * H + u] = o * Math.tanh(cc);
        }
      }
    });
  }) as tf.KernelFunc;
}

function gruGates(io: (backend: unknown) => KernelArrayIO): tf.KernelFunc {
  return ((args: { inputs: tf.NamedTensorInfoMap; backend: unknown }) => {
    const { xp, hW, h } = args.inputs as Record<string, tf.TensorInfo>;
    const [B, H] = h!.shape as [number, number];
    const a = io(args.backend);
    return a.outputs([[B, H], [B, H]], ([rh, zOut]) => {
      const x = a.read(xp!);
      const r = a.read(hW!);
      const hp = a.read(h!);
      for (let b = 0; b < B; b++) {
        for (let u = 0; u < H; u++) {
          rh![b * H + u] = sigmoid(x[b * 3 * H + u]! + r[b * 2 * H + u]!) * hp[b * H + u]!;
          zOut![b * H + u] = sigmoid(x[b * 3 * H + H + u]! + r[b * 2 * H + H + u]!);
        }
      }
    });
  }) as tf.KernelFunc;
}

function gruOut(io: (backend: unknown) => KernelArrayIO): tf.KernelFunc {
  return ((args: { inputs: tf.NamedTensorInfoMap; backend: unknown }) => {
    const { xp, rhW, z, h } = args.inputs as Record<string, tf.TensorInfo>;
    const [B, H] = h!.shape as [number, number];
    const a = io(args.backend);
    return a.outputs([[B, H]], ([hOut]) => {
      const x = a.read(xp!);
      const c = a.read(rhW!);
      const zz = a.read(z!);
      const hp = a.read(h!);
      for (let b = 0; b < B; b++) {
        for (let u = 0; u < H; u++) {
          const n = Math.tanh(x[b * 3 * H + 2 * H + u]! + c[b * H + u]!);
          const hv = hp[b * H + u]!;
          hOut![b * H + u] = hv + zz[b * H + u]! * (n - hv);
        }
      }
    });
  }) as tf.KernelFunc;
}

/** Registers the kernels on cpu and wasm where missing; safe to call more than once. */
export function registerStepKernels(): void {
  for (const [backendName, io] of [['cpu', cpuArrayIO], ['wasm', wasmArrayIO]] as const) {
    for (const [kernelName, make] of [[LSTM_STEP, kernel], [GRU_STEP_GATES, gruGates], [GRU_STEP_OUT, gruOut]] as const) {
      if (!tf.getKernel(kernelName, backendName)) tf.registerKernel({ kernelName, backendName, kernelFunc: make(io) });
    }
  }
}

/** Whether `lstmStepKernel` may run now: cpu or wasm, and no gradient being recorded. */
export function stepKernelAvailable(): boolean {
  return (BACKENDS as readonly string[]).includes(tf.getBackend()) && !recordingGradients();
}

/** h', c' from xp, hW `[B, 4H]` and c `[B, H]` (call where stepKernelAvailable). */
export function lstmStepKernel(xp: tf.Tensor2D, hW: tf.Tensor2D, c: tf.Tensor2D): { h: tf.Tensor2D; c: tf.Tensor2D } {
  registerStepKernels();
  const [h, cNext] = tf.engine().runKernel(LSTM_STEP, { xp, hW, c }) as tf.Tensor2D[];
  return { h: h!, c: cNext! };
}

/** The taught GRU's step from xp `[B, 3H]`, h `[B, H]` and W_h split into W_rz `[H, 2H]`, W_n `[H, H]` (call where stepKernelAvailable). */
export function gruStepKernel(xp: tf.Tensor2D, h: tf.Tensor2D, W_rz: tf.Tensor2D, W_n: tf.Tensor2D): tf.Tensor2D {
  registerStepKernels();
  return tf.tidy(() => {
    const [rh, z] = tf.engine().runKernel(GRU_STEP_GATES, { xp, hW: tf.matMul(h, W_rz), h }) as tf.Tensor2D[];
    return (tf.engine().runKernel(GRU_STEP_OUT, { xp, rhW: tf.matMul(rh!, W_n), z: z!, h }) as tf.Tensor2D[])[0]!;
  });
}
