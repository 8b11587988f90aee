// The fused attention kernel inside the Transformer: when the weights are not asked for (training,
// generation), MultiHeadAttention runs @attend/attention's fused kernel where the backend has one
// (cpu here). The GPT's and the encoder–decoder Transformer's loss and every gradient must equal
// the composite path's, and asking for the weights must still return them.
import * as tf from '@tensorflow/tfjs-core';
import { setFusedAttentionMode } from '@attend/attention';
import { selectBackend } from '@attend/core/node';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GPT, MultiHeadAttention, Transformer } from '../src/index.js';
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

  it('Transformer loss (padded sources, all pre/post) and gradients are the same through the fused kernel and the composite path', async () => {
    // Source rows of lengths 5, 3 and 1 ([PAD] = 0 after them): the encoder and cross-attention run the kernel with a padding mask.
    const src = tf.tensor2d([[3, 4, 5, 6, 2], [6, 5, 3, 0, 0], [4, 0, 0, 0, 0]], [3, 5], 'int32');
    const tgtIn = tf.tensor2d([[1, 3, 4, 5], [1, 6, 3, 0], [1, 4, 0, 0]], [3, 4], 'int32');
    const tgtOut = tf.tensor2d([[3, 4, 5, 2], [6, 3, 2, 0], [4, 2, 0, 0]], [3, 4], 'int32');
    for (const norm of ['post', 'pre'] as const) {
      const m = new Transformer({ srcVocab: 7, tgtVocab: 7, dModel: 8, heads: 2, encoderLayers: 2, decoderLayers: 2, norm, seed: 4 });
      const run = () => tf.variableGrads(() => m.loss(src, tgtIn, tgtOut, {}, { labelSmoothing: 0.1 }), Object.values(m.variables()));
      setFusedAttentionMode('fused');
      const fused = run();
      setFusedAttentionMode('composite');
      const composite = run();
      expectClose(fused.value, composite.value.dataSync()[0]!, 1e-5, `${norm} loss`);
      for (const [name, g] of Object.entries(composite.grads)) expectClose(fused.grads[name]!, g, 1e-5, `${norm} ${name}`);
      tf.dispose([fused.value, composite.value, ...Object.values(fused.grads), ...Object.values(composite.grads)]);
      // Every attention of the teacher-forced pass ran the kernel: 2 encoder self, 2 decoder self, 2 cross.
      setFusedAttentionMode('fused');
      const kernels = (await tf.profile(() => m.loss(src, tgtIn, tgtOut).dispose())).kernels.map((k) => k.name);
      expect(kernels.filter((k) => k === 'AttendFusedAttention')).toHaveLength(6);
      // The attention maps still come back.
      const w = m.attentionWeights(src, tgtIn);
      expect(w.cross.map((t) => t.shape)).toEqual([[3, 2, 4, 5], [3, 2, 4, 5]]);
      tf.dispose([...w.encoder, ...w.decoder, ...w.cross]);
      m.dispose();
    }
    tf.dispose([src, tgtIn, tgtOut]);
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
