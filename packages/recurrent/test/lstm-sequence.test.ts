// The hand-written LSTM backward (lstmSequence) against autodiff through the per-step cell ops: same
// values, same gradients w.r.t. every input, no leaks.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '@attend/core/node';
import { lstmSequence } from '../src/lstm-sequence.js';

const B = 3;
const T = 5;
const H = 4;

function inputs(seed: number) {
  return [
    tf.randomNormal([B, T, 4 * H], 0, 1, 'float32', seed),
    tf.randomNormal([H, 4 * H], 0, 0.5, 'float32', seed + 1),
    tf.randomNormal([B, H], 0, 0.5, 'float32', seed + 2),
    tf.randomNormal([B, H], 0, 0.5, 'float32', seed + 3),
  ] as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
}

/** The reference: the same equations step by step, differentiated by tfjs's autodiff. */
function composite(xp: tf.Tensor3D, W_h: tf.Tensor2D, h0: tf.Tensor2D, c0: tf.Tensor2D) {
  let h: tf.Tensor2D = h0;
  let c: tf.Tensor2D = c0;
  const hs: tf.Tensor2D[] = [];
  for (const x of tf.unstack(xp, 1) as tf.Tensor2D[]) {
    const [zi, zf, zg, zo] = tf.split(tf.add(x, tf.matMul(h, W_h)), 4, 1);
    c = tf.add(tf.mul(tf.sigmoid(zf!), c), tf.mul(tf.sigmoid(zi!), tf.tanh(zg!)));
    h = tf.mul(tf.sigmoid(zo!), tf.tanh(c));
    hs.push(h);
  }
  return { hs: tf.stack(hs, 1) as tf.Tensor3D, h, c };
}

// A loss touching every output: weighted sums of hs, the final h and the final c.
function loss(f: typeof composite, args: [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D]) {
  const r = f(...args);
  const w = tf.sin(tf.reshape(tf.range(0, B * T * H), [B, T, H]));
  return tf.add(tf.add(tf.sum(tf.mul(r.hs, w)), tf.sum(tf.mul(r.h, 0.7))), tf.sum(tf.mul(r.c, -1.3))) as tf.Scalar;
}

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
});

describe('lstmSequence (hand-written BPTT)', () => {
  it('computes the same outputs as the step-by-step cell', () => {
    const args = inputs(1);
    const a = lstmSequence(...args);
    const b = composite(...args);
    for (const k of ['hs', 'h', 'c'] as const) {
      expect(a[k].shape).toEqual(b[k].shape);
      const x = a[k].dataSync();
      const y = b[k].dataSync();
      x.forEach((v, i) => expect(v).toBeCloseTo(y[i]!, 5));
    }
  });

  it('gives the same gradients as autodiff w.r.t. xp, W_h, h0 and c0', () => {
    const args = inputs(7);
    const ga = tf.grads((...xs: tf.Tensor[]) => loss(lstmSequence as typeof composite, xs as typeof args))(args);
    const gb = tf.grads((...xs: tf.Tensor[]) => loss(composite, xs as typeof args))(args);
    ga.forEach((g, k) => {
      expect(g.shape).toEqual(gb[k]!.shape);
      const x = g.dataSync();
      const y = gb[k]!.dataSync();
      let maxAbs = 0;
      x.forEach((v, i) => (maxAbs = Math.max(maxAbs, Math.abs(v - y[i]!))));
      expect(maxAbs, `input ${k}`).toBeLessThan(1e-4);
      expect(Math.max(...Array.from(y, Math.abs))).toBeGreaterThan(1e-2); // the comparison is not vacuous
    });
  });

  it('leaks no tensors across forward and backward', () => {
    const args = inputs(3);
    const run = () => tf.dispose(tf.grads((...xs: tf.Tensor[]) => loss(lstmSequence as typeof composite, xs as typeof args))(args));
    run();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) run();
    expect(tf.memory().numTensors).toBe(before);
  });
});
