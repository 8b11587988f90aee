// The Transformer on the tensorflow backend with Attend's native ops (@attend/core's
// native/attend_ops.cc): MultiHeadAttention's packed self-attention (one matMul with [W_q | W_k | W_v],
// AttendFusedSelfAttention on the result, no head split or merge; the cache's keys/values from
// AttendSplitHeads), LayerNorm and GELU as native kernels (with a bias, gelu(x·W_1 + b_1) as one:
// AttendBiasGelu). Against the same backend without them
// (setTensorflowNativeOps(false): tfjs-node's own ops): the GPT's loss and every gradient, with and
// without biases; the attention's output, cache and gradients with a padding mask; cached generation
// still matches the full pass; the native kernels really run; no leaks. Skipped where tfjs-node or
// the native ops are not built; CI builds both (ATTEND_EXPECT_TENSORFLOW=1).
import * as tf from '@tensorflow/tfjs-core';
import { setTensorflowNativeOps } from '@attend/core';
import { activateTensorflowNative } from '@attend/test-utils';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BIAS_GELU, biasGelu, biasGeluAvailable, FeedForward, gelu, GPT, MultiHeadAttention } from '../src/index.js';
import { disposeAll } from '../src/tidy.js';
import { expectClose, randn, randomIds } from './helpers.js';

let skip = '';
beforeAll(async () => {
  skip = await activateTensorflowNative();
  if (skip) console.warn(`skipped: ${skip}`);
});
afterEach(() => void setTensorflowNativeOps(true));

/** f() with the native ops on, then off (tfjs-node's own ops), and the kernels the first ran. */
async function both<T>(f: () => T): Promise<{ native: T; plain: T; kernels: string[] }> {
  setTensorflowNativeOps(true);
  const native = f();
  const kernels = (await tf.profile(() => disposeAll(f()))).kernels.map((k) => k.name);
  setTensorflowNativeOps(false);
  const plain = f();
  setTensorflowNativeOps(true);
  return { native, plain, kernels };
}

