// Layer normalisation (./layer-norm.ts) as ONE registered kernel each way, `AttendLayerNorm` and
// `AttendLayerNormGrad`, registered on three backends:
//   cpu, wasm  @attend/core's WebAssembly SIMD module (packages/core/assembly/activations.ts; rows
//              split over its threads, each thread summing its own part of dγ and dβ); D a multiple of 4.
//   webgpu     WGSL through tfjs-backend-webgpu's program API (@attend/core's webgpuRowProgram), any D.
//              A program has one output, so each output is one dispatch: forward three — rstd (an
//              invocation per row: μ, then the centred σ²), x̂ (per row: μ again, times that rstd) and
//              y = γ ⊙ x̂ + β (per element); backward four — dx (per row: mean(g), mean(g ⊙ x̂), then
//              the row), partial column sums of dy ⊙ x̂ and dy over chunks of 64 rows (so that a GPU
//              has more than D invocations' work), then dγ and dβ from those partials.
//   tensorflow Attend's native ops (@attend/core's native/attend_ops.cc: AttendLayerNorm and its Grad,
//              rows over TensorFlow's threads), where `attend setup tensorflow` built them; any D.
// The composite in ./layer-norm.ts (nine ops forward, a dozen backward over [N, D]) is the reference
// and runs elsewhere, or on cpu/wasm where D is not a multiple of 4 or the SIMD module does not load.
//   AttendLayerNorm      x [N…, D], gamma [D], beta [D] (optional) (attr eps) → y, x̂ (both shaped like x), rstd [N]
//   AttendLayerNormGrad  dy, x̂, rstd, gamma → dx, dγ, dβ
import * as tf from '@tensorflow/tfjs-core';
import { cpuArrayIO, f32Bits, runTensorflowOp, ShapeError, simdKernels, tensorflowNativeOps, tfAttrs, wasmArrayIO, webgpuRowProgram, wgslFloat, type KernelArrayIO, type SimdKernels, type WebGPUBackendLike } from '@attend/core';

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

// ---------------------------------------------------------------------------------------------
// webgpu: three dispatches forward, four backward (the header), every program built with webgpuRowProgram.

/** Rows per partial sum of dγ, dβ on webgpu. */
const ROWS_PER_CHUNK = 64;

/** N rows of D from x [N…, D] and γ [D] (β [D] when given); throws naming the expected shapes. */
function rowsOf(name: string, x: tf.TensorInfo, gamma: tf.TensorInfo, beta?: tf.TensorInfo): [number, number] {
  const D = x.shape[x.shape.length - 1]!;
  for (const [what, t] of [['gamma', gamma], ['beta', beta]] as const) {
    if (t && (t.shape.length !== 1 || t.shape[0] !== D)) throw new ShapeError(`${name}: with x [${x.shape.join(', ')}], expected ${what} [${D}], got [${t.shape.join(', ')}]`);
  }
  return [x.shape.reduce((a, b) => a * b, 1) / D, D];
}

/** WGSL: `mu` = mean of row `index` of x [N, D]. */
const rowMean = (D: number) => `let off = index * ${D};
        var sum = 0.0;
        for (var j = 0; j < ${D}; j++) { sum += x[off + j]; }
        let mu = sum / ${wgslFloat(D)};`;

