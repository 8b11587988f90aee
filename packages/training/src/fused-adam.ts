// Adam (Kingma & Ba 2015, Algorithm 1) exactly as tfjs's AdamOptimizer computes it — the same state
// (m and v slot variables by position, accBeta1 / accBeta2), the same float32 operations in the same
// order, so the same bits (on webgpu, to within a few ulps) — but one step per variable instead of
// fifteen tfjs ops:
//   cpu, wasm   one registered kernel, `AttendAdamUpdate`: on Attend's SIMD module (f32x4, the
//               elements split over its threads; packages/core/assembly/activations.ts) for ≥ 16k
//               elements, else a plain-JS loop rounding every intermediate to float32 as the op-by-op
//               version rounds it;
//   webgpu      the same kernel in WGSL: THREE dispatches per variable (tfjs's own step took 14
//               for a 3000-element one), one program per output — w′, m′, v′ — each recomputing m′
//               and v′ from m, v, g (a tfjs program writes one buffer, so no packed output to cut
//               up); the step's scalars are uniforms, so each shader compiles once per variable
//               size. accBeta1 / accBeta2 stay on the CPU (their product taken in JS: float32 × is
//               correctly rounded on both; setWeights brings them back after tfjs's pow), so the
//               step reads nothing back from the GPU. WGSL's ÷ and √ are not correctly rounded
//               (2.5 ulp) and × + may be fused, so w, m, v may differ from cpu's in the last bits;
//   tensorflow  the same fifteen TensorFlow ops run past tfjs's engine (TensorflowOps), with the
//               scalars made once per step;
//   elsewhere   (webgl) tfjs's own applyGradients.
// Measured on the 2-core CPU, a 36-variable, 812k-parameter GPT's Adam step: 20.5 → 13 ms on
// tensorflow (of a ~115 ms training step), 17.4 → 5.4 ms on wasm (of ~155; the plain-JS loop alone,
// doing the divisions and square roots in double precision rounded after each, took 10 of them).
import * as tf from '@tensorflow/tfjs-core';
import { cpuArrayIO, f32Bits, simdKernels, tensorflowAvailable, tensorflowBackend, TensorflowOps, wasmArrayIO, webgpuRowProgram, type KernelArrayIO, type SimdKernels, type TFHandle, type WebGPUBackendLike } from '@attend/core';

export const ADAM_UPDATE = 'AttendAdamUpdate';

/** The update's scalars, each already a float32 value as tfjs would make it. */
interface AdamScalars {
  beta1: number;
  oneMinusBeta1: number;
  beta2: number;
  oneMinusBeta2: number;
  /** 1 − accBeta1 and 1 − accBeta2: the bias corrections' divisors. */
  c1: number;
  c2: number;
  epsilon: number;
  /** −learning rate. */
  negLr: number;
}

const f32 = Math.fround;

/**
 * w, m, v, g → w', m', v' in place of tfjs's op sequence:
 *   m' = m·β1 + g·(1 − β1)          v' = v·β2 + g²·(1 − β2)
 *   w' = (m'/c1) / (√(v'/c2) + ε) · (−lr) + w
 * Every intermediate is rounded to float32: a float32 op's result is the exact result rounded once,
 * and one double-precision op rounded to float32 gives that same value (+, −, ×, ÷, √).
 */
function adamUpdate(w: ArrayLike<number>, m: ArrayLike<number>, v: ArrayLike<number>, g: ArrayLike<number>, out: Float32Array[], s: AdamScalars): void {
  const [wo, mo, vo] = out as [Float32Array, Float32Array, Float32Array];
  for (let i = 0; i < wo.length; i++) {
    const gi = g[i]!;
    const mi = f32(f32(m[i]! * s.beta1) + f32(gi * s.oneMinusBeta1));
    const vi = f32(f32(v[i]! * s.beta2) + f32(f32(gi * gi) * s.oneMinusBeta2));
    const denom = f32(f32(Math.sqrt(f32(vi / s.c2))) + s.epsilon);
    wo[i] = f32(f32(f32(mi / s.c1) / denom) * s.negLr) + w[i]!;
    mo[i] = mi;
    vo[i] = vi;
  }
}

