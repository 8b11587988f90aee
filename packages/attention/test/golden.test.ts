// Golden values: every score function with the weights of fixtures/golden.json must reproduce the
// reference scores, weights, contexts, loss and gradients w.r.t. query, keys, values and every weight,
// with no mask, a padding mask, a causal mask and both, within 1e-5. References (see
// fixtures/make_fixtures.py): torch.nn.functional.scaled_dot_product_attention for scaled dot-product
// attention (with and without heads); a float64 torch transcription of the Luong (dot, general) and
// Bahdanau (additive) equations, cross-checked against numpy loops, for the others.
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@attend/core/node';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AdditiveAttention,
  DotAttention,
  GeneralAttention,
  ScaledDotAttention,
  scaledDotProductAttention,
  type Attention,
  type AttendOptions,
  type AttentionResult,
} from '../src/index.js';
import { expectClose, loadGolden, t, type GoldenCase } from './helpers.js';

const golden = loadGolden();
const { Dq, Dk, A } = golden.meta;

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
});

const BUILD: Record<keyof typeof golden.cases, () => Attention> = {
  dot: () => new DotAttention(),
  general: () => new GeneralAttention({ queryDim: Dq, keyDim: Dk }),
  additive: () => new AdditiveAttention({ queryDim: Dq, keyDim: Dk, attentionDim: A }),
  scaledDot: () => new ScaledDotAttention(),
  scaledDot_heads: () => new ScaledDotAttention(),
};

const VARIANTS = ['none', 'padding', 'causal', 'padding_causal'] as const;

describe.each(Object.keys(BUILD) as (keyof typeof BUILD)[])('golden %s', (name) => {
  const c = golden.cases[name] as GoldenCase;

  function build(): Attention {
    const layer = BUILD[name]();
    const record = Object.fromEntries(Object.entries(c.params).map(([k, v]) => [k, t(v)]));
    layer.setWeights(record);
    tf.dispose(record);
    return layer;
  }

  it.each(VARIANTS)(`%s: scores, weights, context, loss and gradients match (${c.source})`, (variant) => {
    const vr = c.variants[variant];
    const layer = build();
    const q = tf.variable(t(c.query));
    const k = tf.variable(t(c.keys));
    const v = tf.variable(t(c.values));
    const mask = vr.mask === undefined ? undefined : t(vr.mask);
    const opts: AttendOptions = { mask, causal: vr.causal };
    const Rc = t(c.R.context);
    const Rw = t(c.R.weights);

    if (q.rank === 3) {
      const s = layer.score(q as tf.Tensor3D, k as tf.Tensor3D);
      expectClose(s, vr.scores, 1e-5, 'scores');
      s.dispose();
    }
    const r = layer.attend(q as tf.Tensor, k, v, opts);
    expectClose(r.weights, vr.weights, 1e-5, 'weights');
    expectClose(r.context, vr.context, 1e-5, 'context');

    const vars = layer.variables();
    const { value, grads } = tf.variableGrads(() => {
      const o = layer.attend(q as tf.Tensor, k, v, opts);
      return tf.add(tf.sum(tf.mul(o.context, Rc)), tf.sum(tf.mul(o.weights, Rw))) as tf.Scalar;
    }, [q, k, v, ...Object.values(vars)]);
    expect(value.dataSync()[0]).toBeCloseTo(vr.loss, 4);
    const byName: Record<string, tf.Tensor> = { query: grads[q.name]!, keys: grads[k.name]!, values: grads[v.name]! };
    for (const [n, w] of Object.entries(vars)) byName[n] = grads[w.name]!;
    expect(Object.keys(byName).sort()).toEqual(Object.keys(vr.grads).sort());
    for (const [n, g] of Object.entries(vr.grads)) expectClose(byName[n]!, g, 1e-5, `dL/d ${n}`);

    if (name.startsWith('scaledDot')) {
      // The functional form gives the same numbers as the layer.
      const f: AttentionResult = scaledDotProductAttention(q as tf.Tensor, k, v, opts);
      expectClose(f.context, vr.context, 1e-5, 'scaledDotProductAttention context');
      expectClose(f.weights, vr.weights, 1e-5, 'scaledDotProductAttention weights');
      tf.dispose(f);
    }
    tf.dispose([q, k, v, Rc, Rw, value, r, grads]);
    if (mask) mask.dispose();
    layer.dispose();
  });
});
