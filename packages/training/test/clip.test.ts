import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@attend/core/node';
import { beforeAll, describe, expect, it } from 'vitest';
import { clipByGlobalNorm, globalNorm } from '../src/index.js';

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
});

// ‖[3, 4]‖² + ‖[12]‖² = 9 + 16 + 144 = 169 → global norm 13.
const make = () => ({ a: tf.tensor1d([3, 4]), b: tf.tensor2d([[12]]) });

describe('globalNorm / clipByGlobalNorm', () => {
  it('computes the norm over all gradients as one vector', () => {
    const g = make();
    expect(globalNorm(g)).toBeCloseTo(13, 6);
    tf.dispose(Object.values(g));
  });

  it('scales every gradient by maxNorm / norm when the norm is larger', () => {
    const g = make();
    const { grads, norm } = clipByGlobalNorm(g, 6.5);
    expect(norm).toBeCloseTo(13, 6);
    expect(Array.from(grads.a!.dataSync())).toEqual([1.5, 2]);
    expect(Array.from(grads.b!.dataSync())).toEqual([6]);
    expect(grads.b!.shape).toEqual([1, 1]);
    expect(globalNorm(grads)).toBeCloseTo(6.5, 5);
    tf.dispose([...Object.values(g), ...Object.values(grads)]);
  });

  it('leaves gradients unchanged below maxNorm and when clipping is off (0)', () => {
    for (const max of [13, 20, 0]) {
      const g = make();
      const { grads, norm } = clipByGlobalNorm(g, max);
      expect(norm).toBeCloseTo(13, 6);
      expect(Array.from(grads.a!.dataSync())).toEqual([3, 4]);
      expect(Array.from(grads.b!.dataSync())).toEqual([12]);
      tf.dispose([...Object.values(g), ...Object.values(grads)]);
    }
  });

  it('skips missing gradients, handles none, and does not leak', () => {
    const g = make();
    const before = tf.memory().numTensors;
    const { grads, norm } = clipByGlobalNorm({ ...g, c: null }, 1);
    expect(norm).toBeCloseTo(13, 6);
    expect(Object.keys(grads)).toEqual(['a', 'b']);
    tf.dispose(Object.values(grads));
    expect(tf.memory().numTensors).toBe(before);
    expect(globalNorm({})).toBe(0);
    tf.dispose(Object.values(g));
  });

  it('rejects a negative maxNorm', () => {
    expect(() => clipByGlobalNorm({}, -1)).toThrow(/maxNorm/);
  });
});