/** The scalars in the order the SIMD module's `adam` and the WGSL programs' uniforms take them. */
const SCALAR_ORDER: (keyof AdamScalars)[] = ['beta1', 'oneMinusBeta1', 'beta2', 'oneMinusBeta2', 'c1', 'c2', 'epsilon', 'negLr'];

/** Elements from which the update runs on the SIMD module (below, copying in and out costs more than the loop). */
const SIMD_MIN = 16384;

/** `adamUpdate` on the SIMD module: the four arrays copied in, the three results out. */
function adamUpdateSimd(s: SimdKernels, w: ArrayLike<number>, m: ArrayLike<number>, v: ArrayLike<number>, g: ArrayLike<number>, out: Float32Array[], sc: AdamScalars): void {
  const n4 = Math.ceil(out[0]!.length / 4) * 4;
  const alloc = s.layout();
  const [pW, pM, pV, pG] = [n4, n4, n4, n4].map(alloc) as [number, number, number, number];
  s.write([[w, pW], [m, pM], [v, pV], [g, pG]]);
  const scalars = SCALAR_ORDER.map((k) => f32Bits(sc[k]));
  // adam(w, m, v, g, n, β1, 1 − β1, β2, 1 − β2, c1, c2, ε, −lr) on elements lo … hi − 1
  s.run('adam', s.split(n4, 65536, 4).map(([lo, hi]) => [pW + lo * 4, pM + lo * 4, pV + lo * 4, pG + lo * 4, hi - lo, ...scalars]));
  s.read([[out[0]!, pW], [out[1]!, pM], [out[2]!, pV]]);
}

type Args = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

function kernel(io: (backend: unknown) => KernelArrayIO): tf.KernelFunc {
  return ((args: Args) => {
    const { w, m, v, g } = args.inputs as Record<string, tf.TensorInfo>;
    const a = io(args.backend);
    const shape = [...w!.shape];
    const simd = tf.util.sizeFromShape(shape) >= SIMD_MIN ? simdKernels() : null;
    const update = simd ? (...p: Parameters<typeof adamUpdate>) => adamUpdateSimd(simd, ...p) : adamUpdate;
    return a.outputs([shape, shape, shape], (out) => update(a.read(w!), a.read(m!), a.read(v!), a.read(g!), out, args.attrs as unknown as AdamScalars));
  }) as tf.KernelFunc;
}

// webgpu: w, m, v, g [n] → w′, m′, v′ [n], one program (one dispatch) per output; m′ and v′ in the
// same float32 operations as the JS loop above (tfjs's op order), the scalars as uniforms.
const ADAM_UNIFORMS = SCALAR_ORDER.map((k) => `${k} : f32,`).join(' ');
const M1 = 'm[index] * uniforms.beta1 + g[index] * uniforms.oneMinusBeta1';
const V1 = 'v[index] * uniforms.beta2 + g[index] * g[index] * uniforms.oneMinusBeta2';

function adamWebgpu(args: Args): tf.TensorInfo[] {
  const { w, m, v, g } = args.inputs as Record<string, tf.TensorInfo>;
  const s = args.attrs as unknown as AdamScalars;
  const be = args.backend as WebGPUBackendLike;
  const shape = [...w!.shape];
  const n = tf.util.sizeFromShape(shape);
  const uniforms = SCALAR_ORDER.map((k) => ({ type: 'float32', data: [s[k]] }));
  const run = (out: string, inputs: [string, tf.TensorInfo][], body: string) =>
    be.runWebGPUProgram(webgpuRowProgram(`attendAdam${out}_${n}`, inputs.map(([name]) => name), shape, n, body, { uniforms: ADAM_UNIFORMS }), inputs.map(([, t]) => t), 'float32', uniforms);
  return [
    run('W', [['w', w!], ['m', m!], ['v', v!], ['g', g!]], `
      let m1 = ${M1};
      let v1 = ${V1};
      result[index] = m1 / uniforms.c1 / (sqrt(v1 / uniforms.c2) + uniforms.epsilon) * uniforms.negLr + w[index];`),
    run('M', [['m', m!], ['g', g!]], `result[index] = ${M1};`),
    run('V', [['v', v!], ['g', g!]], `result[index] = ${V1};`),
  ];
}

