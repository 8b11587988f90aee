// Key/value cache: cached generation must compute exactly what a full (uncached) pass computes.
//   GPT: forwardCached over chunks, and step one token at a time, give the uncached logits within
//   1e-5; sample with cache true and false draws identical ids while the whole sequence fits the
//   context; past the context (cache re-primed) it still draws `length` valid ids, reproducibly.
//   TransformerDecoder with cross-attention: a cache from startCache(memory, memoryMask) run one
//   position (or one chunk) at a time equals the full pass, post-LN and pre-LN.
//   MultiHeadAttention: causal self-attention with `past` equals the matching rows of a full call.
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@attend/core/node';
import { beforeAll, describe, expect, it } from 'vitest';
import { GPT, MultiHeadAttention, TransformerDecoder, type DecoderCache, type GPTConfig, type NormPlacement } from '../src/index.js';
import { expectClose, free, lengthsMask, randn, randomIds, sliceTime } from './helpers.js';

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
});

const V = 13;
const C = 8;
const tinyGPT = (extra: Partial<GPTConfig> = {}) =>
  new GPT({ vocabSize: V, contextLength: C, layers: 2, dModel: 8, heads: 2, dropout: 0, seed: 3, ...extra });

/** Runs `ids` `[B, T]` through `gpt.forwardCached` in chunks of the given sizes; returns the concatenated logits. */
function chunked(gpt: GPT, ids: tf.Tensor2D, sizes: number[]): tf.Tensor3D {
  const [B] = ids.shape;
  let cache: DecoderCache = gpt.startCache(B);
  const parts: tf.Tensor3D[] = [];
  let at = 0;
  for (const n of sizes) {
    const chunk = sliceTime(ids, at, n);
    const r = gpt.forwardCached(chunk, cache);
    free([chunk, cache]);
    cache = r.cache;
    expect(cache.length).toBe(at + n);
    parts.push(r.logits);
    at += n;
  }
  free(cache);
  const out = tf.concat(parts, 1);
  free(parts);
  return out;
}

describe.each<[string, Partial<GPTConfig>]>([
  ['learned, separate head', {}],
  ['sinusoidal, tied head', { positional: 'sinusoidal', tieEmbeddings: true }],
  ['post-LN relu', { norm: 'post', activation: 'relu' }],
])('cache: GPT (%s)', (_name, extra) => {
  it('forwardCached over chunks [3, 1, 4] and [1 × 8], and with no cache, equal the uncached logits', () => {
    const gpt = tinyGPT(extra);
    const ids = randomIds(2, C, V, 1);
    const full = gpt.logits(ids); // [B, C, V]
    for (const sizes of [[3, 1, 4], [1, 1, 1, 1, 1, 1, 1, 1], [C]]) {
      const got = chunked(gpt, ids, sizes);
      expectClose(got, full, 1e-5, `chunks ${sizes.join(', ')}`);
      got.dispose();
    }
    const nocache = gpt.forwardCached(ids);
    expectClose(nocache.logits, full, 1e-5, 'forwardCached without a cache');
    expect(nocache.cache.length).toBe(C);
    free([ids, full, nocache]);
    gpt.dispose();
  });

  it('step one token at a time (after a primed chunk) equals the uncached logits', () => {
    const gpt = tinyGPT(extra);
    const ids = randomIds(2, C, V, 2);
    const full = gpt.logits(ids);
    const prime = sliceTime(ids, 0, 3);
    const first = gpt.forwardCached(prime);
    expectClose(first.logits, sliceTime(full, 0, 3), 1e-5, 'primed chunk');
    let cache = first.cache;
    first.logits.dispose();
    for (let i = 3; i < C; i++) {
      const id = tf.tidy(() => tf.reshape(sliceTime(ids, i, 1), [2]) as tf.Tensor1D);
      const r = gpt.step(id, cache);
      expect(r.logits.shape).toEqual([2, V]);
      expectClose(r.logits, tf.tidy(() => tf.reshape(sliceTime(full, i, 1), [2, V])), 1e-5, `step ${i}`);
      free([id, cache, r.logits]);
      cache = r.cache;
    }
    free([ids, full, prime, cache]);
    gpt.dispose();
  });

  it('sample: cache true and false draw identical ids while prime + length ≤ contextLength', () => {
    const gpt = tinyGPT(extra);
    for (const [prime, options] of [
      [[1, 2], { temperature: 1 }],
      [[5], { temperature: 0.7, topK: 5 }],
      [[0, 4, 9, 12], { temperature: 1.3, topP: 0.9 }],
    ] as const) {
      const length = C - prime.length;
      const a = gpt.sample({ prime: [...prime], length, seed: 11, cache: true, ...options });
      const b = gpt.sample({ prime: [...prime], length, seed: 11, cache: false, ...options });
      expect(a).toHaveLength(length);
      expect(a, `prime ${prime.join(',')}`).toEqual(b);
    }
    gpt.dispose();
  });

  it('sample past the context length: cached (re-primed) and uncached both give valid ids, reproducibly', () => {
    const gpt = tinyGPT(extra);
    for (const cache of [true, false]) {
      const a = gpt.sample({ prime: [3, 1], length: 3 * C, seed: 5, cache });
      const b = gpt.sample({ prime: [3, 1], length: 3 * C, seed: 5, cache });
      expect(a).toHaveLength(3 * C);
      expect(a.every((id) => Number.isInteger(id) && id >= 0 && id < V)).toBe(true);
      expect(a).toEqual(b);
    }
    // Greedy with a prime longer than the context: only the last C tokens matter.
    const long = Array.from({ length: C + 3 }, (_, i) => (i * 5) % V);
    const g1 = gpt.sample({ prime: long, length: 1, temperature: 0, cache: true });
    const g2 = gpt.sample({ prime: long.slice(-C), length: 1, temperature: 0, cache: false });
    expect(g1).toEqual(g2);
    gpt.dispose();
  });
});

