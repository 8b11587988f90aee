// The GPU benchmark's GPT path end to end on webgpu, before it ever meets a GPU: a small character GPT
// (pre-LN, GELU, causal attention) trained for a few steps with Attend's Adam — on webgpu every WGSL
// kernel composes (fused attention, LayerNorm, GELU, softmax cross-entropy, Adam) — gives the same
// losses as on cpu, and the same weights after them. The kernels' own tests compare each one alone;
// this one catches a kernel that is right alone and wrong in company (a gradient routed to the wrong
// input, a state the optimizer reads back from the GPU). On a GPU, or with ATTEND_WEBGPU_ALLOW_SOFTWARE=1
// (set below) on Mesa's llvmpipe; skipped with the reason where neither loads.
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@attend/core';
import { selectBackend } from '@attend/core/node';
import { GPT } from '@attend/transformer';
import { fusedAdam } from '@attend/training';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

process.env.ATTEND_WEBGPU_ALLOW_SOFTWARE ??= '1';

const SHAPE = { vocab: 65, seq: 16, layers: 2, dModel: 32, heads: 4, dFF: 64, batch: 3 };
const STEPS = 5;
/** The fused kernels a webgpu training step must run (by tf.profile's kernel names). */
const WEBGPU_KERNELS = ['AttendFusedAttention', 'AttendFusedAttentionGrad', 'AttendLayerNorm', 'AttendLayerNormGrad', 'AttendGelu', 'AttendGeluGrad', 'AttendSparseSoftmaxCrossEntropy', 'AttendSparseSoftmaxCrossEntropyGrad', 'AttendAdamUpdate'];

interface Trained {
  losses: number[];
  weights: Float32Array[];
  kernels: string[];
  tensorsLeft: number;
}

/** STEPS Adam steps of a seeded GPT on one batch on the active backend: the losses, the weights after, one step's kernels. */
async function train(): Promise<Trained> {
  const o = SHAPE;
  const model = new GPT({ vocabSize: o.vocab, contextLength: o.seq, layers: o.layers, dModel: o.dModel, heads: o.heads, dFF: o.dFF, dropout: 0, activation: 'gelu', norm: 'pre', seed: 3 });
  const rng = new Rng(1);
  const ids = () => tf.tensor2d(Int32Array.from({ length: o.batch * o.seq }, () => rng.int(o.vocab)), [o.batch, o.seq], 'int32'); // [B, T]
  const [x, y] = [ids(), ids()];
  const opt = fusedAdam(3e-3);
  const vars = Object.values(model.variables());
  const step = async () => {
    const loss = opt.minimize(() => model.loss(x, y, { training: true }), true, vars)!;
    const value = (await loss.data())[0]!;
    loss.dispose();
    return value;
  };
  const losses = [await step()];
  const before = tf.memory().numTensors;
  const kernels = (await tf.profile(async () => void losses.push(await step()))).kernels.map((k) => k.name);
  while (losses.length < STEPS) losses.push(await step());
  const tensorsLeft = tf.memory().numTensors - before;
  const weights = await Promise.all(vars.map(async (v) => (await v.data()) as Float32Array));
  model.dispose();
  opt.dispose();
  tf.dispose([x, y]);
  return { losses, weights, kernels, tensorsLeft };
}

let reference: Trained;
let skip: string | null = null;
beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
  reference = await train();
  try {
    await selectBackend({ prefer: 'webgpu', log: false });
  } catch (e) {
    skip = `webgpu does not load here: ${(e as Error).message.split('\n')[0]}`;
  }
}, 120_000);

afterAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
});

describe('a GPT trained with Attend Adam on webgpu (every WGSL kernel)', () => {
  it('matches cpu: losses and weights after five steps, every fused kernel run, nothing left behind', async (ctx) => {
    if (skip) return ctx.skip(skip);
    expect(tf.getBackend()).toBe('webgpu');
    const got = await train();
    for (const k of WEBGPU_KERNELS) expect(got.kernels, k).toContain(k);
    expect(got.tensorsLeft).toBe(0);
    expect(reference.losses[STEPS - 1]!).toBeLessThan(reference.losses[0]! - 0.5); // it trains
    got.losses.forEach((l, i) => expect(Math.abs(l - reference.losses[i]!), `loss at step ${i + 1}`).toBeLessThan(1e-4));
    expect(got.weights.length).toBe(reference.weights.length);
    got.weights.forEach((w, i) => {
      let worst = 0;
      w.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - reference.weights[i]![j]!))));
      expect(worst, `variable ${i}`).toBeLessThan(1e-4);
    });
  }, 120_000);
});
