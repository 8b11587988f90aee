// FusedAdamOptimizer on webgpu (AttendAdamUpdate in WGSL, ../src/fused-adam.ts: three dispatches per
// variable) against tfjs's own AdamOptimizer on cpu: the same variables, moments, bias-correction
// accumulators and iteration count over six steps with a changing learning rate (as a schedule sets
// it) and a skipped (null) gradient; the kernel really runs, tfjs's own step does not, and no tensors
// or GPU buffers are left behind; after setWeights (tfjs's pow puts the accumulators on the GPU, where
// the step cannot read them synchronously) the kernel still runs.
// w, m, v within |webgpu − cpu| ≤ 1e-6·|cpu| + 1e-8: WGSL's ÷ and √ are not correctly rounded
// (2.5 ulp) and a compiler may fuse × and +, so the last bits may differ on a GPU — a few ulps of the
// value (1e-6 ≈ 17 float32 ulps), or of a step's update where w or m cancel to near 0 (1e-8 ≈ 5e-7
// of lr = 0.02). Rewriting the update with other roundings (v's product reordered; ÷ and √ as
// reciprocals and inverseSqrt) stays within 0.4 of that; dropping ε (1e-7) exceeds it 50×. llvmpipe
// gives cpu's bits exactly. The accumulators, made on the CPU, are compared bit for bit. On a GPU, or
// with ATTEND_WEBGPU_ALLOW_SOFTWARE=1 (set below) on Mesa's llvmpipe; skipped with the reason where
// neither loads.
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@attend/core';
import { selectBackend } from '@attend/core/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADAM_UPDATE, fusedAdam } from '../src/index.js';

process.env.ATTEND_WEBGPU_ALLOW_SOFTWARE ??= '1';

/** Small ones, a scalar and one of 130 × 129 = 16,770 elements (not a multiple of 64, the programs' workgroup size). */
const SHAPES = [[33, 17], [17], [2, 3, 5], [], [130, 129]];
const STEPS = 6;
/** Tolerance on w, m and v: |webgpu − cpu| ≤ RTOL·|cpu| + ATOL (see the header). */
const RTOL = 1e-6;
const ATOL = 1e-8;

const draw = (rng: Rng, shape: number[], scale = 1) => Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal() * scale);
const rng = new Rng(17);
const INIT = SHAPES.map((s) => draw(rng, s));
/** Step 4's gradients are tiny (1e-4): v̂ then leans on older steps and ε matters more. */
const GRADS = Array.from({ length: STEPS }, (_, step) => SHAPES.map((s) => draw(rng, s, step === 4 ? 1e-4 : 1)));
let serial = 0;

function variables(): tf.Variable[] {
  serial++;
  return tf.tidy(() => SHAPES.map((s, i) => tf.variable(tf.tensor(INIT[i]!, s), true, `fusedAdamWebgpu${serial}/w${i}`)));
}

/** Six steps, variable 1 skipped at step 2, the learning rate changed as a schedule would. */
function train(opt: tf.AdamOptimizer, vars: tf.Variable[]): void {
  for (let step = 0; step < STEPS; step++) {
    (opt as unknown as { learningRate: number }).learningRate = 0.02 / (1 + step);
    const grads = SHAPES.map((s, i) => tf.tensor(GRADS[step]![i]!, s));
    opt.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: (step === 2 && i === 1 ? null : grads[i]!) as tf.Tensor })));
    tf.dispose(grads);
  }
}

interface State {
  /** w0…w4, then the getWeights() tensors (iter, m0…m4, v0…v4). */
  values: Float32Array[];
  names: string[];
  acc: number[];
}

async function state(opt: tf.AdamOptimizer, vars: tf.Variable[]): Promise<State> {
  const weights = await opt.getWeights();
  const values: Float32Array[] = [];
  for (const t of [...vars, ...weights.map((w) => w.tensor)]) values.push((await t.data()) as Float32Array);
  weights[0]!.tensor.dispose(); // iter: a new scalar; the rest are the optimizer's own variables
  const internals = opt as unknown as Record<'accBeta1' | 'accBeta2', tf.Variable>;
  const acc = [(await internals.accBeta1.data())[0]!, (await internals.accBeta2.data())[0]!];
  return { values, names: [...vars.map((_, i) => `w${i}`), ...weights.map((w) => w.name.replace(/fusedAdamWebgpu\d+/, ''))], acc };
}

