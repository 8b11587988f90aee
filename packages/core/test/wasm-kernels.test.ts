// Every kernel we add to a backend computes what the cpu backend computes: the kernel itself, and the
// gradient that needs it (gather → UnsortedSegmentSum). Run on wasm, and on tensorflow where set up.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { setWasmFastPaths, WASM_FAST_PATH_KERNELS, WASM_GAP_KERNELS } from '../src/index.js';
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
  'Slice: contiguous, strided rank-2/3/4, and a scalar-sized box': () => {
    const x = tf.reshape(tf.range(0, 2 * 3 * 4 * 5), [2, 3, 4, 5]);
    return [
      tf.slice(tf.reshape(x, [120]), [7], [30]),
      tf.slice(tf.reshape(x, [6, 20]), [1, 3], [4, 9]),
      tf.slice(tf.reshape(x, [6, 4, 5]), [2, 1, 0], [3, 2, 5]),
      tf.slice(x, [1, 0, 2, 1], [1, 3, 2, 3]),
      tf.slice(x, [0, 1, 0, 0], [2, 1, 4, 5]),
      tf.slice(x, [1, 2, 3, 4], [1, 1, 1, 1]),
    ];
  },
  'Unpack (unstack) along every axis, and SplitV (split) even and uneven': () => {
    const x = tf.reshape(tf.range(0, 24, 1, 'int32'), [2, 3, 4]);
    return [
      ...tf.unstack(x, 0),
      ...tf.unstack(x, 1),
      ...tf.unstack(x, 2),
      ...tf.split(tf.cast(x, 'float32'), 2, 2),
      ...tf.split(tf.cast(x, 'float32'), [1, 2], 1),
    ];
  },
  'BatchMatMul with every transpose combination, rank 2 and 3': () => {
    const a = tf.reshape(tf.range(0, 24), [2, 3, 4]);
    const b = tf.reshape(tf.range(-10, 14), [2, 4, 3]);
    const a2 = tf.reshape(tf.range(0, 12), [3, 4]);
    const b2 = tf.reshape(tf.range(0, 20), [5, 4]);
    return [
      tf.matMul(a, b),
      tf.matMul(a, b, true, true),
      tf.matMul(a, tf.transpose(b, [0, 2, 1]), false, true),
      tf.matMul(tf.transpose(a, [0, 2, 1]), b, true, false),
      tf.matMul(a2, b2, false, true),
      tf.matMul(b2, a2, false, true),
    ];
  },
  'gradients through split, unstack and transposed matMul (an LSTM step)': () => {
    const x = tf.reshape(tf.sin(tf.range(0, 2 * 3 * 4)), [2, 3, 4]); // [B, T, D]
    const W = tf.reshape(tf.cos(tf.range(0, 4 * 8)), [4, 8]); // [D, 4H], H = 2
    const g = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => {
      let h = tf.zeros([2, 2]);
      for (const xt of tf.unstack(xx, 1)) {
        const [i, f, gg, o] = tf.split(tf.matMul(xt, ww), 4, 1);
        h = tf.add(h, tf.mul(tf.sigmoid(i!), tf.tanh(tf.add(tf.mul(f!, gg!), o!))));
      }
      return tf.sum(tf.square(h));
    })([x, W]);
    return g;
  },
  'Sum over leading axes (rows; keepDims), and over other axes (the original kernel)': () => {
    const x = tf.reshape(tf.sin(tf.range(0, 2 * 3 * 4)), [2, 3, 4]);
    return [tf.sum(x, 0), tf.sum(x, [0, 1]), tf.sum(x, [1, 0], true), tf.sum(x, 1), tf.sum(x, -1), tf.sum(x), tf.sum(tf.cast(x, 'int32'), 0)];
  },
  'Identity (tf.clone) shares the data: the clone outlives its source': () => {
    const x = tf.tensor2d([[1, 2], [3, 4]]);
    const y = tf.clone(x);
    x.dispose();
    return [tf.add(y, 1), y];
  },
  'GatherV2 along axis 0 (rows, rank-2 indices, int32 table) and along axis 1 (the original kernel)': () => {
    const table = tf.reshape(tf.range(0, 4 * 3 * 2), [4, 3, 2]);
    const ids = tf.tensor2d([[3, 0], [1, 1]], [2, 2], 'int32');
    return [tf.gather(table, ids), tf.gather(tf.cast(table, 'int32'), tf.tensor1d([2, 2, 0], 'int32')), tf.gather(table, tf.tensor1d([1, 0], 'int32'), 1)];
  },
  'gather gradient (embedding lookup), repeated and rank-2 indices': () => {
    const table = tf.tensor2d([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [0.7, 0.8, 0.9], [1.0, 1.1, 1.2]]);
    const ids = tf.tensor2d([[0, 2, 2], [3, 0, 1]], [2, 3], 'int32');
    const w = tf.tensor3d(Array.from({ length: 18 }, (_, i) => (i % 7) - 3), [2, 3, 3]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, ids), w)))(table);
    return [g];
  },
};

