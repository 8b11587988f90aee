// TensorflowOps (raw TensorFlow ops on tfjs-node, past tfjs's engine): values of the helpers against
// tfjs's own ops, handles handed to tfjs by `wrap`, and `dispose` freeing every handle left over
// (using one afterwards fails in the binding), so a loop that throws half-way leaks nothing.
// Skipped, with the reason printed, where tfjs-node is not built; CI builds it and sets
// ATTEND_EXPECT_TENSORFLOW=1.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { TensorflowOps, tensorflowAvailable } from '../src/index.js';
import { selectBackend } from '../src/node.js';

let skip = '';
beforeAll(async () => {
  try {
    await selectBackend({ prefer: 'tensorflow', log: false });
  } catch (err) {
    if (process.env.ATTEND_EXPECT_TENSORFLOW === '1') throw err;
    skip = (err as Error).message.split('\n').filter((l) => l.startsWith('  - ')).map((l) => l.trim()).join('; ');
    console.warn(`skipped: tensorflow backend not available here (${skip})`);
  }
});

describe('TensorflowOps', () => {
  it('runs ops on raw handles: matMul (with transposes), split, stack, unstack agree with tfjs', (ctx) => {
    if (skip) return ctx.skip();
    expect(tensorflowAvailable()).toBe(true);
    const a = tf.tensor2d([[1, 2, 3], [4, 5, 6]]); // [2, 3]
    const b = tf.tensor2d([[1, 0], [0, 1], [2, -1]]); // [3, 2]
    const ops = new TensorflowOps();
    try {
      const [aId, bId] = ops.ids([a, b]);
      expect(ops.wrap(ops.matMul(aId!, bId!)).arraySync()).toEqual([[7, -1], [16, -1]]);
      expect(ops.wrap(ops.matMul(aId!, aId!, true, false)).arraySync()).toEqual(tf.matMul(a, a, true, false).arraySync()); // aᵀ·a [3, 3]
      expect(ops.wrap(ops.matMul(aId!, aId!, false, true)).arraySync()).toEqual([[14, 32], [32, 77]]); // a·aᵀ
      const cols = ops.split(aId!, 3, ops.int32(1)); // three [2, 1]
      expect(cols.map((c) => ops.wrap(c).arraySync())).toEqual([[[1], [4]], [[2], [5]], [[3], [6]]]);
      const rows = ops.unstack(aId!, 2, 0); // two [3]
      const stacked = ops.stack(rows, 1); // [3, 2] = aᵀ
      expect(ops.wrap(stacked).arraySync()).toEqual([[1, 4], [2, 5], [3, 6]]);
      ops.free(...rows);
    } finally {
      ops.dispose();
    }
    tf.dispose([a, b]);
  });

  it('dispose frees what was neither freed nor wrapped; wrapped handles stay valid as tfjs tensors', (ctx) => {
    if (skip) return ctx.skip();
    const a = tf.tensor1d([1, 2, 3]);
    const ops = new TensorflowOps();
    const [aId] = ops.ids([a]);
    const kept = ops.one('AddV2', [aId!, aId!]);
    const left = ops.one('Mul', [aId!, aId!]);
    const wrapped = ops.wrap(kept);
    ops.dispose();
    expect(Array.from(wrapped.dataSync())).toEqual([2, 4, 6]);
    const other = new TensorflowOps();
    expect(() => other.one('AddV2', [left, aId!])).toThrow(); // freed by dispose
    other.dispose();
    tf.dispose([a, wrapped]);
  });
});