/** Registers the update kernel on cpu, wasm and webgpu where missing; safe to call more than once. */
export function registerAdamKernels(): void {
  const kernels: [string, () => tf.KernelFunc][] = [
    ['cpu', () => kernel(cpuArrayIO)],
    ['wasm', () => kernel(wasmArrayIO)],
    ['webgpu', () => adamWebgpu as unknown as tf.KernelFunc],
  ];
  for (const [backendName, make] of kernels) {
    if (!tf.getKernel(ADAM_UPDATE, backendName)) tf.registerKernel({ kernelName: ADAM_UPDATE, backendName, kernelFunc: make() });
  }
}

/** The tensorflow path: tfjs's fifteen ops as raw TensorFlow ops; returns handles of w', m', v'. */
function adamTensorflow(ops: TensorflowOps, [w, m, v, g]: number[], k: Record<keyof AdamScalars, number>): [TFHandle, TFHandle, TFHandle] {
  const mul = (a: number | TFHandle, b: number | TFHandle) => ops.one('Mul', [a, b]);
  const m1 = ops.one('AddV2', [mul(m!, k.beta1), mul(g!, k.oneMinusBeta1)]);
  const v1 = ops.one('AddV2', [mul(v!, k.beta2), mul(ops.one('Square', [g!]), k.oneMinusBeta2)]);
  const denom = ops.one('AddV2', [ops.one('Sqrt', [ops.one('RealDiv', [v1, k.c2])]), k.epsilon]);
  const w1 = ops.one('AddV2', [mul(ops.one('RealDiv', [ops.one('RealDiv', [m1, k.c1]), denom]), k.negLr), w!]);
  return [w1, m1, v1];
}

/** What AdamOptimizer keeps that this needs (fields tfjs declares protected). */
interface AdamState {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: { originalName: string; variable: tf.Variable }[];
  accumulatedSecondMoment: { originalName: string; variable: tf.Variable }[];
}

/** What the webgpu backend keeps per tensor (tfjs-backend-webgpu's public `tensorMap`). */
interface WebGPUTensorMap {
  tensorMap: { get(dataId: object): { values?: ArrayLike<number> | null } | undefined };
}

/**
 * A scalar's value without a read back from the GPU: on webgpu, only while its data is held on the
 * CPU (accBeta1 / accBeta2 are: made by tf.scalar, here and by tfjs's CPU forwarding of small ops),
 * else null; elsewhere dataSync.
 */
function hostScalar(t: tf.Tensor, webgpu: boolean): number | null {
  if (!webgpu) return t.dataSync()[0]!;
  const values = (tf.engine().backend as unknown as WebGPUTensorMap).tensorMap.get(t.dataId)?.values;
  return values != null ? values[0]! : null;
}

/**
 * tfjs's AdamOptimizer with a faster `applyGradients` on cpu, wasm, webgpu and tensorflow (see the
 * header); everything else — state, getWeights / setWeights, serialisation as 'Adam' — is tfjs's.
 */
