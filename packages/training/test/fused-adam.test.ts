// FusedAdamOptimizer against tfjs's own AdamOptimizer: the same variables, moments and bias-correction
// accumulators, bit for bit, over several steps with changing learning rates and a skipped (null)
// gradient — on cpu, wasm (the AttendAdamUpdate kernel: the plain-JS loop and, for the big variable,
// the SIMD module) and tensorflow (raw TensorFlow ops) where
// tfjs-node is built (CI builds it and sets ATTEND_EXPECT_TENSORFLOW=1); no tensor leaks.
import * as tf from '@tensorflow/tfjs-core';
import { activateBackend } from '@attend/test-utils';
import { simdKernels } from '@attend/core';
import { describe, expect, it, vi } from 'vitest';
import { ADAM_UPDATE, FusedAdamOptimizer, fusedAdam } from '../src/index.js';

/** Small ones (the plain-JS loop) and one of 130 × 129 = 16,770 elements, not a multiple of 4 (the SIMD module on cpu and wasm). */
const SHAPES = [[33, 17], [17], [2, 3, 5], [], [130, 129]];
let serial = 0;

function variables(): tf.Variable[] {
  serial++;
  return SHAPES.map((s, i) => tf.variable(tf.randomNormal(s, 0, 1, 'float32', 7 + i), true, `fusedAdamTest${serial}/w${i}`));
}

/** Six steps of seeded gradients (seeds ≥ 1: tfjs draws a random seed for 0), variable 1 skipped at step 2, the learning rate changed as a schedule would. */
function train(opt: tf.AdamOptimizer, vars: tf.Variable[]): void {
  for (let step = 0; step < 6; step++) {
    (opt as unknown as { learningRate: number }).learningRate = 0.02 / (1 + step);
    const grads = tf.tidy(() => SHAPES.map((s, i) => tf.mul(tf.randomNormal(s, 0, 1, 'float32', 1 + 100 * step + i), step === 4 ? 1e-4 : 1)));
    opt.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: (step === 2 && i === 1 ? null : grads[i]!) as tf.Tensor })));
    tf.dispose(grads);
  }
}

describe.each(['cpu', 'wasm', 'tensorflow'] as const)('FusedAdamOptimizer on %s', (backend) => {
  it('gives tf.train.adam\'s values, moments, accumulators and iteration count, bit for bit', async (ctx) => {
    const skip = await activateBackend(backend);
    if (skip) return ctx.skip(skip);
    const [a, b] = [variables(), variables()];
    const [stock, fused] = [tf.train.adam(0.02, 0.9, 0.99, 1e-7), fusedAdam(0.02, 0.9, 0.99, 1e-7)];
    expect(fused).toBeInstanceOf(FusedAdamOptimizer);
    train(stock, a);
    const before = tf.memory().numTensors;
    const simd = backend === 'tensorflow' ? undefined : vi.spyOn(simdKernels()!, 'run');
    train(fused, b);
    if (simd) expect(simd.mock.calls.filter(([job]) => job === 'adam').length).toBe(6); // the big variable, every step
    simd?.mockRestore();
    const created = 2 * SHAPES.length; // the m and v slot variables
    expect(tf.memory().numTensors).toBe(before + created);
    if (backend !== 'tensorflow') expect(tf.getKernel(ADAM_UPDATE, backend)).toBeDefined();
    a.forEach((v, i) => expect(Array.from(b[i]!.dataSync()), `w${i}`).toEqual(Array.from(v.dataSync())));
    const [ws, wf] = [await stock.getWeights(), await fused.getWeights()];
    expect(wf.map((w) => w.name.replace(/fusedAdamTest\d+/, ''))).toEqual(ws.map((w) => w.name.replace(/fusedAdamTest\d+/, '')));
    ws.forEach((w, i) => expect(Array.from(wf[i]!.tensor.dataSync()), w.name).toEqual(Array.from(w.tensor.dataSync())));
    const acc = (o: tf.AdamOptimizer) => (['accBeta1', 'accBeta2'] as const).map((k) => (o as unknown as Record<string, tf.Variable>)[k]!.dataSync()[0]);
    expect(acc(fused)).toEqual(acc(stock));
    // The updates moved the weights (a test that cannot fail otherwise).
    const init = tf.randomNormal(SHAPES[0]!, 0, 1, 'float32', 7);
    expect(Array.from(b[0]!.dataSync())).not.toEqual(Array.from(init.dataSync()));
    init.dispose();
    tf.dispose([ws[0]!.tensor, wf[0]!.tensor]);
    stock.dispose();
    fused.dispose();
    tf.dispose([...a, ...b]);
  });
});
