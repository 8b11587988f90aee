// Golden values: with the weights of fixtures/golden.json loaded by setWeights, every module must
// reproduce an independent PyTorch reference within 1e-5 (see fixtures/make_fixtures.py):
//   MultiHeadAttention         torch.nn.MultiheadAttention (outputs, per-head weights, gradients),
//                              self-attention with padding/causal masks, cross-attention to a memory;
//   TransformerEncoderLayer    torch.nn.TransformerEncoderLayer, post-LN and pre-LN;
//   TransformerEncoder         torch.nn.TransformerEncoder (2 pre-LN layers + final norm);
//   TransformerDecoderLayer    torch.nn.TransformerDecoderLayer with cross-attention, post- and pre-LN
//                              (and TransformerDecoder with one layer, which adds nothing for post-LN);
//   GPT                        a hand-written torch pre-LN GPT: logits, loss, gradient of every weight;
//                              tied head + sinusoidal positions; no biases (nanoGPT bias=False);
//   sinusoidalTable            the PyTorch tutorial's PositionalEncoding;
//   crossEntropy               F.cross_entropy(label_smoothing, ignore_index) over unmasked positions.
// On cpu, and on tensorflow (tfjs-node) where it is built, whose LayerNorm and GELU take their own
// paths (TensorFlow's fused batch norm, SigmoidGrad).
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  crossEntropy,
  GPT,
  MultiHeadAttention,
  PositionalEncoding,
  sinusoidalTable,
  TransformerDecoder,
  TransformerDecoderLayer,
  TransformerEncoder,
  TransformerEncoderLayer,
  type NormPlacement,
} from '../src/index.js';
import { activateBackend } from '@attend/test-utils';
import { expectClose, free, loadGolden, record, t, type Nested, type Params } from './helpers.js';

const golden = loadGolden();
const { d: D, heads: H, dFF } = golden.meta;

// cpu always; tensorflow (tfjs-node: TensorFlow's fused batch norm as LayerNorm, SigmoidGrad in GELU,
// oneDNN matmuls) where it is built — CI builds it and sets ATTEND_EXPECT_TENSORFLOW=1.
const tensorflowSkip = await activateBackend('tensorflow');
if (tensorflowSkip) console.warn(`skipped on tensorflow: ${tensorflowSkip}`);
const BACKENDS = tensorflowSkip ? (['cpu'] as const) : (['cpu', 'tensorflow'] as const);

/** Loads `params` into `target` with setWeights (every name required) and frees the record. */
function load(target: { setWeights(r: Record<string, tf.Tensor>): void }, params: Params): void {
  const r = record(params);
  target.setWeights(r);
  tf.dispose(r);
}