export class FusedAdamOptimizer extends tf.AdamOptimizer {
  override applyGradients(variableGradients: Parameters<tf.AdamOptimizer['applyGradients']>[0]): void {
    const backend = tf.getBackend();
    const onTensorflow = tensorflowAvailable();
    const onWebgpu = backend === 'webgpu';
    if (!onTensorflow && !onWebgpu && backend !== 'cpu' && backend !== 'wasm') return super.applyGradients(variableGradients);
    const self = this as unknown as AdamState;
    const [acc1, acc2] = [hostScalar(self.accBeta1, onWebgpu), hostScalar(self.accBeta2, onWebgpu)];
    // An accumulator on the GPU (not on Attend's paths): tfjs's step rather than a synchronous read back.
    if (acc1 === null || acc2 === null) return super.applyGradients(variableGradients);
    registerAdamKernels();
    const list: { name: string; tensor: tf.Tensor | null }[] = Array.isArray(variableGradients) ? variableGradients : Object.keys(variableGradients).map((name) => ({ name, tensor: variableGradients[name]! }));
    const s: AdamScalars = {
      beta1: f32(self.beta1),
      oneMinusBeta1: f32(1 - self.beta1),
      beta2: f32(self.beta2),
      oneMinusBeta2: f32(1 - self.beta2),
      c1: f32(1 - acc1),
      c2: f32(1 - acc2),
      epsilon: f32(self.epsilon),
      negLr: f32(-self.learningRate),
    };
    // On tensorflow the scalars as tensors, made once for every variable's ops.
    const scalarTensors = onTensorflow ? Object.entries(s).map(([key, x]) => [key, tf.scalar(x)] as const) : [];
    try {
      const scalarIds = onTensorflow ? tensorflowBackend().getInputTensorIds(scalarTensors.map(([, t]) => t)) : [];
      const scalars = onTensorflow ? (Object.fromEntries(scalarTensors.map(([key], j) => [key, scalarIds[j]!])) as Record<keyof AdamScalars, number>) : undefined;
      tf.tidy(() => {
        list.forEach(({ name, tensor: gradient }, i) => {
          const value = tf.engine().registeredVariables[name]!;
          if (self.accumulatedFirstMoment[i] == null) self.accumulatedFirstMoment[i] = { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
          if (self.accumulatedSecondMoment[i] == null) self.accumulatedSecondMoment[i] = { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
          if (gradient == null) return;
          const m = self.accumulatedFirstMoment[i]!.variable;
          const v = self.accumulatedSecondMoment[i]!.variable;
          let next: tf.Tensor[];
          if (scalars) {
            const ops = new TensorflowOps(); // per variable: its intermediates are freed right after
            try {
              next = adamTensorflow(ops, ops.ids([value, m, v, gradient]), scalars).map((h) => ops.wrap(h));
            } finally {
              ops.dispose();
            }
          } else {
            next = tf.engine().runKernel(ADAM_UPDATE, { w: value, m, v, g: gradient }, s as unknown as tf.NamedAttrMap) as tf.Tensor[];
          }
          value.assign(next[0]!);
          m.assign(next[1]!);
          v.assign(next[2]!);
        });
        if (onWebgpu) {
          // β^(t+1) made on the CPU, where the next step reads it: the float32 product tf.mul would give.
          self.accBeta1.assign(tf.scalar(f32(acc1 * s.beta1)));
          self.accBeta2.assign(tf.scalar(f32(acc2 * s.beta2)));
        } else {
          self.accBeta1.assign(tf.mul(self.accBeta1, self.beta1));
          self.accBeta2.assign(tf.mul(self.accBeta2, self.beta2));
        }
      });
    } finally {
      tf.dispose(scalarTensors.map(([, t]) => t));
    }
    this.incrementIterations();
  }

  /** tfjs's setWeights, which makes β^(t+1) with pow — on the GPU on webgpu: brought back to the CPU there, where applyGradients reads it. */
  override async setWeights(weightValues: Parameters<tf.AdamOptimizer['setWeights']>[0]): Promise<void> {
    await super.setWeights(weightValues);
    if (tf.getBackend() !== 'webgpu') return;
    const self = this as unknown as AdamState;
    const [b1, b2] = [(await self.accBeta1.data())[0]!, (await self.accBeta2.data())[0]!];
    tf.tidy(() => {
      self.accBeta1.assign(tf.scalar(b1));
      self.accBeta2.assign(tf.scalar(b2));
    });
  }
}

/** `tf.train.adam` with FusedAdamOptimizer's faster step (same defaults: ε from the backend). */
export function fusedAdam(learningRate = 0.001, beta1 = 0.9, beta2 = 0.999, epsilon?: number): FusedAdamOptimizer {
  return new FusedAdamOptimizer(learningRate, beta1, beta2, epsilon);
}