/** tf.train.adam on cpu, computed first: the webgpu backend is then activated once. */
let want: State;
let skip: string | null = null;
beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
  const vars = variables();
  const stock = tf.train.adam(0.02, 0.9, 0.99, 1e-7);
  train(stock, vars);
  want = await state(stock, vars);
  stock.dispose();
  tf.dispose(vars);
  try {
    await selectBackend({ prefer: 'webgpu', log: false });
  } catch (err) {
    skip = (err as Error).message;
    console.warn(`FusedAdamOptimizer on webgpu: skipped — ${skip}`);
  }
}, 120_000);
afterAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
});

describe('FusedAdamOptimizer on webgpu (WGSL)', () => {
  it("gives tf.train.adam's values, moments, accumulators and iteration count on cpu, running AttendAdamUpdate", async (ctx) => {
    if (skip) return ctx.skip(skip);
    expect(tf.getBackend()).toBe('webgpu');
    const vars = variables();
    const fused = fusedAdam(0.02, 0.9, 0.99, 1e-7);
    const [tensors, buffers] = [tf.memory().numTensors, tf.engine().backend.numDataIds()];
    const names = (await tf.profile(() => train(fused, vars))).kernels.map((k) => k.name);
    // Every variable every step but the skipped one, and none of tfjs's own step (Sqrt, RealDiv, …).
    expect(names.filter((n) => n === ADAM_UPDATE).length).toBe(STEPS * SHAPES.length - 1);
    expect(names.filter((n) => n === 'Sqrt' || n === 'RealDiv')).toEqual([]);
    const created = 2 * SHAPES.length; // the m and v slot variables
    expect(tf.memory().numTensors, 'tensors left').toBe(tensors + created);
    expect(tf.engine().backend.numDataIds(), 'GPU buffers left (the kernels\' own too)').toBe(buffers + created);
    const got = await state(fused, vars);
    expect(got.names).toEqual(want.names);
    expect(got.acc).toEqual(want.acc);
    expect(Array.from(got.values[SHAPES.length]!), 'iter').toEqual(Array.from(want.values[SHAPES.length]!));
    got.values.forEach((g, i) => {
      const w = want.values[i]!;
      expect(g.length).toBe(w.length);
      let worst = 0;
      g.forEach((x, j) => (worst = Math.max(worst, Math.abs(x - w[j]!) / (RTOL * Math.abs(w[j]!) + ATOL))));
      expect(Number.isNaN(worst) ? Infinity : worst, `${got.names[i]}: max |error| / (${RTOL}·|cpu's| + ${ATOL})`).toBeLessThanOrEqual(1);
    });
    // The updates moved the weights (a test that cannot fail otherwise).
    expect(Array.from(got.values[0]!)).not.toEqual(Array.from(INIT[0]!));
    fused.dispose();
    tf.dispose(vars);
  }, 120_000);

  it('still runs AttendAdamUpdate after setWeights, whose pow leaves β^(t+1) on the GPU', async (ctx) => {
    if (skip) return ctx.skip(skip);
    const vars = variables();
    const fused = fusedAdam(0.02, 0.9, 0.99, 1e-7);
    train(fused, vars);
    const weights = await fused.getWeights();
    await fused.setWeights(weights);
    tf.dispose(weights.map((w) => w.tensor)); // iter, and the slot variables setWeights re-wrapped
    // (Not read here: a read back caches the value on the CPU, as the override does.)
    const grads = SHAPES.map((s, i) => tf.tensor(GRADS[0]![i]!, s));
    const names = (await tf.profile(() => fused.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: grads[i]! }))))).kernels.map((k) => k.name);
    expect(names.filter((n) => n === ADAM_UPDATE).length).toBe(SHAPES.length);
    expect(names.filter((n) => n === 'Sqrt' || n === 'RealDiv')).toEqual([]);
    const internals = fused as unknown as Record<'accBeta1' | 'accBeta2', tf.Variable>;
    expect((await internals.accBeta1.data())[0]).toBeCloseTo(0.9 ** (STEPS + 2), 6);
    expect((await internals.accBeta2.data())[0]).toBeCloseTo(0.99 ** (STEPS + 2), 6);
    tf.dispose(grads);
    fused.dispose();
    tf.dispose(vars);
  }, 120_000);
});
