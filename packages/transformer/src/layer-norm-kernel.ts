// Layer normalisation (./layer-norm.ts) as ONE registered kernel each way, `AttendLayerNorm` and
// `AttendLayerNormGrad`, on @attend/core's WebAssembly SIMD module (packages/core/assembly/
// activations.ts; rows split over its threads, each thread summing its own part of dγ and dβ),
// registered on cpu and wasm. The composite in ./layer-norm.ts (nine ops forward, a dozen backward
// over [N, D]) is the reference and runs elsewhere, or where D is not a multiple of 4.
//   AttendLayerNorm      x [N…, D], gamma [D], beta [D] (optional) (attr eps) → y, x̂ (both shaped like x), rstd [N]
//   AttendLayerNormGrad  dy, x̂, rstd, gamma → dx, dγ, dβ
import * as tf from '@tensorflow/tfjs-core';
import { cpuArrayIO, f32Bits, simdKernels, wasmArrayIO, type KernelArrayIO, type SimdKernels } from '@attend/core';

export const LAYER_NORM = 'AttendLayerNorm';
export const LAYER_NORM_GRAD = 'AttendLayerNormGrad';

type Args = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };


function simdOrThrow(name: string): SimdKernels {
  const s = simdKernels();
  if (!s) throw new Error(`${name}: the SIMD module does not run here`);
  return s;
}

function forward(io: (backend: unknown) => KernelArrayIO): tf.KernelFunc {
  return ((args: Args) => {
    const { x, gamma, beta } = args.inputs as Record<string, tf.TensorInfo>;
    const eps = (args.attrs as { eps: number }).eps;
    const s = simdOrThrow(LAYER_NORM);
    const D = x!.shape[x!.shape.length - 1]!;
    const N = x!.shape.reduce((a, b) => a * b, 1) / D;
    const a = io(args.backend);
    return a.outputs([[...x!.shape], [...x!.shape], [N]], ([y, xhat, rstd]) => {
      const alloc = s.layout();
      const [pX, pG, pB, pY, pH, pR] = [N * D, D, D, N * D, N * D, N].map(alloc) as number[];
      s.write([[a.read(x!), pX!], [a.read(gamma!), pG!], [beta ? a.read(beta) : new Float32Array(D), pB!]]); // no beta: no shift
      // layerNorm(y, xhat, rstd, x, gamma, beta, r0, r1, D, epsBits)
      s.run('layerNorm', s.split(N, 64).map(([r0, r1]) => [pY!, pH!, pR!, pX!, pG!, pB!, r0, r1, D, f32Bits(eps)]));
      s.read([[y!, pY!], [xhat!, pH!], [rstd!, pR!]]);
    });
  }) as tf.KernelFunc;
}

function backward(io: (backend: unknown) => KernelArrayIO): tf.KernelFunc {
  return ((args: Args) => {
    const { dy, xhat, rstd, gamma } = args.inputs as Record<string, tf.TensorInfo>;
    const s = simdOrThrow(LAYER_NORM_GRAD);
    const D = gamma!.shape[0]!;
    const N = rstd!.shape[0]!;
    const a = io(args.backend);
    return a.outputs([[...dy!.shape], [D], [D]], ([dx, dGamma, dBeta]) => {
      const parts = s.split(N, 64);
      const alloc = s.layout();
      const [pDy, pH, pR, pG, pDx] = [N * D, N * D, N, D, N * D].map(alloc) as number[];
      const partials = parts.map(() => [alloc(D), alloc(D)] as [number, number]);
      s.write([[a.read(dy!), pDy!], [a.read(xhat!), pH!], [a.read(rstd!), pR!], [a.read(gamma!), pG!]]);
      // layerNormGrad(dx, dgamma, dbeta, dy, xhat, rstd, gamma, r0, r1, D)
      s.run('layerNormGrad', parts.map(([r0, r1], i) => [pDx!, partials[i]![0], partials[i]![1], pDy!, pH!, pR!, pG!, r0, r1, D]));
      s.read([[dx!, pDx!]]);
      const v = s.f32();
      dGamma!.fill(0); // a wasm output is not zeroed
      dBeta!.fill(0);
      for (const [pg, pb] of partials) {
        for (let j = 0; j < D; j++) {
          dGamma![j] += v[pg / 4 + j]!;
          dBeta![j] += v[pb / 4 + j]!;
        }
      }
    });
  }) as tf.KernelFunc;
}

/** Registers both kernels (cpu, wasm) and the gradient where missing; safe to call more than once. */
export function registerLayerNormKernels(): void {
  for (const [backendName, io] of [['cpu', cpuArrayIO], ['wasm', wasmArrayIO]] as const) {
    if (!tf.getKernel(LAYER_NORM, backendName)) tf.registerKernel({ kernelName: LAYER_NORM, backendName, kernelFunc: forward(io) });
    if (!tf.getKernel(LAYER_NORM_GRAD, backendName)) tf.registerKernel({ kernelName: LAYER_NORM_GRAD, backendName, kernelFunc: backward(io) });
  }
  if (!tf.getGradient(LAYER_NORM)) {
    tf.registerGradient({
      kernelName: LAYER_NORM,
      inputsToSave: ['gamma'],
      outputsToSave: [false, true, true],
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [gamma, xhat, rstd] = saved as tf.Tensor[];
        const d = (Array.isArray(dy) ? dy[0] : dy)!;
        const [dx, dGamma, dBeta] = tf.engine().runKernel(LAYER_NORM_GRAD, { dy: d, xhat: xhat!, rstd: rstd!, gamma: gamma! }) as tf.Tensor[];
        return { x: () => dx!, gamma: () => dGamma!, beta: () => dBeta! };
      },
    });
  }
}

let enabled = true;

/** Turns the kernel off (the composite runs everywhere) or on; returns the previous setting. For tests and benchmarks. */
export function setLayerNormKernel(on: boolean): boolean {
  const before = enabled;
  enabled = on;
  return before;
}

/** Whether LayerNorm runs as the kernel here: float32, D a multiple of 4, on cpu or wasm, where the SIMD module loads. */
export function layerNormKernelAvailable(x: tf.Tensor): boolean {
  const D = x.shape[x.rank - 1]!;
  return enabled && x.dtype === 'float32' && D % 4 === 0 && ['cpu', 'wasm'].includes(tf.getBackend()) && simdKernels() !== null;
}

/** y = γ ⊙ (x − μ)·rstd + β through the kernel (call where layerNormKernelAvailable). */
export function layerNormKernel<T extends tf.Tensor>(x: T, gamma: tf.Tensor, beta: tf.Tensor | null, eps: number): T {
  registerLayerNormKernels();
  return (tf.engine().runKernel(LAYER_NORM, beta ? { x, gamma, beta } : { x, gamma }, { eps }) as tf.Tensor[])[0] as T;
}