describe.each(['post', 'pre'] as NormPlacement[])('cache: TransformerDecoder with cross-attention (%s-LN)', (norm) => {
  const B = 2;
  const T = 6;
  const S = 4;
  const d = 8;
  const build = () => new TransformerDecoder({ dModel: d, heads: 2, layers: 2, dropout: 0, norm, crossAttention: true, seed: 9 });

  it('startCache(memory, memoryMask) and one position per call equals the full pass', () => {
    const dec = build();
    const x = randn([B, T, d], 1) as tf.Tensor3D;
    const memory = randn([B, S, d], 2) as tf.Tensor3D;
    const memoryMask = lengthsMask([4, 2], S);
    const full = dec.apply(x, { memory, memoryMask });
    let cache = dec.startCache(memory, memoryMask);
    expect(cache.length).toBe(0);
    for (let i = 0; i < T; i++) {
      const xi = sliceTime(x, i, 1);
      const r = dec.apply(xi, { cache });
      expectClose(r.output, sliceTime(full.output, i, 1), 1e-5, `position ${i}`);
      // The cross-attention weights of the step are the full pass's row i.
      r.crossWeights.forEach((w, l) => expectClose(w, tf.slice(full.crossWeights[l]!, [0, 0, i, 0], [B, 2, 1, S]), 1e-5, `cross weights layer ${l} row ${i}`));
      free([xi, cache, r.output, r.selfWeights, r.crossWeights]);
      cache = r.cache;
      expect(cache.length).toBe(i + 1);
    }
    free([x, memory, memoryMask, full, cache]);
    dec.dispose();
  });

  it('chunks [2, 3, 1] with the cache equal the full pass; the memory passed again is not needed', () => {
    const dec = build();
    const x = randn([B, T, d], 3) as tf.Tensor3D;
    const memory = randn([B, S, d], 4) as tf.Tensor3D;
    const memoryMask = lengthsMask([3, 4], S);
    const full = dec.apply(x, { memory, memoryMask });
    let cache = dec.startCache(memory, memoryMask);
    let at = 0;
    for (const n of [2, 3, 1]) {
      const xi = sliceTime(x, at, n);
      const r = dec.apply(xi, { cache });
      expectClose(r.output, sliceTime(full.output, at, n), 1e-5, `chunk at ${at}`);
      expect(r.selfWeights[0]!.shape).toEqual([B, 2, n, at + n]);
      free([xi, cache, r.output, r.selfWeights, r.crossWeights]);
      cache = r.cache;
      at += n;
    }
    free([x, memory, memoryMask, full, cache]);
    dec.dispose();
  });
});