function webgpuForward(args: Args): tf.TensorInfo[] {
  const { x, gamma, beta } = args.inputs as Record<string, tf.TensorInfo>;
  const eps = (args.attrs as { eps: number }).eps;
  const be = args.backend as WebGPUBackendLike;
  const [N, D] = rowsOf(LAYER_NORM, x!, gamma!, beta);
  const key = `${N}_${D}`;
  // rstd [N] = 1/√(σ² + ε), σ² the biased variance about the row mean (two passes, as the SIMD module).
  const rstd = be.runWebGPUProgram(webgpuRowProgram(`attendLayerNormRstd_${key}_${eps}`, ['x'], [N], N,
    `${rowMean(D)}
        var ss = 0.0;
        for (var j = 0; j < ${D}; j++) { let c = x[off + j] - mu; ss += c * c; }
        result[index] = 1.0 / sqrt(ss / ${wgslFloat(D)} + ${wgslFloat(eps)});`), [x!], 'float32');
  // x̂ [N, D] = (x − μ)·rstd: the same μ, and the rstd just written.
  const xhat = be.runWebGPUProgram(webgpuRowProgram(`attendLayerNormXhat_${key}`, ['x', 'rstd'], [...x!.shape], N,
    `${rowMean(D)}
        let rs = rstd[index];
        for (var j = 0; j < ${D}; j++) { result[off + j] = (x[off + j] - mu) * rs; }`), [x!, rstd], 'float32');
  // y [N, D] = γ ⊙ x̂ (+ β): one invocation per element.
  const y = be.runWebGPUProgram(webgpuRowProgram(`attendLayerNormY_${key}_${beta !== undefined}`, beta ? ['xhat', 'gamma', 'beta'] : ['xhat', 'gamma'], [...x!.shape], N * D,
    `let j = index % ${D};
        result[index] = xhat[index] * gamma[j]${beta ? ' + beta[j]' : ''};`), beta ? [xhat, gamma!, beta] : [xhat, gamma!], 'float32');
  return [y, xhat, rstd];
}

function webgpuGrad(args: Args): tf.TensorInfo[] {
  const { dy, xhat, rstd, gamma } = args.inputs as Record<string, tf.TensorInfo>;
  const be = args.backend as WebGPUBackendLike;
  const [N, D] = rowsOf(LAYER_NORM_GRAD, dy!, gamma!);
  if (rstd!.shape.length !== 1 || rstd!.shape[0] !== N) throw new ShapeError(`${LAYER_NORM_GRAD}: with dy [${dy!.shape.join(', ')}], expected rstd [${N}], got [${rstd!.shape.join(', ')}]`);
  const key = `${N}_${D}`;
  // dx [N, D] = (g − mean(g) − x̂ ⊙ mean(g ⊙ x̂))·rstd with g = dy ⊙ γ: an invocation per row.
  const dx = be.runWebGPUProgram(webgpuRowProgram(`attendLayerNormGradDx_${key}`, ['dy', 'xhat', 'rstd', 'gamma'], [...dy!.shape], N,
    `let off = index * ${D};
        var sg = 0.0;
        var sgx = 0.0;
        for (var j = 0; j < ${D}; j++) { let g = dy[off + j] * gamma[j]; sg += g; sgx += g * xhat[off + j]; }
        let mg = sg / ${wgslFloat(D)};
        let mgx = sgx / ${wgslFloat(D)};
        let rs = rstd[index];
        for (var j = 0; j < ${D}; j++) { result[off + j] = (dy[off + j] * gamma[j] - mg - xhat[off + j] * mgx) * rs; }`),
    [dy!, xhat!, rstd!, gamma!], 'float32');
  // dγ [D] = Σ_rows dy ⊙ x̂ and dβ [D] = Σ_rows dy in two stages, so that a GPU has work for more than D
  // invocations: partial sums over chunks of ROWS_PER_CHUNK rows, [2, C, D] (an invocation per
  // (sum, chunk, column)), then each output sums its C partials (an invocation per column).
  const C = Math.ceil(N / ROWS_PER_CHUNK);
  const partial = be.runWebGPUProgram(webgpuRowProgram(`attendLayerNormGradPartial_${key}`, ['dy', 'xhat'], [2 * C * D], 2 * C * D,
    `let which = index / ${C * D};
        let c = (index / ${D}) % ${C};
        let j = index % ${D};
        let r1 = min((c + 1) * ${ROWS_PER_CHUNK}, ${N});
        var s = 0.0;
        for (var r = c * ${ROWS_PER_CHUNK}; r < r1; r++) { let g = dy[r * ${D} + j]; s += select(g, g * xhat[r * ${D} + j], which == 0); }
        result[index] = s;`), [dy!, xhat!], 'float32');
  const total = (which: number, name: string) => be.runWebGPUProgram(webgpuRowProgram(`attendLayerNormGrad${name}_${key}`, ['partial'], [D], D,
    `var s = 0.0;
        for (var c = 0; c < ${C}; c++) { s += partial[${which * C * D} + c * ${D} + index]; }
        result[index] = s;`), [partial], 'float32');
  const dGamma = total(0, 'Dgamma');
  const dBeta = total(1, 'Dbeta');
  be.disposeData(partial.dataId);
  return [dx, dGamma, dBeta];
}

