// Gradients against central finite differences (float32, relative tolerance 1e-2, as
// packages/attention/test/gradients.test.ts): LayerNorm (input, γ, β), FeedForward (GELU),
// MultiHeadAttention (query, keys/values and all four projections; padding + causal masks, and
// cross-attention through precomputed memory), an encoder and a decoder layer, and a tiny GPT's loss
// w.r.t. a few of its parameters (embedding, positions, attention, feed-forward, final norm, head),
// with and without biases.
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@attend/core/node';
import { beforeAll, describe, expect, it } from 'vitest';
import { FeedForward, GPT, LayerNorm, MultiHeadAttention, TransformerDecoderLayer, TransformerEncoderLayer, type NormPlacement } from '../src/index.js';
import { checkDirectional, lengthsMask, randn, randomIds } from './helpers.js';

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
});

/** Sets every variable of `vars` to seeded N(0, scale²) noise (plus `offset` for names ending in `gamma`). */
function scramble(vars: Record<string, tf.Variable>, seed: number, scale = 0.3): void {
  let s = seed;
  for (const [name, v] of Object.entries(vars)) {
    tf.tidy(() => v.assign(tf.add(randn(v.shape, s++, scale), name.endsWith('gamma') ? 1 : 0)));
  }
}

describe('finite differences', () => {
  it.each([true, false])('LayerNorm (bias %s): input, gamma, beta', (bias) => {
    const ln = new LayerNorm({ dim: 6, bias });
    scramble(ln.variables(), 1);
    const x = tf.variable(randn([2, 3, 6], 2));
    const R = randn([2, 3, 6], 3);
    checkDirectional(() => tf.tidy(() => tf.sum(tf.mul(ln.apply(x), R)) as tf.Scalar), { x, ...ln.variables() });
    tf.dispose([x, R]);
    ln.dispose();
  });

  it('FeedForward (gelu): input and both projections', () => {
    const ff = new FeedForward({ dModel: 4, dFF: 6, activation: 'gelu', seed: 2 });
    const x = tf.variable(randn([2, 3, 4], 4));
    const R = randn([2, 3, 4], 5);
    checkDirectional(() => tf.tidy(() => tf.sum(tf.mul(ff.apply(x as tf.Tensor3D), R)) as tf.Scalar), { x, ...ff.variables() });
    tf.dispose([x, R]);
    ff.dispose();
  });

  it('MultiHeadAttention self-attention with padding + causal masks: query and every projection (output and weights)', () => {
    const mha = new MultiHeadAttention({ dModel: 6, heads: 2, seed: 3 });
    const x = tf.variable(randn([2, 4, 6], 6));
    const mask = lengthsMask([4, 3], 4);
    const R = randn([2, 4, 6], 7);
    const Rw = randn([2, 2, 4, 4], 8);
    const loss = () =>
      tf.tidy(() => {
        const r = mha.apply(x as tf.Tensor3D, undefined, { mask, causal: true });
        return tf.add(tf.sum(tf.mul(r.output, R)), tf.sum(tf.mul(r.weights!, Rw))) as tf.Scalar;
      });
    checkDirectional(loss, { x, ...mha.variables() });
    tf.dispose([x, mask, R, Rw]);
    mha.dispose();
  });

  it('MultiHeadAttention cross-attention through projectKeyValue memory: query, keyValue and every projection', () => {
    const mha = new MultiHeadAttention({ dModel: 6, heads: 3, seed: 4 });
    const q = tf.variable(randn([2, 3, 6], 9));
    const kv = tf.variable(randn([2, 5, 6], 10));
    const mask = lengthsMask([5, 2], 5);
    const R = randn([2, 3, 6], 11);
    const loss = () =>
      tf.tidy(() => {
        const memory = mha.projectKeyValue(kv as tf.Tensor3D);
        return tf.sum(tf.mul(mha.apply(q as tf.Tensor3D, undefined, { memory, mask }).output, R)) as tf.Scalar;
      });
    checkDirectional(loss, { q, kv, ...mha.variables() });
    tf.dispose([q, kv, mask, R]);
    mha.dispose();
  });

  it.each(['post', 'pre'] as NormPlacement[])('TransformerEncoderLayer %s-LN: input and every weight', (norm) => {
    const layer = new TransformerEncoderLayer({ dModel: 4, heads: 2, dFF: 6, dropout: 0, norm, seed: 5 });
    scramble(layer.variables(), 20);
    const x = tf.variable(randn([2, 3, 4], 12));
    const mask = lengthsMask([3, 2], 3);
    const R = randn([2, 3, 4], 13);
    checkDirectional(() => tf.tidy(() => tf.sum(tf.mul(layer.apply(x as tf.Tensor3D, { mask }).output, R)) as tf.Scalar), { x, ...layer.variables() });
    tf.dispose([x, mask, R]);
    layer.dispose();
  });

  it('TransformerDecoderLayer post-LN with cross-attention: input, memory and every weight', () => {
    const layer = new TransformerDecoderLayer({ dModel: 4, heads: 2, dFF: 6, dropout: 0, norm: 'post', seed: 6 });
    scramble(layer.variables(), 60);
    const y = tf.variable(randn([2, 3, 4], 14));
    const mem = tf.variable(randn([2, 2, 4], 15));
    const memoryMask = lengthsMask([2, 1], 2);
    const R = randn([2, 3, 4], 16);
    const loss = () =>
      tf.tidy(() => {
        const memory = layer.projectMemory(mem as tf.Tensor3D);
        return tf.sum(tf.mul(layer.apply(y as tf.Tensor3D, { memory, memoryMask }).output, R)) as tf.Scalar;
      });
    checkDirectional(loss, { y, mem, ...layer.variables() });
    tf.dispose([y, mem, memoryMask, R]);
    layer.dispose();
  });

  it.each([true, false])('GPT loss (bias %s): embedding, positions, attention, feed-forward, final norm and head', (bias) => {
    const gpt = new GPT({ vocabSize: 7, contextLength: 6, layers: 2, dModel: 8, heads: 2, dropout: 0, bias, seed: 7 });
    // Larger weights than the N(0, 0.02²) init, so every parameter matters to the loss.
    scramble(gpt.variables(), 100, 0.4);
    const ids = randomIds(2, 6, 7, 17);
    const targets = randomIds(2, 6, 7, 18);
    const all = gpt.variables();
    const pick = [
      'embedding/table',
      'positions/table',
      'decoder/layer0/self/q/W',
      'decoder/layer1/self/o/W',
      'decoder/layer1/ff/W1/W',
      'decoder/layer0/norm2/gamma',
      'decoder/norm/gamma',
      'head/W',
      ...(bias ? ['decoder/layer0/self/v/b', 'decoder/layer1/ff/W2/b', 'decoder/norm/beta'] : []),
    ];
    expect(pick.filter((n) => !(n in all))).toEqual([]);
    checkDirectional(() => gpt.loss(ids, targets), Object.fromEntries(pick.map((n) => [n, all[n]!])));
    tf.dispose([ids, targets]);
    gpt.dispose();
  });
});
