// The training loop: exact resume through a checkpoint on disk, NaN handling, Ctrl-C (AbortSignal),
// samples/evaluations at the right steps, time limit, and no tensor leaks.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@attend/core/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrainingDivergedError, train, type StepInfo, type TrainOptions } from '../src/index.js';
import { checkpointTo, loadCheckpoint } from '../src/node.js';
import { Batcher, TinyMlp, bitwiseEqual, type Batch } from './helpers.js';

let root: string;
beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
  root = await mkdtemp(join(tmpdir(), 'attend-train-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const config = { model: { kind: 'tiny-mlp', hidden: 8 }, training: { lr: 0.01 } };
const base = {
  optimizer: { type: 'adam' as const, lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01 },
  schedule: { type: 'warmupCosine' as const, lr: 0.02, warmupSteps: 5, totalSteps: 20, minLr: 0.002 },
  clipNorm: 0.5, // small enough that clipping happens
  evalEvery: 4,
  sampleAt: [],
};

function setup(modelSeed: number, dataSeed: number) {
  const model = new TinyMlp(modelSeed);
  const data = new Batcher(dataSeed);
  const opts: Pick<TrainOptions<Batch>, 'model' | 'nextBatch' | 'getDataState' | 'setDataState'> = {
    model,
    nextBatch: () => data.next(),
    getDataState: () => data.state(),
    setDataState: (s) => data.setState(s),
  };
  return { model, data, opts };
}

describe('train', () => {
  it('resumes bit-identically from a checkpoint (weights, Adam state, data RNG, schedule)', async () => {
    // Uninterrupted: 20 steps.
    const a = setup(1, 2);
    let clippedSteps = 0;
    const ra = await train({ ...base, ...a.opts, steps: 20, onStep: (i) => void (clippedSteps += i.clipped ? 1 : 0) });
    expect(ra).toMatchObject({ stopped: 'steps', step: 20 });
    expect(clippedSteps).toBeGreaterThan(0);
    const expected = a.model.weights();
    a.model.dispose();

    // 10 steps, checkpoint, throw everything away, load into fresh objects with other seeds, 10 more.
    const dir = join(root, 'resume');
    const b = setup(1, 2);
    const rb = await train({ ...base, ...b.opts, steps: 10, checkpoint: checkpointTo(dir, { config, every: 10 }) });
    expect(rb.step).toBe(10);
    b.model.dispose();

    const ckpt = await loadCheckpoint(dir);
    expect(ckpt.state.step).toBe(10);
    expect(ckpt.state.optimizer.iterations).toBe(10);
    const c = setup(99, 777); // different init and data seed: everything must come from the checkpoint
    const rc = await train({ ...base, ...c.opts, steps: 20, startState: ckpt.state });
    expect(rc.step).toBe(20);
    expect(bitwiseEqual(c.model.weights(), expected)).toBe(true);
    expect(c.data.state()).toEqual(a.data.state());
    // The schedule continued where it stopped, and the metrics history carried over.
    expect(rc.state.schedule.lr).toBe(ra.state.schedule.lr);
    expect(rc.state.metrics.history.map((h) => h.step)).toEqual([4, 8, 12, 16, 20]);
    expect(rc.state.metrics.lossEma).toEqual(ra.state.metrics.lossEma);
    c.model.dispose();
  });

  it('stops on a NaN loss without applying it; the last good checkpoint stays intact', async () => {
    const dir = join(root, 'nan');
    const { model, opts } = setup(3, 4);
    const k = 8; // the 8th loss is NaN
    let calls = 0;
    const nanModel = {
      variables: () => model.variables(),
      loss: (b: Batch) => (++calls === k ? (tf.mul(model.loss(b), NaN) as tf.Scalar) : model.loss(b)),
    };
    let afterSeven: Record<string, Float32Array> = {};
    const run = train({
      ...base, ...opts, model: nanModel, steps: 20,
      checkpoint: checkpointTo(dir, { config, every: 5 }),
      onStep: (i) => { if (i.step === k - 1) afterSeven = model.weights(); },
    });
    await expect(run).rejects.toThrow(TrainingDivergedError);
    await expect(run).rejects.toThrow(
      `loss became NaN at step 8 (last good checkpoint: step 5 in ${dir}); try a lower --lr or --clip`,
    );
    expect(bitwiseEqual(model.weights(), afterSeven)).toBe(true); // the NaN step changed nothing
    const ckpt = await loadCheckpoint(dir);
    expect(ckpt.state.step).toBe(5);
    expect(ckpt.state.weights.every((w) => w.data.every(Number.isFinite))).toBe(true);
    model.dispose();
  });

  it('stops the same way on an infinite loss or a NaN gradient, with no checkpoint yet', async () => {
    const { model, opts } = setup(3, 4);
    const before = model.weights();
    const infModel = { variables: () => model.variables(), loss: (b: Batch) => tf.mul(tf.mul(model.loss(b), 1e38), 1e38) as tf.Scalar };
    const err = await train({ ...base, ...opts, model: infModel, steps: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrainingDivergedError);
    expect((err as Error).message).toMatch(/^loss became Infinity at step 1 \(no checkpoint was saved\); try a lower/);
    // sqrt(|w - w|) is 0, but its gradient is NaN: the loss is finite, the gradient norm is not.
    const nanGrad = {
      variables: () => model.variables(),
      loss: (b: Batch) => tf.add(model.loss(b), tf.sum(tf.sqrt(tf.abs(tf.sub(model.vars.w1!, model.vars.w1!))))) as tf.Scalar,
    };
    const err2 = await train({ ...base, ...opts, model: nanGrad, steps: 3 }).catch((e: unknown) => e);
    expect((err2 as TrainingDivergedError).quantity).toBe('gradient norm');
    expect((err2 as Error).message).toMatch(/^gradient norm became NaN at step 1/);
    expect(bitwiseEqual(model.weights(), before)).toBe(true);
    model.dispose();
  });

  it('on abort, stops after the current step, saves a checkpoint and returns interrupted', async () => {
    const dir = join(root, 'abort');
    const { model, opts } = setup(5, 6);
    const controller = new AbortController();
    const steps: number[] = [];
    const r = await train({
      ...base, ...opts, steps: 1000, signal: controller.signal,
      checkpoint: checkpointTo(dir, { config, every: 100 }),
      onStep: (i) => {
        steps.push(i.step);
        if (i.step === 7) controller.abort();
      },
    });
    expect(r.stopped).toBe('interrupted');
    expect(r.step).toBe(7);
    expect(steps.at(-1)).toBe(7);
    const ckpt = await loadCheckpoint(dir);
    expect(ckpt.state.step).toBe(7);
    expect(bitwiseEqual(Object.fromEntries(ckpt.state.weights.map((w) => [w.name, w.data])), model.weights())).toBe(true);
    model.dispose();
  });

  it('evaluates, samples at the sampleAt steps plus the end, and honours the time limit', async () => {
    const { model, opts } = setup(7, 8);
    const sampled: number[] = [];
    const infos: StepInfo[] = [];
    let evals = 0;
    const r = await train({
      ...base, ...opts, steps: 25, evalEvery: 10, sampleAt: [3, 12, 40],
      evaluate: () => ++evals,
      onSample: (s) => void sampled.push(s),
      onStep: (i) => void infos.push(i),
    });
    expect(sampled).toEqual([3, 12, 25]);
    expect(evals).toBe(3); // steps 10, 20 and the end (25)
    expect(r.valLoss).toBe(3);
    expect(infos.filter((i) => i.valLoss !== undefined).map((i) => i.step)).toEqual([10, 20]);
    expect(infos[24]).toMatchObject({ step: 25, totalSteps: 25 });
    expect(infos.every((i) => Number.isFinite(i.loss) && i.stepsPerSecond > 0 && i.lr > 0)).toBe(true);
    expect(r.state.metrics.history.map((h) => [h.step, h.valLoss])).toEqual([[10, 1], [20, 2], [25, 3]]);

    const t = await train({ ...base, ...opts, timeLimitSeconds: 0.3 });
    expect(t.stopped).toBe('time');
    expect(t.step).toBeGreaterThan(0);
    model.dispose();
  });

  it('does not leak tensors across steps (batch tensors freed, optimizer disposed at the end)', async () => {
    const { model, opts } = setup(9, 10);
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    await train({ ...base, ...opts, steps: 30, evalEvery: 0, onStep: () => void counts.push(tf.memory().numTensors) });
    expect(new Set(counts.slice(1)).size).toBe(1); // constant once Adam has made its m/v
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('rejects unknown options and a resume state the batcher cannot take', async () => {
    const { model, opts } = setup(11, 12);
    await expect(train({ ...base, ...opts, steps: 1, lr: 0.1 } as never)).rejects.toThrow(/unknown option "lr"/);
    await expect(train({ ...base, ...opts })).rejects.toThrow(/give steps, timeLimitSeconds or both/);
    const r = await train({ ...base, ...opts, steps: 2 });
    const { setDataState: _, ...noSet } = opts;
    await expect(train({ ...base, ...noSet, steps: 3, startState: r.state })).rejects.toThrow(/no setDataState/);
    await expect(train({ ...base, ...opts, optimizer: { type: 'sgd' }, steps: 3, startState: r.state })).rejects.toThrow(
      /is for adam, but the optimizer is sgd/,
    );
    model.dispose();
  });
});
