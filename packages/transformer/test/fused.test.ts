// The fused attention kernel inside the Transformer: when the weights are not asked for (training,
// generation), MultiHeadAttention runs @attend/attention's fused kernel where the backend has one
// (cpu here). The GPT's loss and every gradient must equal the composite path's, and asking for
// the weights must still return them.
import * as tf from '@tensorflow/tfjs-core';
import { setFusedAttentionMode } from '@attend/attention';
import { selectBackend } from '@attend/core/node';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GPT, MultiHeadAttention } from '../src/index.js';
import { expectClose, randn, randomIds } from './helpers.js';

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
});

afterEach(() => {
  setFusedAttentionMode('auto');
});

function lossAndGrads(gpt: GPT, x: tf.Tensor2D, y: tf.Tensor2D) {
  const { value, grads } = tf.variableGrads(() => gpt.loss(x, y), Object.values(gpt.variables()));
  return { value, grads };
}

describe('fused attention in the Transformer', () => {
  it('GPT loss and gradients are the same through the fused kernel and the composite path', async () => {
    const gpt = new GPT({ vocabSize: 11, contextLength: 8, layers: 2, dModel: 8, heads: 2, seed: 5 });
    const x = randomIds(3, 8, 11, 1);
    const y = randomIds(3, 8, 11, 2);
    setFusedAttentionMode('fused');
    const before = tf.engine().state.numTensors;
    const fused = lossAndGrads(gpt, x, y);
    setFusedAttentionMode('composite');
    const composite = lossAndGrads(gpt, x, y);
    expectClose(fused.value, composite.value.dataSync()[0]!, 1e-5, 'loss');
    for (const [name, g] of Object.entries(composite.grads)) expectClose(fused.grads[name]!, g, 1e-5, name);
    tf.dispose([fused.value, composite.value, ...Object.values(fused.grads), ...Object.values(composite.grads)]);
    expect(tf.engine().state.numTensors).toBe(before);
    // The kernel really ran in fused mode, and only there.
    const kernels = async () => (await tf.profile(() => gpt.loss(x, y).dispose())).kernels.map((k) => k.name);
    setFusedAttentionMode('fused');
    expect(await kernels()).toContain('AttendFusedAttention');
    setFusedAttentionMode('composite');
    expect(await kernels()).not.toContain('AttendFusedAttention');
    tf.dispose([x, y]);
    gpt.dispose();
  });

  it('weights: false gives the same output and no weights; the default still returns them', () => {
    const mha = new MultiHeadAttention({ dModel: 8, heads: 2, seed: 1 });
    const q = randn([2, 5, 8], 3) as tf.Tensor3D;
    setFusedAttentionMode('fused');
    const fast = mha.apply(q, undefined, { causal: true, weights: false });
    const full = mha.apply(q, undefined, { causal: true });
    expect(fast.weights).toBeNull();
    expect(full.weights!.shape).toEqual([2, 2, 5, 5]);
    expectClose(fast.output, full.output, 1e-5, 'output');
    tf.dispose([q, fast.output, fast.cache.k, fast.cache.v, full.output, full.weights!, full.cache.k, full.cache.v]);
    mha.dispose();
  });
});