describe('the Transformer on tensorflow with the native ops', () => {
  for (const bias of [true, false]) {
    it(`GPT loss and every gradient equal tfjs-node's own ops (${bias ? 'with' : 'without'} biases)`, async (ctx) => {
      if (skip) return ctx.skip(skip);
      const gpt = new GPT({ vocabSize: 13, contextLength: 12, layers: 2, dModel: 16, heads: 4, dFF: 24, bias, seed: 3 });
      const x = randomIds(3, 12, 13, 1);
      const y = randomIds(3, 12, 13, 2);
      const run = () => tf.variableGrads(() => gpt.loss(x, y, { training: true }), Object.values(gpt.variables()));
      const before = tf.memory().numTensors;
      const { native, plain, kernels } = await both(run);
      const geluKernels = bias ? ['AttendBiasGelu', 'AttendBiasGeluGrad'] : ['AttendGelu', 'AttendGeluGrad']; // with b_1, the bias inside GELU's kernel
      for (const k of ['AttendFusedSelfAttention', 'AttendFusedSelfAttentionGrad', 'AttendLayerNorm', 'AttendLayerNormGrad', ...geluKernels]) expect(kernels, k).toContain(k);
      expectClose(native.value, plain.value.dataSync()[0]!, 1e-5, 'loss');
      for (const [name, g] of Object.entries(plain.grads)) expectClose(native.grads[name]!, g, 1e-4, name);
      tf.dispose([native.value, plain.value, native.grads, plain.grads]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, y]);
      gpt.dispose();
    });
  }

  it('MultiHeadAttention with a padding mask: output, cache and gradients (input and weights) equal the split-head path', async (ctx) => {
    if (skip) return ctx.skip(skip);
    const mha = new MultiHeadAttention({ dModel: 12, heads: 3, seed: 2 });
    const q = randn([2, 5, 12], 4) as tf.Tensor3D;
    const mask = tf.tensor2d([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]);
    const w = randn([2, 5, 12], 5);
    const wk = randn([2, 3, 5, 4], 6);
    const f = () => {
      const r = mha.apply(q, undefined, { causal: true, mask, weights: false });
      // The loss reads the cache too: its gradient must flow back like the split-head path's.
      return tf.add(tf.sum(tf.mul(r.output, w)), tf.sum(tf.mul(tf.add(r.cache.k, r.cache.v), wk))) as tf.Scalar;
    };
    const grads = () => ({ ...tf.variableGrads(f, Object.values(mha.variables())), dq: tf.grad((x: tf.Tensor) => {
      const r = mha.apply(x as tf.Tensor3D, undefined, { causal: true, mask, weights: false });
      return tf.sum(tf.mul(r.output, w));
    })(q) });
    const { native, plain, kernels } = await both(grads);
    expect(kernels).toContain('AttendFusedSelfAttention');
    expect(kernels).toContain('AttendSplitHeads');
    expectClose(native.value, plain.value.dataSync()[0]!, 1e-5, 'loss');
    for (const [name, g] of Object.entries(plain.grads)) expectClose(native.grads[name]!, g, 1e-5, name);
    expectClose(native.dq, plain.dq, 1e-5, '∂query');
    const outs = await both(() => mha.apply(q, undefined, { causal: true, mask, weights: false }));
    expectClose(outs.native.output, outs.plain.output, 1e-5, 'output');
    expectClose(outs.native.cache.k, outs.plain.cache.k, 0, 'cache k');
    expectClose(outs.native.cache.v, outs.plain.cache.v, 0, 'cache v');
    // returnCache: false (a training pass): the same output, an empty cache.
    const bare = mha.apply(q, undefined, { causal: true, mask, weights: false, returnCache: false });
    expectClose(bare.output, outs.native.output, 0, 'output without the cache');
    expect(bare.cache.k.shape).toEqual([2, 3, 0, 4]);
    disposeAll(bare);
    tf.dispose([native.value, plain.value, native.grads, plain.grads, native.dq, plain.dq, q, mask, w, wk]);
    disposeAll([outs.native, outs.plain]);
    mha.dispose();
  });

  it('biasGelu(x, b) equals gelu(x + b), values and both gradients; a FeedForward with biases runs it', async (ctx) => {
    if (skip) return ctx.skip(skip);
    const x = tf.tensor2d(Float32Array.from({ length: 37 * 130 }, (_, i) => 8 * Math.sin(i * 0.37)), [37, 130]);
    const b = tf.tensor1d(Float32Array.from({ length: 130 }, (_, i) => Math.cos(i)));
    const w = randn([37, 130], 9);
    const loss = (f: (a: tf.Tensor2D, c: tf.Tensor1D) => tf.Tensor) => (a: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(f(a as tf.Tensor2D, c as tf.Tensor1D), w));
    const mine = (a: tf.Tensor2D, c: tf.Tensor1D) => biasGelu(a, c);
    const reference = (a: tf.Tensor2D, c: tf.Tensor1D) => gelu(tf.add(a, c));
    expect(biasGeluAvailable(x)).toBe(true);
    expectClose(mine(x, b), reference(x, b), 5e-6, 'y');
    const [gx, gb] = tf.grads(loss(mine))([x, b]);
    const [rx, rb] = tf.grads(loss(reference))([x, b]);
    expectClose(gx!, rx!, 5e-6, '∂x');
    expectClose(gb!, rb!, 5e-5, '∂b'); // sums of 37 rows
    const ff = new FeedForward({ dModel: 16, dFF: 24, activation: 'gelu', seed: 1 });
    const kernels = (await tf.profile(() => ff.apply(randn([2, 3, 16], 2) as tf.Tensor3D).dispose())).kernels.map((k) => k.name);
    expect(kernels).toContain(BIAS_GELU);
    tf.dispose([x, b, w, gx!, gb!, rx!, rb!]);
    ff.dispose();
  });

  it('cached generation still gives the logits of the full pass', (ctx) => {
    if (skip) return ctx.skip(skip);
    const gpt = new GPT({ vocabSize: 9, contextLength: 10, layers: 2, dModel: 8, heads: 2, seed: 6 });
    const ids = randomIds(2, 6, 9, 3);
    tf.tidy(() => {
      const full = gpt.logits(ids); // [2, 6, 9]
      const first = gpt.forwardCached(tf.slice(ids, [0, 0], [2, 4]) as tf.Tensor2D); // the packed path fills the cache
      const next = gpt.forwardCached(tf.slice(ids, [0, 4], [2, 2]) as tf.Tensor2D, first.cache);
      expectClose(tf.concat([first.logits, next.logits], 1), full, 1e-5, 'logits');
      disposeAll([first.cache, next.cache]);
    });
    ids.dispose();
    gpt.dispose();
  });
});
