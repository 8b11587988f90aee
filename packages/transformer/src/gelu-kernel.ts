// GELU (tanh approximation, ./feed-forward.ts) as ONE registered kernel each way, `AttendGelu` and
// `AttendGeluGrad`, registered on three backends:
//   cpu, wasm  @attend/core's WebAssembly SIMD module (packages/core/assembly/activations.ts; the
//              tensor split over its threads).
//   webgpu     WGSL through tfjs-backend-webgpu's program API (@attend/core's webgpuRowProgram): ONE
//              dispatch each way, an invocation per element, with the SIMD module's formula and constants
//              (tanh as 1 − 2/(e^{2u} + 1), as its tanhv); u is clamped to ±15 and x to ±10 inside the
//              polynomial (where tanh is ±1 in float32 already), so any finite x gives no NaN or ∞·0.
//   tensorflow Attend's native ops (@attend/core's native/attend_ops.cc: AttendGelu, AttendGeluGrad; the
//              same formula and clamp, blocks of 4,096 elements over TensorFlow's threads) where
//              `attend setup tensorflow` built them.
// The composite in ./feed-forward.ts is six elementwise ops forward and nine backward over [B·T, d_ff]
// (seven on tfjs-node; on webgpu each op is its own dispatch over the whole tensor): the reference,
// and what runs elsewhere (tensorflow without the native ops; cpu and wasm where the SIMD module does not load,
// e.g. browsers without cross-origin isolation).
import * as tf from '@tensorflow/tfjs-core';
import { cpuArrayIO, runTensorflowOp, simdKernels, tensorflowNativeOps, wasmArrayIO, webgpuRowProgram, wgslFloat, type KernelArrayIO, type WebGPUBackendLike } from '@attend/core';

export const GELU = 'AttendGelu';
export const GELU_GRAD = 'AttendGeluGrad';
/** gelu(x + b) for a dense layer's pre-activations x `[N, F]` and bias b `[F]` (tensorflow with Attend's native ops only). */
export const BIAS_GELU = 'AttendBiasGelu';
export const BIAS_GELU_GRAD = 'AttendBiasGeluGrad';
const SIMD_BACKENDS = ['cpu', 'wasm'] as const;
/** √(2/π) and 0.044715, the tanh approximation's constants (the SIMD module's, and the composite's in ./feed-forward.ts). */
export const GELU_C = Math.sqrt(2 / Math.PI);
export const GELU_A = 0.044715;

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

// ---------------------------------------------------------------------------------------------
// webgpu: one dispatch each way, an invocation per element.

/** WGSL: t = tanh(c·(v + a·v³)) for v = x clamped to ±10, as the SIMD module's tanhv, with u clamped to ±15. */
const PRELUDE = `
fn attendGeluTanh(v : f32) -> f32 {
  let u = clamp(${wgslFloat(GELU_C)} * v * (1.0 + ${wgslFloat(GELU_A)} * v * v), -15.0, 15.0);
  return 1.0 - 2.0 / (exp(u + u) + 1.0);
}`;

function webgpuKernel(grad: boolean): tf.KernelFunc {
  return ((args: Args) => {
    const { x, dy } = args.inputs as Record<string, tf.TensorInfo>;
    const be = args.backend as WebGPUBackendLike;
    const n = x!.shape.reduce((a, b) => a * b, 1);
    // y = 0.5·x·(1 + t);  dx = dy·0.5·((1 + t) + v·(1 − t²)·c·(1 + 3a·v²))  (v = x clamped: t is ±1 past ±10).
    const body = grad
      ? `let v = clamp(x[index], -10.0, 10.0);
        let t = attendGeluTanh(v);
        let inner = (1.0 - t * t) * ${wgslFloat(GELU_C)} * (1.0 + ${wgslFloat(3 * GELU_A)} * v * v);
        result[index] = dy[index] * (0.5 * ((1.0 + t) + v * inner));`
      : `let xi = x[index];
        result[index] = 0.5 * xi * (1.0 + attendGeluTanh(clamp(xi, -10.0, 10.0)));`;
    const program = webgpuRowProgram(`attendGelu${grad ? 'Grad' : ''}_${n}`, grad ? ['x', 'dy'] : ['x'], [...x!.shape], n, body, { prelude: PRELUDE });
    return be.runWebGPUProgram(program, grad ? [x!, dy!] : [x!], 'float32');
  }) as unknown as tf.KernelFunc;
}