describe('kernels added to (or replaced on) wasm match cpu', () => {
  it('lists exactly the kernels it registers', async () => {
    await selectBackend({ prefer: 'wasm', ...quiet });
    for (const k of WASM_GAP_KERNELS) expect(tf.getKernel(k, 'wasm')).toBeDefined();
    for (const k of WASM_FAST_PATH_KERNELS) {
      expect((tf.getKernel(k, 'wasm')!.kernelFunc as unknown as Record<symbol, boolean>)[Symbol.for('attend.wasmFastPath')]).toBe(true);
    }
  });

  for (const [name, f] of Object.entries(cases)) {
    it(name, async () => {
      const want = await on('cpu', f);
      const got = await on('wasm', f);
      expect(got.length).toBe(want.length);
      got.forEach((g, i) => g.forEach((x, j) => expect(x).toBeCloseTo(want[i]![j]!, 5)));
    });
  }

  it('GatherV2 refuses an index outside the table, naming it', async () => {
    await selectBackend({ prefer: 'wasm', ...quiet });
    const table = tf.ones([3, 2]);
    const ids = tf.tensor1d([0, 3], 'int32');
    const before = tf.memory().numTensors;
    expect(() => tf.gather(table, ids)).toThrow(/the index value 3 is not in \[0, 2\]/);
    expect(tf.memory().numTensors).toBe(before); // no output left behind
    tf.dispose([table, ids]);
  });

  it('switches to the stock kernels and back (setWasmFastPaths), with the same values', async () => {
    await selectBackend({ prefer: 'wasm', ...quiet });
    const marked = () => WASM_FAST_PATH_KERNELS.map((k) => (tf.getKernel(k, 'wasm')!.kernelFunc as unknown as Record<symbol, boolean>)[Symbol.for('attend.wasmFastPath')] === true);
    const f = cases['BatchMatMul with every transpose combination, rank 2 and 3']!;
    const values = () => tf.tidy(f).map((t) => { const v = Array.from(t.dataSync()); t.dispose(); return v; }); // on wasm, no re-selection (it registers ours again)
    const ours = values();
    expect(setWasmFastPaths(false)).toBe(true);
    try {
      expect(marked().every((m) => !m)).toBe(true);
      const stock = values();
      stock.forEach((g, i) => g.forEach((x, j) => expect(x).toBeCloseTo(ours[i]![j]!, 4)));
    } finally {
      expect(setWasmFastPaths(true)).toBe(false);
    }
    expect(marked().every((m) => m)).toBe(true);
  });

  it('does not leak tensors on wasm', async () => {
    await selectBackend({ prefer: 'wasm', ...quiet });
    for (const f of Object.values(cases)) {
      tf.tidy(f).forEach((t) => t.dispose());
      const before = tf.memory();
      for (let i = 0; i < 3; i++) tf.tidy(f).forEach((t) => t.dispose());
      expect(tf.memory().numTensors).toBe(before.numTensors);
      expect(tf.memory().numBytes).toBe(before.numBytes);
    }
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
        console.warn(`skipped: tensorflow backend not available here (${(err as Error).message.split('\n').filter((l) => l.startsWith('  - ')).map((l) => l.trim()).join('; ')})`);
        ctx.skip();
        return;
      }
      const got = await on('tensorflow', f);
      got.forEach((g, i) => g.forEach((x, j) => expect(x).toBeCloseTo(want[i]![j]!, 5)));
    });
  }
});
