// Every kernel we add to a backend computes what the cpu backend computes: the kernel itself, and the
// gradient that needs it (gather → UnsortedSegmentSum). Run on wasm, and on tensorflow where set up.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { WASM_GAP_KERNELS } from '../src/index.js';
import { selectBackend } from '../src/node.js';

const quiet = { log: false as const };

/** Runs `f` on `backend`, returning plain arrays. */
async function on(backend: 'cpu' | 'wasm' | 'tensorflow', f: () => tf.Tensor[]): Promise<number[][]> {
  await selectBackend({ prefer: backend, ...quiet });
  return tf.tidy(f).map((t) => {
    const v = Array.from(t.dataSync());
    t.dispose();
    return v;
  });
}

const cases: Record<string, () => tf.Tensor[]> = {
  'UnsortedSegmentSum, rank-1 ids, ids out of range dropped': () => [
    tf.unsortedSegmentSum(tf.tensor2d([[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]]), tf.tensor1d([2, 0, 2, -1, 5], 'int32'), 4),
  ],
  'UnsortedSegmentSum, int32 values': () => [tf.unsortedSegmentSum(tf.tensor1d([1, 2, 3, 4], 'int32'), tf.tensor1d([1, 1, 0, 1], 'int32'), 2)],
  'gather gradient (embedding lookup), repeated and rank-2 indices': () => {
    const table = tf.tensor2d([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [0.7, 0.8, 0.9], [1.0, 1.1, 1.2]]);
    const ids = tf.tensor2d([[0, 2, 2], [3, 0, 1]], [2, 3], 'int32');
    const w = tf.tensor3d(Array.from({ length: 18 }, (_, i) => (i % 7) - 3), [2, 3, 3]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, ids), w)))(table);
    return [g];
  },
};

describe('kernels added to wasm match cpu', () => {
  it('lists exactly the kernels it registers', async () => {
    await selectBackend({ prefer: 'wasm', ...quiet });
    for (const k of WASM_GAP_KERNELS) expect(tf.getKernel(k, 'wasm')).toBeDefined();
  });

  for (const [name, f] of Object.entries(cases)) {
    it(name, async () => {
      const want = await on('cpu', f);
      const got = await on('wasm', f);
      expect(got.length).toBe(want.length);
      got.forEach((g, i) => g.forEach((x, j) => expect(x).toBeCloseTo(want[i]![j]!, 5)));
    });
  }

  it('does not leak tensors on wasm', async () => {
    await selectBackend({ prefer: 'wasm', ...quiet });
    const f = cases['gather gradient (embedding lookup), repeated and rank-2 indices']!;
    tf.tidy(f).forEach((t) => t.dispose());
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) tf.tidy(f).forEach((t) => t.dispose());
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('the same values on the tensorflow backend', () => {
  // TensorFlow rejects out-of-range segment ids (an error) where tfjs's cpu kernel drops them.
  const tfCases = Object.entries(cases).filter(([name]) => !name.includes('out of range'));
  for (const [name, f] of tfCases) {
    it(name, async (ctx) => {
      const want = await on('cpu', f);
      try {
        await selectBackend({ prefer: 'tensorflow', ...quiet });
      } catch (err) {
        if (process.env.ATTEND_EXPECT_TENSORFLOW === '1') throw err;
        console.warn(`skipped: tensorflow backend not available here (${(err as Error).message.split('\n')[1]?.trim()})`);
        ctx.skip();
        return;
      }
      const got = await on('tensorflow', f);
      got.forEach((g, i) => g.forEach((x, j) => expect(x).toBeCloseTo(want[i]![j]!, 5)));
    });
  }
});