/** tensorflow: Attend's native ops. */
function tensorflowKernel(grad: boolean): tf.KernelFunc {
  return ((args: Args) => {
    const { x, dy } = args.inputs as Record<string, tf.TensorInfo>;
    return runTensorflowOp(grad ? 'AttendGeluGrad' : 'AttendGelu', grad ? [x!, dy!] : [x!], [], 1)[0];
  }) as unknown as tf.KernelFunc;
}

const tensorflowBiasGelu = ((args: Args) => {
  const { x, b } = args.inputs as Record<string, tf.TensorInfo>;
  return runTensorflowOp('AttendBiasGelu', [x!, b!], [], 1)[0];
}) as unknown as tf.KernelFunc;

const tensorflowBiasGeluGrad = ((args: Args) => {
  const { x, b, dy } = args.inputs as Record<string, tf.TensorInfo>;
  return runTensorflowOp('AttendBiasGeluGrad', [x!, b!, dy!], [], 2);
}) as unknown as tf.KernelFunc;

/** Registers both kernels (cpu, wasm, webgpu, tensorflow) and the gradient where missing; safe to call more than once. */
export function registerGeluKernels(): void {
  if (!tf.getKernel(BIAS_GELU, 'tensorflow')) tf.registerKernel({ kernelName: BIAS_GELU, backendName: 'tensorflow', kernelFunc: tensorflowBiasGelu });
  if (!tf.getKernel(BIAS_GELU_GRAD, 'tensorflow')) tf.registerKernel({ kernelName: BIAS_GELU_GRAD, backendName: 'tensorflow', kernelFunc: tensorflowBiasGeluGrad });
  if (!tf.getGradient(BIAS_GELU)) {
    tf.registerGradient({
      kernelName: BIAS_GELU,
      inputsToSave: ['x', 'b'],
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [dx, db] = tf.engine().runKernel(BIAS_GELU_GRAD, { x: saved[0]!, b: saved[1]!, dy: dy as tf.Tensor }) as tf.Tensor[];
        return { x: () => dx!, b: () => db! };
      },
    });
  }
  if (!tf.getKernel(GELU, 'tensorflow')) tf.registerKernel({ kernelName: GELU, backendName: 'tensorflow', kernelFunc: tensorflowKernel(false) });
  if (!tf.getKernel(GELU_GRAD, 'tensorflow')) tf.registerKernel({ kernelName: GELU_GRAD, backendName: 'tensorflow', kernelFunc: tensorflowKernel(true) });
  for (const [backendName, io] of [['cpu', cpuArrayIO], ['wasm', wasmArrayIO]] as const) {
    if (!tf.getKernel(GELU, backendName)) tf.registerKernel({ kernelName: GELU, backendName, kernelFunc: kernel(io, false) });
    if (!tf.getKernel(GELU_GRAD, backendName)) tf.registerKernel({ kernelName: GELU_GRAD, backendName, kernelFunc: kernel(io, true) });
  }
  if (!tf.getKernel(GELU, 'webgpu')) tf.registerKernel({ kernelName: GELU, backendName: 'webgpu', kernelFunc: webgpuKernel(false) });
  if (!tf.getKernel(GELU_GRAD, 'webgpu')) tf.registerKernel({ kernelName: GELU_GRAD, backendName: 'webgpu', kernelFunc: webgpuKernel(true) });
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

/** Whether `gelu` runs as the kernel here: float32, on webgpu, on tensorflow with Attend's native ops, or on cpu or wasm where the SIMD module loads. */
export function geluKernelAvailable(x: tf.Tensor): boolean {
  if (!enabled || x.dtype !== 'float32') return false;
  const backend = tf.getBackend();
  if (backend === 'tensorflow') return tensorflowNativeOps();
  return backend === 'webgpu' || ((SIMD_BACKENDS as readonly string[]).includes(backend) && simdKernels() !== null);
}

/** GELU through the kernel (call where geluKernelAvailable). */
export function geluKernel<T extends tf.Tensor>(x: T): T {
  registerGeluKernels();
  return tf.engine().runKernel(GELU, { x }) as T;
}

/** Whether `biasGelu` runs here: float32 `[N, F]` on tensorflow with Attend's native ops (and the GELU kernel on). */
export function biasGeluAvailable(x: tf.Tensor): boolean {
  return enabled && x.dtype === 'float32' && x.rank === 2 && tf.getBackend() === 'tensorflow' && tensorflowNativeOps();
}

/** gelu(x + b), x `[N, F]`, b `[F]`, as one kernel each way (call where biasGeluAvailable). */
export function biasGelu(x: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D {
  registerGeluKernels();
  return tf.engine().runKernel(BIAS_GELU, { x, b }) as tf.Tensor2D;
}
