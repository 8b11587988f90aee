// GELU (tanh approximation, ./feed-forward.ts) as ONE registered kernel each way, `AttendGelu` and
// `AttendGeluGrad`, on @attend/core's WebAssembly SIMD module (packages/core/assembly/activations.ts;
// the tensor split over its threads), registered on cpu and wasm. The composite in ./feed-forward.ts
// is a dozen elementwise ops each way over [B·T, d_ff] (tfjs-wasm's Tanh alone is scalar libm): the
// reference, and what runs where the SIMD module does not (tensorflow, webgpu, browsers without
// cross-origin isolation).
import * as tf from '@tensorflow/tfjs-core';
import { cpuArrayIO, simdKernels, wasmArrayIO, type KernelArrayIO } from '@attend/core';

export const GELU = 'AttendGelu';
export const GELU_GRAD = 'AttendGeluGrad';
const BACKENDS = ['cpu', 'wasm'] as const;

type Args = { inputs: tf.NamedTensorInfoMap; backend: unknown };

function kernel(io: (backend: unknown) => KernelArrayIO, grad: boolean): tf.KernelFunc {
  return ((args: Args) => {
    const { x, dy } = args.inputs as Record<string, tf.TensorInfo>;
    const s = simdKernels();
    if (!s) throw new Error(`${grad ? GELU_GRAD : GELU}: the SIMD module does not run here (${JSON.stringify(x!.shape)})`);
    const a = io(args.backend);
    return a.outputs([[...x!.shape]], ([out]) => (grad ? s.elementwise('geluGrad', [a.read(x!), a.read(dy!)], out!) : s.elementwise('gelu', [a.read(x!)], out!)))[0];
  }) as tf.KernelFunc;
}

/** Registers both kernels (cpu, wasm) and the gradient where missing; safe to call more than once. */
export function registerGeluKernels(): void {
  for (const [backendName, io] of [['cpu', cpuArrayIO], ['wasm', wasmArrayIO]] as const) {
    if (!tf.getKernel(GELU, backendName)) tf.registerKernel({ kernelName: GELU, backendName, kernelFunc: kernel(io, false) });
    if (!tf.getKernel(GELU_GRAD, backendName)) tf.registerKernel({ kernelName: GELU_GRAD, backendName, kernelFunc: kernel(io, true) });
  }
  if (!tf.getGradient(GELU)) {
    tf.registerGradient({
      kernelName: GELU,
      inputsToSave: ['x'],
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => ({ x: () => tf.engine().runKernel(GELU_GRAD, { x: saved[0]!, dy: dy as tf.Tensor }) as tf.Tensor }),
    });
  }
}

let enabled = true;

/** Turns the kernel off (the composite runs everywhere) or on; returns the previous setting. For tests and benchmarks. */
export function setGeluKernel(on: boolean): boolean {
  const before = enabled;
  enabled = on;
  return before;
}

/** Whether `gelu` runs as the kernel here: float32, on cpu or wasm, where the SIMD module loads. */
export function geluKernelAvailable(x: tf.Tensor): boolean {
  return enabled && x.dtype === 'float32' && (BACKENDS as readonly string[]).includes(tf.getBackend()) && simdKernels() !== null;
}

/** GELU through the kernel (call where geluKernelAvailable). */
export function geluKernel<T extends tf.Tensor>(x: T): T {
  registerGeluKernels();
  return tf.engine().runKernel(GELU, { x }) as T;
}
