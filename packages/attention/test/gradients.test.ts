// Gradients against central finite differences (float32, relative tolerance 1e-2): for the query,
// keys, values and every weight of each score function, with a padding mask, a causal mask, one
// decoder step, and scaled dot-product attention over heads.
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@attend/core/node';
import { beforeAll, describe, it } from 'vitest';
import { createAttention, scaledDotProductAttention, type AttendOptions, type AttentionConfig } from '../src/index.js';
import { checkDirectional, randn } from './helpers.js';

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
});

const CONFIGS: [string, AttentionConfig][] = [
  ['dot', { type: 'dot' }],
  ['general', { type: 'general', queryDim: 3, keyDim: 3, seed: 1 }],
  ['additive', { type: 'additive', queryDim: 3, keyDim: 3, attentionDim: 4, seed: 2 }],
  ['scaledDot', { type: 'scaledDot' }],
];

const OPTIONS: [string, () => AttendOptions][] = [
  ['no mask', () => ({})],
  ['padding mask', () => ({ mask: tf.tensor2d([[1, 1, 1, 1], [1, 1, 0, 0]]) })],
  ['causal', () => ({ causal: true })],
];

describe.each(CONFIGS)('finite differences: %s', (_name, config) => {
  it.each(OPTIONS)('%s: query, keys, values and every weight', (_o, makeOpts) => {
    const layer = createAttention(config);
    const opts = makeOpts();
    const q = tf.variable(randn([2, 3, 3], 1));
    const k = tf.variable(randn([2, 4, 3], 2));
    const v = tf.variable(randn([2, 4, 2], 3));
    const Rc = randn([2, 3, 2], 4);
    const Rw = randn([2, 3, 4], 5);
    const loss = () =>
      tf.tidy(() => {
        const r = layer.attend(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, opts);
        return tf.add(tf.sum(tf.mul(r.context, Rc)), tf.sum(tf.mul(r.weights, Rw))) as tf.Scalar;
      });
    checkDirectional(loss, { query: q, keys: k, values: v, ...layer.variables() });
    tf.dispose([q, k, v, Rc, Rw, opts.mask ?? []]);
    layer.dispose();
  });

  it('one decoder step [B, Dq]', () => {
    const layer = createAttention(config);
    const mask = tf.tensor2d([[1, 1, 1, 1], [1, 1, 1, 0]]);
    const q = tf.variable(randn([2, 3], 6));
    const k = tf.variable(randn([2, 4, 3], 7));
    const v = tf.variable(randn([2, 4, 2], 8));
    const Rc = randn([2, 2], 9);
    const loss = () => tf.tidy(() => tf.sum(tf.mul(layer.attend(q as tf.Tensor2D, k as tf.Tensor3D, v as tf.Tensor3D, { mask }).context, Rc)) as tf.Scalar);
    checkDirectional(loss, { query: q, keys: k, values: v, ...layer.variables() });
    tf.dispose([q, k, v, Rc, mask]);
    layer.dispose();
  });
});

describe('finite differences: scaled dot-product over heads', () => {
  it('q, k, v [B, heads, T, d] with padding and causal masks', () => {
    const mask = tf.tensor2d([[1, 1, 1, 1], [1, 1, 1, 0]]);
    const q = tf.variable(randn([2, 2, 4, 3], 10));
    const k = tf.variable(randn([2, 2, 4, 3], 11));
    const v = tf.variable(randn([2, 2, 4, 2], 12));
    const Rc = randn([2, 2, 4, 2], 13);
    const Rw = randn([2, 2, 4, 4], 14);
    const loss = () =>
      tf.tidy(() => {
        const r = scaledDotProductAttention(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, { mask, causal: true });
        return tf.add(tf.sum(tf.mul(r.context, Rc)), tf.sum(tf.mul(r.weights, Rw))) as tf.Scalar;
      });
    checkDirectional(loss, { q, k, v });
    tf.dispose([q, k, v, Rc, Rw, mask]);
  });
});
