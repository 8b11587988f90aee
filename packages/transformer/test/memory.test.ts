// Leak checks (tfjs-core's habit): tf.memory().numTensors does not grow across repeated calls of
// every public entry point, once what the API says is the caller's (results, new caches, gradients)
// is disposed; inputs and caches passed in stay the caller's and are not consumed.
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@attend/core/node';
import { beforeAll, describe, expect, it } from 'vitest';
import { crossEntropy, GPT, MultiHeadAttention, TransformerDecoder, TransformerEncoder } from '../src/index.js';
import { expectNoLeak, free, lengthsMask, randn, randomIds } from './helpers.js';

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
});

describe('no leaks: GPT', () => {
  const build = () => new GPT({ vocabSize: 9, contextLength: 6, layers: 2, dModel: 8, heads: 2, dropout: 0.1, seed: 1 });

  it('logits (eval and training), loss, attentionWeights, variableGrads of the loss', () => {
    const gpt = build();
    const ids = randomIds(2, 6, 9, 1);
    const targets = randomIds(2, 6, 9, 2);
    expectNoLeak(() => gpt.logits(ids).dispose(), 3, 'logits');
    expectNoLeak(() => gpt.logits(ids, { training: true }).dispose(), 3, 'logits (training)');
    expectNoLeak(() => gpt.loss(ids, targets).dispose(), 3, 'loss');
    expectNoLeak(() => free(gpt.attentionWeights(ids)), 3, 'attentionWeights');
    const vars = Object.values(gpt.variables());
    expectNoLeak(() => {
      const { value, grads } = tf.variableGrads(() => gpt.loss(ids, targets, { training: true }), vars);
      free(value, grads);
    }, 3, 'variableGrads');
    free(ids, targets);
    gpt.dispose();
  });

  it('startCache, forwardCached, step (the cache passed in stays valid and is not consumed)', () => {
    const gpt = build();
    const ids = randomIds(2, 3, 9, 3);
    const id = tf.tensor1d([4, 5], 'int32');
    const cache = gpt.forwardCached(ids);
    cache.logits.dispose();
    expectNoLeak(() => free(gpt.startCache(2)), 3, 'startCache');
    expectNoLeak(() => free(gpt.forwardCached(ids)), 3, 'forwardCached without a cache');
    expectNoLeak(() => free(gpt.forwardCached(ids, cache.cache)), 3, 'forwardCached with a cache');
    expectNoLeak(() => free(gpt.step(id, cache.cache)), 3, 'step');
    // The cache is still usable after all that.
    const r = gpt.step(id, cache.cache);
    expect(r.cache.length).toBe(4);
    free(ids, id, cache, r);
    gpt.dispose();
  });

  it('sample: cached, uncached, and past the context length (re-primed cache)', () => {
    const gpt = build();
    expectNoLeak(() => gpt.sample({ prime: [1, 2], length: 3, seed: 1 }), 2, 'sample (cache)');
    expectNoLeak(() => gpt.sample({ prime: [1, 2], length: 3, seed: 1, cache: false }), 2, 'sample (no cache)');
    expectNoLeak(() => gpt.sample({ prime: [1, 2, 3, 4, 5, 6, 7], length: 10, seed: 2, topK: 3 }), 2, 'sample past the context');
    gpt.dispose();
  });

  it('dispose frees every variable and table', () => {
    const before = tf.memory().numTensors;
    const gpt = new GPT({ vocabSize: 9, contextLength: 6, layers: 2, dModel: 8, heads: 2, positional: 'sinusoidal' });
    gpt.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('no leaks: encoder, decoder, attention, loss', () => {
  it('TransformerEncoder apply (eval and training) and its gradients', () => {
    const enc = new TransformerEncoder({ dModel: 8, heads: 2, layers: 2, dropout: 0.2, norm: 'pre', seed: 2 });
    const x = randn([2, 5, 8], 1) as tf.Tensor3D;
    const mask = lengthsMask([5, 3], 5);
    expectNoLeak(() => free(enc.apply(x, { mask })), 3, 'apply');
    expectNoLeak(() => free(enc.apply(x, { mask, training: true })), 3, 'apply (training)');
    expectNoLeak(() => {
      const { value, grads } = tf.variableGrads(() => tf.sum(enc.apply(x, { mask, training: true }).output) as tf.Scalar, Object.values(enc.variables()));
      free(value, grads);
    }, 3, 'variableGrads');
    free(x, mask);
    enc.dispose();
  });

  it('TransformerDecoder apply with memory, startCache and cached steps', () => {
    const dec = new TransformerDecoder({ dModel: 8, heads: 2, layers: 2, dropout: 0.1, seed: 3 });
    const x = randn([2, 4, 8], 2) as tf.Tensor3D;
    const x1 = randn([2, 1, 8], 3) as tf.Tensor3D;
    const memory = randn([2, 3, 8], 4) as tf.Tensor3D;
    const memoryMask = lengthsMask([3, 2], 3);
    expectNoLeak(() => free(dec.apply(x, { memory, memoryMask })), 3, 'apply');
    expectNoLeak(() => free(dec.apply(x, { memory, memoryMask, training: true })), 3, 'apply (training)');
    expectNoLeak(() => free(dec.startCache(memory, memoryMask)), 3, 'startCache');
    const cache = dec.startCache(memory, memoryMask);
    expectNoLeak(() => free(dec.apply(x1, { cache })), 3, 'cached step');
    free(x, x1, memory, memoryMask, cache);
    dec.dispose();
  });

  it('MultiHeadAttention apply (self, cross via memory, past, training) and crossEntropy', () => {
    const mha = new MultiHeadAttention({ dModel: 8, heads: 2, dropout: 0.3, seed: 4 });
    const x = randn([2, 3, 8], 5) as tf.Tensor3D;
    const kv = randn([2, 4, 8], 6) as tf.Tensor3D;
    const memory = mha.projectKeyValue(kv);
    const past = mha.projectKeyValue(x);
    expectNoLeak(() => free(mha.apply(x, undefined, { causal: true })), 3, 'self');
    expectNoLeak(() => free(mha.apply(x, undefined, { memory })), 3, 'memory');
    expectNoLeak(() => free(mha.apply(x, undefined, { past, causal: true })), 3, 'past');
    expectNoLeak(() => free(mha.apply(x, kv, { training: true })), 3, 'training');
    expectNoLeak(() => free(mha.projectKeyValue(kv)), 3, 'projectKeyValue');
    const logits = randn([6, 5], 7) as tf.Tensor2D;
    const targets = tf.tensor1d([0, 1, 2, 3, 4, 0], 'int32');
    const mask = tf.tensor1d([1, 1, 1, 0, 1, 0]);
    expectNoLeak(() => crossEntropy(logits, targets, { labelSmoothing: 0.1, mask }).dispose(), 3, 'crossEntropy');
    free(x, kv, memory, past, logits, targets, mask);
    mha.dispose();
  });
});
