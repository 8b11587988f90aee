// Masks by perturbation (after packages/attention/test/masks.test.ts): what a mask hides must not
// matter.
//   GPT: changing the tokens after position p leaves the logits at positions ≤ p unchanged, and
//     every attention weight above the diagonal is exactly 0.
//   TransformerEncoder: changing the inputs at padded positions leaves the outputs at real positions
//     unchanged; the weights at padded keys are exactly 0 (post- and pre-LN).
//   TransformerDecoder: changing the memory at padded source positions (memoryMask) changes no
//     output; cross-attention weights at padded source keys and self-attention weights at future
//     keys are exactly 0, also with a cache (the causal mask shifted by the cached length).
//   MultiHeadAttention: weights at masked keys are exactly 0 and the rest of each row sums to 1.
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@attend/core/node';
import { beforeAll, describe, expect, it } from 'vitest';
import { GPT, MultiHeadAttention, TransformerDecoder, TransformerEncoder, type GPTConfig, type NormPlacement } from '../src/index.js';
import { expectSame, free, lengthsMask, maxDiff, randn, sliceTime } from './helpers.js';

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
});

/** Replaces `x` `[B, T, d]` where `keep` `[B, T]` is 0 by large random noise. */
function perturbWhere(x: tf.Tensor3D, keep: tf.Tensor2D, seed: number): tf.Tensor3D {
  return tf.tidy(() => {
    const m = tf.expandDims(keep, 2); // [B, T, 1]
    return tf.add(tf.mul(x, m), tf.mul(randn(x.shape, seed, 10), tf.sub(1, m))) as tf.Tensor3D;
  });
}

/** Checks weights `[B, h, Tq, Tk]`: exactly 0 where `allowed(b, i, j)` is false, rows summing to 1 otherwise. */
function expectMaskedWeights(weights: tf.Tensor4D, allowed: (b: number, i: number, j: number) => boolean, label: string): void {
  const w = weights.arraySync();
  w.forEach((heads, b) =>
    heads.forEach((rows, h) =>
      rows.forEach((row, i) => {
        const masked = row.filter((_, j) => !allowed(b, i, j));
        expect(
          masked.every((x) => x === 0),
          `${label}: b ${b} head ${h} row ${i} masked weights ${masked.join(', ')}`,
        ).toBe(true);
        expect(row.reduce((s, x) => s + x, 0), `${label}: b ${b} head ${h} row ${i} sum`).toBeCloseTo(1, 5);
      }),
    ),
  );
}

describe('masks: GPT is causal', () => {
  it.each<[string, Partial<GPTConfig>]>([
    ['pre-LN, learned', { norm: 'pre', positional: 'learned' }],
    ['post-LN, sinusoidal', { norm: 'post', positional: 'sinusoidal' }],
  ])('%s: changing the future tokens does not change earlier logits; weights above the diagonal are exactly 0', (_n, extra) => {
    const gpt = new GPT({ vocabSize: 10, contextLength: 8, layers: 2, dModel: 8, heads: 2, dropout: 0, seed: 2, ...extra });
    const a = tf.tensor2d([[1, 2, 3, 4, 5, 6, 7], [9, 8, 7, 6, 5, 4, 3]], undefined, 'int32');
    const b = tf.tensor2d([[1, 2, 3, 0, 0, 0, 0], [9, 8, 7, 1, 2, 9, 9]], undefined, 'int32');
    const la = gpt.logits(a);
    const lb = gpt.logits(b);
    expectSame(sliceTime(lb, 0, 3), sliceTime(la, 0, 3), 'logits at positions 0..2');
    // The perturbation is real: the later positions do change.
    expect(maxDiff(sliceTime(lb, 3, 4), sliceTime(la, 3, 4))).toBeGreaterThan(1e-3);
    const weights = gpt.attentionWeights(a);
    expect(weights).toHaveLength(2);
    weights.forEach((w, l) => expectMaskedWeights(w, (_b, i, j) => j <= i, `layer ${l}`));
    free([a, b, la, lb, weights]);
    gpt.dispose();
  });
});

describe.each(['post', 'pre'] as NormPlacement[])('masks: TransformerEncoder %s-LN padding', (norm) => {
  it('changing padded inputs leaves real positions unchanged; weights at padded keys are exactly 0', () => {
    const enc = new TransformerEncoder({ dModel: 8, heads: 2, layers: 2, dropout: 0, norm, seed: 1 });
    const lengths = [5, 3];
    const mask = lengthsMask(lengths, 5);
    const x = randn([2, 5, 8], 1) as tf.Tensor3D;
    const x2 = perturbWhere(x, mask, 2);
    const a = enc.apply(x, { mask });
    const b = enc.apply(x2, { mask });
    /** The values at real positions only, `[Σ lengths, d]`. */
    const real = (y: tf.Tensor3D) => tf.concat(lengths.map((n, bi) => tf.reshape(tf.slice(y, [bi, 0, 0], [1, n, 8]), [n, 8])));
    expectSame(real(b.output), real(a.output), 'outputs at real positions');
    a.weights.forEach((w, l) => expectMaskedWeights(w, (bi, _i, j) => j < lengths[bi]!, `layer ${l}`));
    // Without the mask the padding does leak in.
    const c = enc.apply(x2);
    expect(maxDiff(real(c.output), real(a.output))).toBeGreaterThan(1e-3);
    free([mask, x, x2, a, b, c]);
    enc.dispose();
  });
});