describe('cache: TransformerDecoder with a target padding mask', () => {
  it('chunks with selfMask over all keys so far ([B, P + T]) equal the full masked pass; a mask over the new positions only is a clear error', () => {
    const B = 2;
    const T = 5;
    const dec = new TransformerDecoder({ dModel: 8, heads: 2, layers: 2, dropout: 0, norm: 'post', crossAttention: false, seed: 6 });
    const x = randn([B, T, 8], 7) as tf.Tensor3D;
    const selfMask = lengthsMask([5, 3], T); // the second sentence: 3 real tokens, 2 padding
    const full = dec.apply(x, { selfMask });
    let cache = dec.startCache();
    let at = 0;
    for (const n of [2, 3]) {
      const xi = sliceTime(x, at, n);
      const m = tf.slice(selfMask, [0, 0], [B, at + n]) as tf.Tensor2D; // [B, P + T]
      if (at > 0) {
        const short = tf.slice(selfMask, [0, at], [B, n]);
        expect(() => dec.apply(xi, { cache, selfMask: short })).toThrow(`expected selfMask of shape [2, ${at + n}] (the ${at} cached positions and the ${n} new ones), 1 = real token, got [2, ${n}]`);
        short.dispose();
      }
      const r = dec.apply(xi, { cache, selfMask: m });
      // Real positions only: a padded query's output is not used by anything.
      expectClose(tf.slice(r.output, [0, 0, 0], [1, n, 8]), tf.slice(full.output, [0, at, 0], [1, n, 8]), 1e-5, `sentence 1, chunk at ${at}`);
      const real = Math.max(0, Math.min(n, 3 - at));
      if (real > 0) expectClose(tf.slice(r.output, [1, 0, 0], [1, real, 8]), tf.slice(full.output, [1, at, 0], [1, real, 8]), 1e-5, `sentence 2, chunk at ${at}`);
      free([xi, m, cache, r.output, r.selfWeights, r.crossWeights]);
      cache = r.cache;
      at += n;
    }
    free([x, selfMask, full, cache]);
    dec.dispose();
  });
});

describe('cache: decoder-only TransformerDecoder', () => {
  it('startCache() with no memory, then one position per call, equals the full pass', () => {
    const dec = new TransformerDecoder({ dModel: 8, heads: 2, layers: 2, dropout: 0, norm: 'pre', crossAttention: false, seed: 4 });
    const x = randn([2, 5, 8], 5) as tf.Tensor3D;
    const full = dec.apply(x);
    let cache = dec.startCache();
    for (let i = 0; i < 5; i++) {
      const xi = sliceTime(x, i, 1);
      const r = dec.apply(xi, { cache });
      expectClose(r.output, sliceTime(full.output, i, 1), 1e-5, `position ${i}`);
      free([xi, cache, r.output, r.selfWeights, r.crossWeights]);
      cache = r.cache;
    }
    free([x, full, cache]);
    dec.dispose();
  });
});

describe('cache: MultiHeadAttention past', () => {
  it('causal self-attention over [past 3 | new 2] equals rows 3, 4 of the full call; the cache is past + new', () => {
    const mha = new MultiHeadAttention({ dModel: 8, heads: 2, seed: 1 });
    const x = randn([2, 5, 8], 6) as tf.Tensor3D;
    const mask = lengthsMask([5, 4], 5);
    const full = mha.apply(x, undefined, { causal: true, mask });
    const head = sliceTime(x, 0, 3);
    const tail = sliceTime(x, 3, 2);
    const past = mha.projectKeyValue(head);
    const r = mha.apply(tail, undefined, { causal: true, past, mask });
    expectClose(r.output, sliceTime(full.output, 3, 2), 1e-5, 'output');
    expectClose(r.weights!, tf.slice(full.weights!, [0, 0, 3, 0], [2, 2, 2, 5]), 1e-5, 'weights');
    expectClose(r.cache.k, full.cache.k, 1e-6, 'cache keys');
    expectClose(r.cache.v, full.cache.v, 1e-6, 'cache values');
    free([x, mask, full, head, tail, past, r]);
    mha.dispose();
  });
});
