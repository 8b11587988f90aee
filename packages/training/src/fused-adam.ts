// Adam (Kingma & Ba 2015, Algorithm 1) exactly as tfjs's AdamOptimizer computes it — the same state
// (m and v slot variables by position, accBeta1 / accBeta2), the same float32 operations in the same
// order, so the same bits — but one step per variable instead of fifteen tfjs ops:
//   cpu, wasm   one registered kernel, `AttendAdamUpdate`: on Attend's SIMD module (f32x4, the
//               elements split over its threads; packages/core/assembly/activations.ts) for ≥ 16k
//               elements, else a plain-JS loop rounding every intermediate to float32 as the op-by-op
//               version rounds it;
//   tensorflow  the same fifteen TensorFlow ops run past tfjs's engine (TensorflowOps), with the
//               scalars made once per step;
//   elsewhere   (webgpu) tfjs's own applyGradients.
// Measured on the 2-core CPU, a 36-variable, 812k-parameter GPT's Adam step: 20.5 → 13 ms on
// tensorflow (of a ~115 ms training step), 17.4 → 5.4 ms on wasm (of ~155; the plain-JS loop alone,
// doing the divisions and square roots in double precision rounded after each, took 10 of them).
import * as tf from '@tensorflow/tfjs-core';
import { cpuArrayIO, f32Bits, simdKernels, tensorflowAvailable, tensorflowBackend, TensorflowOps, wasmArrayIO, type KernelArrayIO, type SimdKernels, type TFHandle } from '@attend/core';

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

/** Elements from which the update runs on the SIMD module (below, copying in and out costs more than the loop). */
const SIMD_MIN = 16384;

/** `adamUpdate` on the SIMD module: the four arrays copied in, the three results out. */
function adamUpdateSimd(s: SimdKernels, w: ArrayLike<number>, m: ArrayLike<number>, v: ArrayLike<number>, g: ArrayLike<number>, out: Float32Array[], sc: AdamScalars): void {
  const n4 = Math.ceil(out[0]!.length / 4) * 4;
  const alloc = s.layout();
  const [pW, pM, pV, pG] = [n4, n4, n4, n4].map(alloc) as [number, number, number, number];
  s.write([[w, pW], [m, pM], [v, pV], [g, pG]]);
  const scalars = [sc.beta1, sc.oneMinusBeta1, sc.beta2, sc.oneMinusBeta2, sc.c1, sc.c2, sc.epsilon, sc.negLr].map(f32Bits);
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

const KERNEL_BACKENDS = [['cpu', cpuArrayIO], ['wasm', wasmArrayIO]] as const;

/** Registers the update kernel on cpu and wasm where missing; safe to call more than once. */
export function registerAdamKernels(): void {
  for (const [backendName, io] of KERNEL_BACKENDS) {
    if (!tf.getKernel(ADAM_UPDATE, backendName)) tf.registerKernel({ kernelName: ADAM_UPDATE, backendName, kernelFunc: kernel(io) });
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

/**
 * tfjs's AdamOptimizer with a faster `applyGradients` on cpu, wasm and tensorflow (see the header);
 * everything else — state, getWeights / setWeights, serialisation as 'Adam' — is tfjs's.
 */
export class FusedAdamOptimizer extends tf.AdamOptimizer {
  override applyGradients(variableGradients: Parameters<tf.AdamOptimizer['applyGradients']>[0]): void {
    const backend = tf.getBackend();
    const onTensorflow = tensorflowAvailable();
    if (!onTensorflow && backend !== 'cpu' && backend !== 'wasm') return super.applyGradients(variableGradients);
    registerAdamKernels();
    const self = this as unknown as AdamState;
    const list: { name: string; tensor: tf.Tensor | null }[] = Array.isArray(variableGradients) ? variableGradients : Object.keys(variableGradients).map((name) => ({ name, tensor: variableGradients[name]! }));
    const [acc1, acc2] = [self.accBeta1.dataSync()[0]!, self.accBeta2.dataSync()[0]!];
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
        self.accBeta1.assign(tf.mul(self.accBeta1, self.beta1));
        self.accBeta2.assign(tf.mul(self.accBeta2, self.beta2));
      });
    } finally {
      tf.dispose(scalarTensors.map(([, t]) => t));
    }
    this.incrementIterations();
  }
}

/** `tf.train.adam` with FusedAdamOptimizer's faster step (same defaults: ε from the backend). */
export function fusedAdam(learningRate = 0.001, beta1 = 0.9, beta2 = 0.999, epsilon?: number): FusedAdamOptimizer {
  return new FusedAdamOptimizer(learningRate, beta1, beta2, epsilon);
}
