// The taught GRU's step API caches W_h's [r, z] / n split while no gradient is recorded (generation
// calls stepper() once per token): results must equal a fresh split's, follow W_h after assign, keep
// the gradient under a tape, and leak nothing across steps.
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@attend/core/node';
import { beforeAll, describe, expect, it } from 'vitest';
import { GRUCell } from '../src/gru.js';
import { RNNLayer } from '../src/rnn-layer.js';

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
});

/** The taught GRU step written out from the variables (no cache involved). */
function reference(cell: GRUCell, x: tf.Tensor2D, h: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const H = cell.hidden;
    const xp = tf.add(tf.matMul(x, cell.W_x), cell.b); // [B, 3H]
    const [x_r, x_z, x_n] = tf.split(xp, 3, 1);
    const hw = tf.matMul(h, tf.slice(cell.W_h, [0, 0], [H, 2 * H]));
    const [h_r, h_z] = tf.split(hw, 2, 1);
    const r = tf.sigmoid(tf.add(x_r!, h_r!));
    const z = tf.sigmoid(tf.add(x_z!, h_z!));
    const n = tf.tanh(tf.add(x_n!, tf.matMul(tf.mul(r, h), tf.slice(cell.W_h, [0, 2 * H], [H, H]))));
    return tf.add(tf.mul(tf.sub(1, z), h), tf.mul(z, n)) as tf.Tensor2D;
  });
}

const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);

describe('GRU step with the cached W_h split', () => {
  it('equals the written-out step, follows W_h after assign, keeps gradients under a tape, leaks nothing', () => {
    const cell = new GRUCell({ inputSize: 3, hidden: 4, seed: 2 });
    const layer = new RNNLayer(cell);
    const x = tf.randomNormal([2, 3], 0, 1, 'float32', 1) as tf.Tensor2D;
    const h = tf.randomNormal([2, 4], 0, 0.5, 'float32', 2) as tf.Tensor2D;
    const step = () => layer.step(x, { h: [h] });
    let r = step();
    let ref = reference(cell, x, h);
    expect(maxDiff(r.y, ref)).toBeLessThan(1e-6);
    tf.dispose([r, ref]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) tf.dispose(step());
    expect(tf.memory().numTensors).toBe(before);
    cell.W_h.assign(tf.mul(cell.W_h, -0.7) as tf.Tensor2D);
    r = step();
    ref = reference(cell, x, h);
    expect(maxDiff(r.y, ref)).toBeLessThan(1e-6); // the cache followed the new W_h
    tf.dispose([r, ref]);
    const g = tf.variableGrads(() => tf.sum(step().y) as tf.Scalar, [cell.W_h]);
    expect(tf.tidy(() => tf.sum(tf.abs(g.grads[cell.W_h.name]!)).dataSync()[0])).toBeGreaterThan(0); // the gradient reached W_h
    tf.dispose([g.value, g.grads, x, h]);
    layer.dispose();
  });
});
