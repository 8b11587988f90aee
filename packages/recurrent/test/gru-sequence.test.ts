// The hand-written taught-GRU backward (gruSequence) against autodiff through the per-step cell
// ops; and RNNLayer's GRU path with it on vs off. Same values, same gradients, no leaks.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '@attend/core/node';
import { gruSequence } from '../src/gru-sequence.js';
import { GRUCell } from '../src/gru.js';
import { RNNLayer, setHandWrittenBackward } from '../src/rnn-layer.js';

const B = 3;
const T = 5;
const H = 4;

const inputs = (seed: number) =>
  [
    tf.randomNormal([B, T, 3 * H], 0, 1, 'float32', seed),
    tf.randomNormal([H, 3 * H], 0, 0.5, 'float32', seed + 1),
    tf.randomNormal([B, H], 0, 0.5, 'float32', seed + 2),
  ] as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D];

/** Reference: the taught GRU step by step (r, z, n; reset before the candidate matmul), autodiff. */
function composite(xp: tf.Tensor3D, W_h: tf.Tensor2D, h0: tf.Tensor2D): tf.Tensor3D {
  const [W_hrz, W_hn] = tf.split(W_h, [2 * H, H], 1);
  let h: tf.Tensor = h0;
  const hs: tf.Tensor[] = [];
  for (const x of tf.unstack(xp, 1)) {
    const [x_r, x_z, x_n] = tf.split(x, 3, 1);
    const [h_r, h_z] = tf.split(tf.matMul(h, W_hrz!), 2, 1);
    const r = tf.sigmoid(tf.add(x_r!, h_r!));
    const z = tf.sigmoid(tf.add(x_z!, h_z!));
    const n = tf.tanh(tf.add(x_n!, tf.matMul(tf.mul(r, h), W_hn!)));
    h = tf.add(tf.mul(tf.sub(1, z), h), tf.mul(z, n));
    hs.push(h);
  }
  return tf.stack(hs, 1) as tf.Tensor3D;
}

/** The hand-written path's outputs, in the reference's shape (h_T checked separately). */
const fast = (xp: tf.Tensor3D, W_h: tf.Tensor2D, h0: tf.Tensor2D): tf.Tensor3D => gruSequence(xp, W_h, h0).hs;

const loss = (f: typeof composite, xs: tf.Tensor[]) =>
  tf.sum(tf.mul(f(...(xs as Parameters<typeof composite>)), tf.sin(tf.reshape(tf.range(0, B * T * H), [B, T, H])))) as tf.Scalar;
const maxDiff = (a: tf.Tensor, b: tf.Tensor) => Math.max(...Array.from(a.dataSync(), (v, i) => Math.abs(v - b.dataSync()[i]!)));

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
});

describe('gruSequence (hand-written BPTT, taught GRU)', () => {
  it('computes the same outputs and gradients (xp, W_h, h0) as autodiff', () => {
    const xs = inputs(21);
    const r = gruSequence(...xs);
    const ref = composite(...xs);
    expect(maxDiff(r.hs, ref)).toBeLessThan(1e-6);
    expect(maxDiff(r.h, tf.slice(ref, [0, T - 1, 0], [B, 1, H]))).toBeLessThan(1e-6);
    const ga = tf.grads((...v: tf.Tensor[]) => loss(fast, v))(xs);
    const gb = tf.grads((...v: tf.Tensor[]) => loss(composite, v))(xs);
    ga.forEach((g, k) => {
      expect(g.shape).toEqual(gb[k]!.shape);
      expect(maxDiff(g, gb[k]!), `input ${k}`).toBeLessThan(1e-5);
      expect(Math.max(...Array.from(gb[k]!.dataSync(), Math.abs))).toBeGreaterThan(1e-2);
    });
  });

  it('RNNLayer uses it for unmasked taught GRUs with the same values and gradients as the reference path', () => {
    const layer = new RNNLayer(new GRUCell({ inputSize: 2, hidden: H, seed: 4 }));
    const x = tf.randomNormal([B, T, 2], 0, 1, 'float32', 9) as tf.Tensor3D;
    const f = () => tf.sum(tf.square(layer.forward(x).output)) as tf.Scalar;
    const fast = tf.variableGrads(f);
    const before = setHandWrittenBackward(false);
    const ref = tf.variableGrads(f);
    setHandWrittenBackward(before);
    expect(Math.abs(fast.value.dataSync()[0]! - ref.value.dataSync()[0]!)).toBeLessThan(1e-5);
    for (const k of Object.keys(ref.grads)) expect(maxDiff(fast.grads[k]!, ref.grads[k]!), k).toBeLessThan(1e-5);
    layer.dispose();
  });

  it('leaks no tensors', () => {
    const xs = inputs(5);
    const run = () => tf.dispose(tf.grads((...v: tf.Tensor[]) => loss(fast, v))(xs));
    run();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) run();
    expect(tf.memory().numTensors).toBe(before);
  });
});
