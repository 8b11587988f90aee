// Shapes and errors: every public entry point returns the documented shapes, and rejects wrong
// ranks, sizes, dtypes and configs with a ShapeError / ConfigError whose message states what was
// expected and what it got.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '@attend/core';
import { selectBackend } from '@attend/core/node';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  crossEntropy,
  Dense,
  FeedForward,
  GPT,
  LayerNorm,
  MultiHeadAttention,
  PositionalEncoding,
  TransformerDecoder,
  TransformerDecoderLayer,
  TransformerEncoder,
  TransformerEncoderLayer,
} from '../src/index.js';
import { free, randn, randomIds } from './helpers.js';

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
});

/** Expects `fn` to throw an instance of `type` whose message matches `message`. */
function expectError(fn: () => unknown, type: typeof ShapeError | typeof ConfigError, message: RegExp): void {
  let caught: unknown = null;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected a ${type.name} matching ${message}`).toBeInstanceOf(type);
  expect((caught as Error).message).toMatch(message);
}

describe('shapes', () => {
  it('every module returns the documented shapes', () => {
    const x = randn([2, 5, 8], 1) as tf.Tensor3D;
    const mem = randn([2, 4, 8], 2) as tf.Tensor3D;
    const dense = new Dense({ inputSize: 8, units: 3 });
    const ln = new LayerNorm({ dim: 8 });
    const ff = new FeedForward({ dModel: 8 });
    const mha = new MultiHeadAttention({ dModel: 8, heads: 2 });
    const enc = new TransformerEncoder({ dModel: 8, heads: 2, layers: 2, dropout: 0 });
    const dec = new TransformerDecoder({ dModel: 8, heads: 2, layers: 3, dropout: 0 });
    const gpt = new GPT({ vocabSize: 11, contextLength: 6, layers: 2, dModel: 8, heads: 2, bias: true });
    const noBias = new GPT({ vocabSize: 11, contextLength: 6, layers: 2, dModel: 8, heads: 2 });
    const ids = randomIds(2, 5, 11, 3);
    const y = dense.apply(x);
    const y2 = dense.apply(tf.ones([4, 8]));
    expect(y.shape).toEqual([2, 5, 3]);
    expect(y2.shape).toEqual([4, 3]);
    const n = ln.apply(x);
    expect(n.shape).toEqual([2, 5, 8]);
    const f = ff.apply(x);
    expect(f.shape).toEqual([2, 5, 8]);
    expect(ff.config.dFF).toBe(32);
    const a = mha.apply(x, mem);
    expect(a.output.shape).toEqual([2, 5, 8]);
    expect(a.weights!.shape).toEqual([2, 2, 5, 4]);
    expect(a.cache.k.shape).toEqual([2, 2, 4, 4]);
    const e = enc.apply(x);
    expect(e.output.shape).toEqual([2, 5, 8]);
    expect(e.weights.map((w) => w.shape)).toEqual([[2, 2, 5, 5], [2, 2, 5, 5]]);
    const dr = dec.apply(x, { memory: mem });
    expect(dr.output.shape).toEqual([2, 5, 8]);
    expect(dr.selfWeights).toHaveLength(3);
    expect(dr.crossWeights.map((w) => w.shape)).toEqual([[2, 2, 5, 4], [2, 2, 5, 4], [2, 2, 5, 4]]);
    expect(dr.cache.self[0]!.k.shape).toEqual([2, 2, 5, 4]);
    const logits = gpt.logits(ids);
    expect(logits.shape).toEqual([2, 5, 11]);
    const loss = gpt.loss(ids, ids);
    expect(loss.shape).toEqual([]);
    const weights = gpt.attentionWeights(ids);
    expect(weights.map((w) => w.shape)).toEqual([[2, 2, 5, 5], [2, 2, 5, 5]]);
    // Parameter counts: MHA 4(d² + d); GPT adds embedding, positions, blocks, final norm and head.
    expect(mha.paramCount()).toBe(4 * (64 + 8));
    const block = 4 * (64 + 8) + (8 * 32 + 32 + 32 * 8 + 8) + 2 * 16;
    expect(gpt.paramCount()).toBe(11 * 8 + 6 * 8 + 2 * block + 16 + 8 * 11);
    // The GPT default (nanoGPT's bias=False): no projection biases, layer norms with γ only.
    const blockNoBias = 4 * 64 + (8 * 32 + 32 * 8) + 2 * 8;
    expect(noBias.paramCount()).toBe(11 * 8 + 6 * 8 + 2 * blockNoBias + 8 + 8 * 11);
    free([x, mem, ids, y, y2, n, f, a, e, dr, logits, loss, weights]);
    for (const m of [dense, ln, ff, mha, enc, dec, gpt, noBias]) m.dispose();
  });
});

describe('config errors', () => {
  it('dModel not divisible by heads', () => {
    expectError(() => new MultiHeadAttention({ dModel: 10, heads: 4 }), ConfigError, /dModel must be a multiple of heads, got dModel 10 and heads 4/);
    expectError(() => new TransformerEncoderLayer({ dModel: 10, heads: 4 }), ConfigError, /TransformerEncoderLayer: dModel must be a multiple of heads, got dModel 10 and heads 4/);
    expectError(() => new TransformerDecoder({ dModel: 6, heads: 4 }), ConfigError, /TransformerDecoder: dModel must be a multiple of heads, got dModel 6 and heads 4/);
    expectError(() => new GPT({ vocabSize: 5, dModel: 12, heads: 5 }), ConfigError, /GPT: dModel must be a multiple of heads, got dModel 12 and heads 5/);
  });

  it('unknown options, bad values and missing required options', () => {
    expectError(() => new GPT({ vocabSize: 5, dmodel: 8 } as never), ConfigError, /dmodel/);
    expectError(() => new GPT({} as never), ConfigError, /vocabSize/);
    expectError(() => new TransformerEncoder({ norm: 'middle' } as never), ConfigError, /norm.*"post", "pre".*got "middle"/);
    expectError(() => new FeedForward({ dModel: 4, activation: 'tanh' } as never), ConfigError, /activation.*got "tanh"/);
    expectError(() => new TransformerEncoderLayer({ dropout: 1.5 }), ConfigError, /dropout/);
    expectError(() => new PositionalEncoding({ dim: 4, kind: 'rotary' } as never), ConfigError, /kind.*got "rotary"/);
  });

  it('setWeights: unknown and missing names, wrong shapes', () => {
    const mha = new MultiHeadAttention({ dModel: 8, heads: 2 });
    const good = mha.variables();
    const record: Record<string, tf.Tensor> = { ...good };
    expectError(() => mha.setWeights({ ...record, 'x/W': tf.zeros([8, 8]) }), ConfigError, /unknown variable "x\/W"/);
    const { 'o/b': _, ...missing } = record;
    expectError(() => mha.setWeights(missing), ConfigError, /missing variable\(s\) o\/b/);
    expectError(() => mha.setWeights({ ...record, 'q/W': tf.zeros([8, 7]) }), ShapeError, /"q\/W" expected shape \[8, 8\], got \[8, 7\]/);
    const layer = new TransformerEncoderLayer({ dModel: 8, heads: 2 });
    expectError(() => layer.setWeights({ 'norm1/gamma': tf.zeros([7]) }, { partial: true }), ShapeError, /"norm1\/gamma" expected shape \[8\], got \[7\]/);
    mha.dispose();
    layer.dispose();
  });
});

describe('shape errors', () => {
  it('Dense, LayerNorm: wrong last axis', () => {
    const dense = new Dense({ inputSize: 8, units: 3 });
    const ln = new LayerNorm({ dim: 8 });
    const x = tf.zeros([2, 5, 7]);
    expectError(() => dense.apply(x), ShapeError, /expected input of shape \[2, 5, 8\] \(last axis 8\), got \[2, 5, 7\]/);
    expectError(() => ln.apply(x), ShapeError, /expected last axis 8, got shape \[2, 5, 7\]/);
    x.dispose();
    dense.dispose();
    ln.dispose();
  });

  it('MultiHeadAttention: query, keyValue, mask, past and memory', () => {
    const mha = new MultiHeadAttention({ dModel: 8, heads: 2 });
    const x = tf.zeros([2, 5, 8]) as tf.Tensor3D;
    expectError(() => mha.apply(tf.zeros([5, 8]) as never), ShapeError, /expected query of shape \[B, T, 8\], got \[5, 8\]/);
    expectError(() => mha.apply(x, tf.zeros([2, 4, 6]) as tf.Tensor3D), ShapeError, /expected keyValue of shape \[B, T, 8\], got \[2, 4, 6\]/);
    expectError(() => mha.apply(x, undefined, { mask: tf.ones([2, 4]) }), ShapeError, /expected mask of shape \[2, 5\].*got \[2, 4\]/);
    const past = { k: tf.zeros([2, 3, 3, 4]) as tf.Tensor4D, v: tf.zeros([2, 2, 3, 4]) as tf.Tensor4D };
    expectError(() => mha.apply(x, undefined, { past }), ShapeError, /expected past\.k of shape \[2, 2, T, 4\], got \[2, 3, 3, 4\]/);
    const memory = mha.projectKeyValue(tf.zeros([1, 3, 8]) as tf.Tensor3D);
    expectError(() => mha.apply(x, undefined, { memory }), ShapeError, /expected memory\.k of shape \[2, 2, T, 4\], got \[1, 2, 3, 4\]/);
    const ok = mha.projectKeyValue(tf.zeros([2, 3, 8]) as tf.Tensor3D);
    expectError(() => mha.apply(x, undefined, { past: ok, memory: ok }), ConfigError, /either past .* or memory/);
    free([x, past, memory, ok]);
    mha.dispose();
  });

  it('encoder and decoder: input, memory, cache', () => {
    const enc = new TransformerEncoder({ dModel: 8, heads: 2, dropout: 0 });
    const dec = new TransformerDecoder({ dModel: 8, heads: 2, layers: 2, dropout: 0 });
    const self = new TransformerDecoderLayer({ dModel: 8, heads: 2, crossAttention: false });
    expectError(() => enc.apply(tf.zeros([2, 5, 6]) as tf.Tensor3D), ShapeError, /TransformerEncoder: expected input of shape \[B, T, 8\], got \[2, 5, 6\]/);
    expectError(() => dec.apply(tf.zeros([2, 5]) as never), ShapeError, /TransformerDecoder: expected input of shape \[B, T, 8\], got \[2, 5\]/);
    expectError(() => dec.apply(tf.zeros([2, 5, 8]) as tf.Tensor3D), ConfigError, /pass memory/);
    expectError(() => dec.startCache(), ConfigError, /pass the encoder output/);
    expectError(() => self.projectMemory(tf.zeros([2, 3, 8]) as tf.Tensor3D), ConfigError, /no cross-attention/);
    const other = new TransformerDecoder({ dModel: 8, heads: 2, layers: 3, dropout: 0 });
    const mem = tf.zeros([2, 3, 8]) as tf.Tensor3D;
    const cache = other.startCache(mem);
    expectError(() => dec.apply(tf.zeros([2, 1, 8]) as tf.Tensor3D, { cache }), ShapeError, /expected a cache with 2 layers, got 3/);
    free([mem, cache]);
    for (const m of [enc, dec, self, other]) m.dispose();
  });

  it('GPT: ids rank and dtype, targets, context length', () => {
    const gpt = new GPT({ vocabSize: 11, contextLength: 8, layers: 1, dModel: 8, heads: 2 });
    const ids = randomIds(2, 5, 11, 1);
    expectError(() => gpt.logits(tf.tensor2d([[1, 2]])), ShapeError, /expected int32 inputs, got float32/);
    expectError(() => gpt.logits(tf.tensor1d([1, 2], 'int32') as never), ShapeError, /expected inputs of shape \[B, T\], got \[2\]/);
    expectError(() => gpt.logits(randomIds(1, 9, 11, 2)), ShapeError, /9 tokens exceed the context length 8/);
    expectError(() => gpt.loss(ids, randomIds(2, 4, 11, 3)), ShapeError, /expected targets of shape \[2, 5\] like inputs, got \[2, 4\]/);
    expectError(() => gpt.loss(ids, tf.zeros([2, 5]) as tf.Tensor2D), ShapeError, /expected int32 targets, got float32/);
    expectError(() => gpt.step(ids as never, gpt.startCache(2)), ShapeError, /expected ids of shape \[B\], got \[2, 5\]/);
    const r = gpt.forwardCached(ids);
    expectError(() => gpt.forwardCached(randomIds(2, 4, 11, 4), r.cache), ShapeError, /5 cached \+ 4 tokens exceed the context length 8/);
    expectError(() => gpt.sample({ prime: [], length: 3 }), ConfigError, /expected at least one token id/);
    expectError(() => gpt.sample({ prime: [1, 11], length: 3 }), ConfigError, /prime\[1\]: expected a token id in \[0, 11\), got 11/);
    expectError(() => gpt.sample({ prime: [1], length: 3, topP: 0 }), ConfigError, /topP/);
    expectError(() => gpt.sample({ prime: [1], length: 3, nucleus: 0.9 } as never), ConfigError, /unknown option "nucleus"/);
    const pe = new PositionalEncoding({ dim: 8, maxLength: 4 });
    expectError(() => pe.positions(3, 2), ConfigError, /position 4 is past maxLength 4/);
    free([ids, r]);
    pe.dispose();
    gpt.dispose();
  });

  it('crossEntropy: targets shape and dtype, mask size', () => {
    const logits = tf.zeros([4, 3]) as tf.Tensor2D;
    expectError(() => crossEntropy(logits, tf.tensor1d([0, 1, 2], 'int32')), ShapeError, /expected targets of shape \[4\], got \[3\]/);
    expectError(() => crossEntropy(logits, tf.tensor1d([0, 1, 2, 0])), ShapeError, /expected int32 targets, got float32/);
    expectError(() => crossEntropy(logits, tf.tensor1d([0, 1, 2, 0], 'int32'), { mask: tf.ones([3]) }), ShapeError, /expected a mask with 4 entries, got shape \[3\]/);
    expectError(() => crossEntropy(logits, tf.tensor1d([0, 1, 2, 0], 'int32'), { labelSmoothing: 1 }), ConfigError, /labelSmoothing/);
    logits.dispose();
  });
});