// tensorflow: Attend's native ops, one call each way.
const tensorflowForward = ((args: Args) => {
  const { x, gamma, beta } = args.inputs as Record<string, tf.TensorInfo>;
  const eps = (args.attrs as { eps: number }).eps;
  return runTensorflowOp('AttendLayerNorm', [x!, gamma!, beta ?? null], (b) => tfAttrs(b, { float: { eps } }), 3);
}) as unknown as tf.KernelFunc;

const tensorflowGrad = ((args: Args) => {
  const { dy, xhat, rstd, gamma } = args.inputs as Record<string, tf.TensorInfo>;
  return runTensorflowOp('AttendLayerNormGrad', [dy!, xhat!, rstd!, gamma!], [], 3);
}) as unknown as tf.KernelFunc;

/** Registers both kernels (cpu, wasm, webgpu, tensorflow) and the gradient where missing; safe to call more than once. */
export function registerLayerNormKernels(): void {
  if (!tf.getKernel(LAYER_NORM, 'tensorflow')) tf.registerKernel({ kernelName: LAYER_NORM, backendName: 'tensorflow', kernelFunc: tensorflowForward });
  if (!tf.getKernel(LAYER_NORM_GRAD, 'tensorflow')) tf.registerKernel({ kernelName: LAYER_NORM_GRAD, backendName: 'tensorflow', kernelFunc: tensorflowGrad });
  for (const [backendName, io] of [['cpu', cpuArrayIO], ['wasm', wasmArrayIO]] as const) {
    if (!tf.getKernel(LAYER_NORM, backendName)) tf.registerKernel({ kernelName: LAYER_NORM, backendName, kernelFunc: forward(io) });
    if (!tf.getKernel(LAYER_NORM_GRAD, backendName)) tf.registerKernel({ kernelName: LAYER_NORM_GRAD, backendName, kernelFunc: backward(io) });
  }
  if (!tf.getKernel(LAYER_NORM, 'webgpu')) tf.registerKernel({ kernelName: LAYER_NORM, backendName: 'webgpu', kernelFunc: webgpuForward as unknown as tf.KernelFunc });
  if (!tf.getKernel(LAYER_NORM_GRAD, 'webgpu')) tf.registerKernel({ kernelName: LAYER_NORM_GRAD, backendName: 'webgpu', kernelFunc: webgpuGrad as unknown as tf.KernelFunc });
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

/**
 * Whether LayerNorm runs as the kernel here: float32, and on webgpu (any D), on tensorflow where Attend's
 * native ops are loaded (any D), or on cpu or wasm with D a multiple of 4 where the SIMD module loads.
 */
export function layerNormKernelAvailable(x: tf.Tensor): boolean {
  if (!enabled || x.dtype !== 'float32') return false;
  const backend = tf.getBackend();
  if (backend === 'webgpu') return true;
  if (backend === 'tensorflow') return tensorflowNativeOps();
  const D = x.shape[x.rank - 1]!;
  return D % 4 === 0 && ['cpu', 'wasm'].includes(backend) && simdKernels() !== null;
}

/** y = γ ⊙ (x − μ)·rstd + β through the kernel (call where layerNormKernelAvailable). */
export function layerNormKernel<T extends tf.Tensor>(x: T, gamma: tf.Tensor, beta: tf.Tensor | null, eps: number): T {
  registerLayerNormKernels();
  return (tf.engine().runKernel(LAYER_NORM, beta ? { x, gamma, beta } : { x, gamma }, { eps }) as tf.Tensor[])[0] as T;
}