describe.each(['post', 'pre'] as NormPlacement[])('masks: TransformerDecoder %s-LN', (norm) => {
  const B = 2;
  const T = 5;
  const S = 4;
  const srcLengths = [4, 2];

  it('changing the memory at padded source positions changes no output; masked cross/self weights are exactly 0', () => {
    const dec = new TransformerDecoder({ dModel: 8, heads: 2, layers: 2, dropout: 0, norm, crossAttention: true, seed: 6 });
    const memoryMask = lengthsMask(srcLengths, S);
    const x = randn([B, T, 8], 3) as tf.Tensor3D;
    const memory = randn([B, S, 8], 4) as tf.Tensor3D;
    const memory2 = perturbWhere(memory, memoryMask, 5);
    const a = dec.apply(x, { memory, memoryMask });
    const b = dec.apply(x, { memory: memory2, memoryMask });
    expectSame(b.output, a.output, 'outputs');
    a.crossWeights.forEach((w, l) => expectMaskedWeights(w, (bi, _i, j) => j < srcLengths[bi]!, `cross layer ${l}`));
    a.selfWeights.forEach((w, l) => expectMaskedWeights(w, (_b, i, j) => j <= i, `self layer ${l}`));
    const c = dec.apply(x, { memory: memory2 });
    expect(maxDiff(c.output, a.output)).toBeGreaterThan(1e-3);
    free([memoryMask, x, memory, memory2, a, b, c]);
    dec.dispose();
  });

  it('with a cache, a chunk of 3 after 2 cached positions sees keys j ≤ 2 + i only, and the memory mask from startCache', () => {
    const dec = new TransformerDecoder({ dModel: 8, heads: 2, layers: 1, dropout: 0, norm, crossAttention: true, seed: 7 });
    const memoryMask = lengthsMask(srcLengths, S);
    const x = randn([B, T, 8], 8) as tf.Tensor3D;
    const memory = randn([B, S, 8], 9) as tf.Tensor3D;
    const cache0 = dec.startCache(memory, memoryMask);
    const head = sliceTime(x, 0, 2);
    const r1 = dec.apply(head, { cache: cache0 });
    const tail = sliceTime(x, 2, 3);
    const r2 = dec.apply(tail, { cache: r1.cache });
    expect(r2.selfWeights[0]!.shape).toEqual([B, 2, 3, 5]);
    expectMaskedWeights(r2.selfWeights[0]!, (_b, i, j) => j <= 2 + i, 'self weights of the chunk');
    expectMaskedWeights(r2.crossWeights[0]!, (bi, _i, j) => j < srcLengths[bi]!, 'cross weights of the chunk');
    free([memoryMask, x, memory, cache0, head, r1, tail, r2]);
    dec.dispose();
  });
});

describe('masks: MultiHeadAttention', () => {
  it('per-query [B, Tq, Tk] mask, padding + causal, and cross-attention padding: exactly 0 at masked keys', () => {
    const mha = new MultiHeadAttention({ dModel: 8, heads: 2, seed: 5 });
    const x = randn([2, 4, 8], 10) as tf.Tensor3D;
    const kv = randn([2, 6, 8], 11) as tf.Tensor3D;
    const full = tf.tensor3d([
      [[1, 0, 1, 0], [0, 1, 0, 1], [1, 1, 1, 1], [0, 0, 0, 1]],
      [[1, 1, 0, 0], [1, 0, 0, 0], [0, 1, 1, 0], [1, 0, 0, 1]],
    ]);
    const fullArr = full.arraySync();
    const r1 = mha.apply(x, undefined, { mask: full });
    expectMaskedWeights(r1.weights!, (b, i, j) => fullArr[b]![i]![j] === 1, 'per-query mask');
    const pad = lengthsMask([4, 2], 4);
    const r2 = mha.apply(x, undefined, { mask: pad, causal: true });
    expectMaskedWeights(r2.weights!, (b, i, j) => j <= i && j < [4, 2][b]!, 'padding + causal');
    const srcPad = lengthsMask([6, 3], 6);
    const r3 = mha.apply(x, kv, { mask: srcPad });
    expect(r3.weights!.shape).toEqual([2, 2, 4, 6]);
    expectMaskedWeights(r3.weights!, (b, _i, j) => j < [6, 3][b]!, 'cross padding');
    const kv2 = perturbWhere(kv, srcPad, 12);
    const r4 = mha.apply(x, kv2, { mask: srcPad });
    expectSame(r4.output, r3.output, 'cross output with padded keys/values perturbed');
    free([x, kv, full, r1, pad, r2, srcPad, r3, kv2, r4]);
    mha.dispose();
  });
});
