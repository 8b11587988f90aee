// The GPU benchmark's two models end to end on webgpu, before they ever meet a GPU: a small character
// GPT (pre-LN, GELU, causal attention) and a character LSTM (WGSL sequence kernels, mode 'fused'),
// each trained for a few steps with Attend's Adam — on webgpu every WGSL kernel composes (fused
// attention, LayerNorm, GELU, the recurrent sequences, softmax cross-entropy, Adam) — give the same
// losses as on cpu, and the same weights after them. The kernels' own tests compare each one alone;
// this one catches a kernel that is right alone and wrong in company (a gradient routed to the wrong
// input, a state the optimizer reads back from the GPU). On a GPU, or with ATTEND_WEBGPU_ALLOW_SOFTWARE=1
// (set below) on Mesa's llvmpipe; skipped with the reason where neither loads.
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@attend/core';
import { selectBackend } from '@attend/core/node';
import { RNNLanguageModel, setFusedSequenceMode } from '@attend/recurrent';
import { GPT } from '@attend/transformer';
import { fusedAdam } from '@attend/training';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

process.env.ATTEND_WEBGPU_ALLOW_SOFTWARE ??= '1';

const SHAPE = { vocab: 65, seq: 16, layers: 2, dModel: 32, heads: 4, dFF: 64, batch: 3 };
const STEPS = 5;
type Model = { loss(x: tf.Tensor2D, y: tf.Tensor2D, o: { training: boolean }): tf.Scalar; variables(): Record<string, tf.Variable>; dispose(): void };
/** Each model, and the fused kernels a webgpu training step of it must run (by tf.profile's kernel names). */
const MODELS: [string, () => Model, string[]][] = [
  ['GPT', () => new GPT({ vocabSize: SHAPE.vocab, contextLength: SHAPE.seq, layers: SHAPE.layers, dModel: SHAPE.dModel, heads: SHAPE.heads, dFF: SHAPE.dFF, dropout: 0, activation: 'gelu', norm: 'pre', seed: 3 }),
    ['AttendFusedAttention', 'AttendFusedAttentionGrad', 'AttendLayerNorm', 'AttendLayerNormGrad', 'AttendGelu', 'AttendGeluGrad', 'AttendSparseSoftmaxCrossEntropy', 'AttendSparseSoftmaxCrossEntropyGrad', 'AttendAdamUpdate']],
  ['char LSTM', () => new RNNLanguageModel({ cell: 'lstm', vocabSize: SHAPE.vocab, embed: 16, hidden: 32, layers: 2, seed: 3 }),
    ['AttendLSTMSequence', 'AttendLSTMSequenceGrad', 'AttendSparseSoftmaxCrossEntropy', 'AttendSparseSoftmaxCrossEntropyGrad', 'AttendAdamUpdate']],
];

interface Trained {
  losses: number[];
  weights: Float32Array[];
  kernels: string[];
  tensorsLeft: number;
}

/** STEPS Adam steps of a seeded model on one batch on the active backend: the losses, the weights after, one step's kernels. */
async function train(make: () => Model): Promise<Trained> {
  const o = SHAPE;
  const model = make();
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

const reference = new Map<string, Trained>();
let skip: string | null = null;
beforeAll(async () => {
  setFusedSequenceMode('fused'); // the WGSL sequence kernels on webgpu ('auto' leaves them off there until measured)
  await selectBackend({ prefer: 'cpu', log: false });
  for (const [name, make] of MODELS) reference.set(name, await train(make));
  try {
    await selectBackend({ prefer: 'webgpu', log: false });
  } catch (e) {
    skip = `webgpu does not load here: ${(e as Error).message.split('\n')[0]}`;
  }
}, 120_000);

afterAll(async () => {
  setFusedSequenceMode('auto');
  await selectBackend({ prefer: 'cpu', log: false });
});

describe.each(MODELS)('a %s trained with Attend Adam on webgpu (its WGSL kernels)', (name, make, kernels) => {
  it('matches cpu: losses and weights after five steps, every fused kernel run, nothing left behind', async (ctx) => {
    if (skip) return ctx.skip(skip);
    expect(tf.getBackend()).toBe('webgpu');
    const want = reference.get(name)!;
    const got = await train(make);
    for (const k of kernels) expect(got.kernels, k).toContain(k);
    expect(got.tensorsLeft).toBe(0);
    expect(want.losses[STEPS - 1]!).toBeLessThan(want.losses[0]! - 0.1); // it trains
    got.losses.forEach((l, i) => expect(Math.abs(l - want.losses[i]!), `loss at step ${i + 1}`).toBeLessThan(1e-4));
    expect(got.weights.length).toBe(want.weights.length);
    got.weights.forEach((w, i) => {
      let worst = 0;
      w.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - want.weights[i]![j]!))));
      expect(worst, `variable ${i}`).toBeLessThan(1e-4);
    });
  }, 120_000);
});