describe.each(BACKENDS)('on %s', (backend) => {
  beforeAll(async () => {
    await activateBackend(backend);
  });

  describe('golden: MultiHeadAttention vs torch.nn.MultiheadAttention', () => {
    const c = golden.cases.mha;

    it.each(Object.keys(c.variants))('%s: output and per-head weights', (name) => {
      const vr = c.variants[name]!;
      const mha = new MultiHeadAttention({ dModel: D, heads: H });
      load(mha, c.params);
      const query = t(c.query) as tf.Tensor3D;
      const kv = vr.cross ? (t(c.keyValue) as tf.Tensor3D) : undefined;
      const mask = vr.mask === undefined ? undefined : t(vr.mask);
      const r = mha.apply(query, kv, { mask, causal: vr.causal });
      expectClose(r.output, vr.output, 1e-5, 'output');
      expectClose(r.weights!, vr.weights, 1e-5, 'weights');
      if (kv) {
        // The same through precomputed memory keys/values (how a decoder uses it).
        const memory = mha.projectKeyValue(kv);
        const m = mha.apply(query, undefined, { memory, mask });
        expectClose(m.output, vr.output, 1e-5, 'output via memory');
        expectClose(m.weights!, vr.weights, 1e-5, 'weights via memory');
        tf.dispose([memory, m.output, m.weights!, m.cache.k, m.cache.v]);
      }
      tf.dispose([query, kv ?? [], mask ?? [], r.output, r.weights!, r.cache.k, r.cache.v]);
      mha.dispose();
    });

    it.each(['self_padding_causal', 'cross_padding'])('%s: loss and gradients of the query, keys/values and every weight', (name) => {
      const vr = c.variants[name]!;
      const mha = new MultiHeadAttention({ dModel: D, heads: H });
      load(mha, c.params);
      const query = tf.variable(t(c.query));
      const kv = vr.cross ? tf.variable(t(c.keyValue)) : null;
      const mask = t(vr.mask!);
      const R = t(c.R);
      const vars = mha.variables();
      const { value, grads } = tf.variableGrads(
        () => tf.sum(tf.mul(mha.apply(query as tf.Tensor3D, (kv ?? undefined) as tf.Tensor3D | undefined, { mask, causal: vr.causal }).output, R)) as tf.Scalar,
        [query, ...(kv ? [kv] : []), ...Object.values(vars)],
      );
      expect(value.dataSync()[0]).toBeCloseTo(vr.loss!, 4);
      const byName: Record<string, tf.Tensor> = { query: grads[query.name]! };
      if (kv) byName.keyValue = grads[kv.name]!;
      for (const [n, v] of Object.entries(vars)) byName[n] = grads[v.name]!;
      expect(Object.keys(byName).sort()).toEqual(Object.keys(vr.grads!).sort());
      for (const [n, g] of Object.entries(vr.grads!)) expectClose(byName[n]!, g, 1e-5, `dL/d ${n}`);
      tf.dispose([query, kv ?? [], mask, R, value, grads]);
      mha.dispose();
    });
  });

  describe.each<[NormPlacement, 'encoderPost' | 'encoderPre']>([
    ['post', 'encoderPost'],
    ['pre', 'encoderPre'],
  ])('golden: TransformerEncoderLayer %s-LN vs torch.nn.TransformerEncoderLayer', (norm, key) => {
    const c = golden.cases[key];

    it('output with and without a padding mask', () => {
      const layer = new TransformerEncoderLayer({ dModel: D, heads: H, dFF, dropout: 0, activation: 'relu', norm });
      load(layer, c.params);
      const x = t(c.input) as tf.Tensor3D;
      const mask = t(c.mask!) as tf.Tensor2D;
      const plain = layer.apply(x);
      expectClose(plain.output, c.output!, 1e-5, 'output');
      const masked = layer.apply(x, { mask });
      expectClose(masked.output, c.outputMasked, 1e-5, 'output (masked)');
      tf.dispose([x, mask, plain.output, plain.weights!, masked.output, masked.weights!]);
      layer.dispose();
    });
  });

  describe('golden: TransformerEncoder vs torch.nn.TransformerEncoder', () => {
    it('2 pre-LN layers and the final norm, with a padding mask', () => {
      const c = golden.cases.encoderStackPre;
      const enc = new TransformerEncoder({ dModel: D, heads: H, dFF, dropout: 0, activation: 'relu', norm: 'pre', layers: 2 });
      load(enc, c.params);
      const x = t(c.input) as tf.Tensor3D;
      const mask = t(c.mask!) as tf.Tensor2D;
      const r = enc.apply(x, { mask });
      expectClose(r.output, c.outputMasked, 1e-5, 'output');
      expect(r.weights).toHaveLength(2);
      tf.dispose([x, mask, r]);
      enc.dispose();
    });
  });

  describe.each<[NormPlacement, 'decoderPost' | 'decoderPre']>([
    ['post', 'decoderPost'],
    ['pre', 'decoderPre'],
  ])('golden: TransformerDecoderLayer %s-LN vs torch.nn.TransformerDecoderLayer', (norm, key) => {
    const c = golden.cases[key];
    const config = { dModel: D, heads: H, dFF, dropout: 0, activation: 'relu', norm } as const;

    it('causal self-attention, cross-attention and feed-forward; with and without padding masks', () => {
      const layer = new TransformerDecoderLayer(config);
      load(layer, c.params);
      const y = t(c.input) as tf.Tensor3D;
      const mem = t(c.memory!) as tf.Tensor3D;
      const selfMask = t(c.selfMask!) as tf.Tensor2D;
      const memoryMask = t(c.memoryMask!) as tf.Tensor2D;
      const memory = layer.projectMemory(mem);
      const plain = layer.apply(y, { memory });
      expectClose(plain.output, c.output!, 1e-5, 'output');
      const masked = layer.apply(y, { memory, memoryMask, selfMask });
      expectClose(masked.output, c.outputMasked, 1e-5, 'output (masked)');
      free([y, mem, selfMask, memoryMask, memory, plain, masked]);
      layer.dispose();
    });

    it('a one-layer TransformerDecoder with the same weights (memory as a tensor)', () => {
      const dec = new TransformerDecoder({ ...config, layers: 1 });
      if (norm === 'pre') {
        // A pre-LN stack ends with a norm that torch's single layer lacks: γ = 1, β = 0, and the
        // reference is torch's layer output through F.layer_norm without affine.
        const ones = tf.ones([D]);
        const zeros = tf.zeros([D]);
        const r = record(Object.fromEntries(Object.entries(c.params).map(([k, v]) => [`layer0/${k}`, v])));
        dec.setWeights({ ...r, 'norm/gamma': ones, 'norm/beta': zeros });
        tf.dispose([r, ones, zeros]);
      } else {
        load(dec, Object.fromEntries(Object.entries(c.params).map(([k, v]) => [`layer0/${k}`, v])) as Params);
      }
      const y = t(c.input) as tf.Tensor3D;
      const memory = t(c.memory!) as tf.Tensor3D;
      const selfMask = t(c.selfMask!) as tf.Tensor2D;
      const memoryMask = t(c.memoryMask!) as tf.Tensor2D;
      const r = dec.apply(y, { memory, memoryMask, selfMask });
      expectClose(r.output, norm === 'pre' ? c.outputMaskedNormed! : c.outputMasked, 1e-5, 'output');
      expect(r.cache.length).toBe(y.shape[1]);
      free([y, memory, selfMask, memoryMask, r]);
      dec.dispose();
    });
  });

  describe('golden: GPT vs a hand-written torch pre-LN GPT', () => {
    const c = golden.cases.gpt;
    const base = { ...c.config, dropout: 0, activation: 'gelu', norm: 'pre', bias: true } as const;

    it('logits, loss and the gradient of every weight', () => {
      const gpt = new GPT({ ...base, positional: 'learned', tieEmbeddings: false });
      expect(Object.keys(gpt.variables()).sort()).toEqual(Object.keys(c.params).sort());
      load(gpt, c.params);
      const ids = tf.tensor2d(c.ids, undefined, 'int32');
      const targets = tf.tensor2d(c.targets, undefined, 'int32');
      const logits = gpt.logits(ids);
      expectClose(logits, c.logits, 1e-5, 'logits');
      const vars = gpt.variables();
      const { value, grads } = tf.variableGrads(() => gpt.loss(ids, targets), Object.values(vars));
      expect(Math.abs(value.dataSync()[0]! - c.loss)).toBeLessThan(1e-5);
      for (const [n, v] of Object.entries(vars)) expectClose(grads[v.name]!, c.grads[n]!, 1e-5, `dL/d ${n}`);
      tf.dispose([ids, targets, logits, value, grads]);
      gpt.dispose();
    });

    it('tied head (logits = LN(x)·Eᵀ) and sinusoidal positions', () => {
      const gpt = new GPT({ ...base, positional: 'sinusoidal', tieEmbeddings: true });
      const params = Object.fromEntries(Object.entries(c.params).filter(([k]) => k !== 'head/W' && k !== 'positions/table')) as Params;
      expect(Object.keys(gpt.variables()).sort()).toEqual(Object.keys(params).sort());
      load(gpt, params);
      const ids = tf.tensor2d(c.ids, undefined, 'int32');
      const logits = gpt.logits(ids);
      expectClose(logits, c.tiedSinusoidalLogits, 1e-5, 'logits');
      tf.dispose([ids, logits]);
      gpt.dispose();
    });

    it('no biases (nanoGPT bias=False, the GPT default): no projection biases, no layer-norm shifts', () => {
      const gpt = new GPT({ ...base, bias: false, positional: 'learned', tieEmbeddings: false });
      const isBias = (k: string) => k.endsWith('/b') || k.endsWith('/beta');
      const params = Object.fromEntries(Object.entries(c.params).filter(([k]) => !isBias(k))) as Params;
      expect(Object.keys(gpt.variables()).sort()).toEqual(Object.keys(params).sort());
      load(gpt, params);
      const ids = tf.tensor2d(c.ids, undefined, 'int32');
      const logits = gpt.logits(ids);
      expectClose(logits, c.noBiasLogits, 1e-5, 'logits');
      tf.dispose([ids, logits]);
      gpt.dispose();
    });
  });

  describe('golden: sinusoidal positions', () => {
    const c = golden.cases.sinusoidal;

    it('sinusoidalTable and PositionalEncoding.positions (with an offset) match the PyTorch tutorial table', () => {
      const table = tf.tensor2d(sinusoidalTable(c.length, c.dim), [c.length, c.dim]);
      expectClose(table, c.table, 1e-6, 'table');
      const pe = new PositionalEncoding({ kind: 'sinusoidal', dim: c.dim, maxLength: c.length });
      const rows = pe.positions(4, 3);
      expectClose(rows, (c.table as Nested[]).slice(3, 7), 1e-6, 'positions 3..6');
      const offset = tf.tensor2d(sinusoidalTable(4, c.dim, 3), [4, c.dim]);
      expectClose(offset, (c.table as Nested[]).slice(3, 7), 1e-6, 'sinusoidalTable offset 3');
      tf.dispose([table, rows, offset]);
      pe.dispose();
    });
  });

  describe('golden: crossEntropy vs torch.nn.functional.cross_entropy', () => {
    const c = golden.cases.crossEntropy;

    it.each(Object.keys(c.variants))('%s', (name) => {
      const vr = c.variants[name]!;
      const logits = tf.variable(t(c.logits)) as tf.Variable<tf.Rank.R2>;
      const targets = tf.tensor1d(c.targets, 'int32');
      const mask = vr.masked ? t(c.mask) : undefined;
      const f = () => crossEntropy(logits, targets, { labelSmoothing: vr.labelSmoothing, mask });
      const loss = f();
      expect(Math.abs(loss.dataSync()[0]! - vr.loss)).toBeLessThan(1e-5);
      if (vr.gradLogits) {
        const { value, grads } = tf.variableGrads(f, [logits]);
        expectClose(grads[logits.name]!, vr.gradLogits, 1e-6, 'dL/dlogits');
        tf.dispose([value, grads]);
      }
      tf.dispose([logits, targets, mask ?? [], loss]);
    });
  });
});
