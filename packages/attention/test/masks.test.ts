// Masks: padded and future keys get weight exactly 0 and gradient exactly 0, so perturbing them
// changes nothing, values or gradients; the weights of every query sum to 1 over its unmasked keys;
// a fully masked row gives zeros (not NaN); one decoder step [B, Dq] equals the matching row of a
// [B, Tq, Dq] call; the mask forms ([B, Tk], [B, Tq, Tk], bool, int) agree.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '@attend/core';
import { selectBackend } from '@attend/core/node';
import { beforeAll, describe, expect, it } from 'vitest';
import { causalMask, createAttention, scaledDotProductAttention, type Attention, type AttentionConfig } from '../src/index.js';
import { expectClose, expectSame, randn } from './helpers.js';

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
});

const B = 2;
const Tq = 3;
const Tk = 5;
const Dq = 4;
const Dk = 4;
const Dv = 3;

const CONFIGS: [string, AttentionConfig][] = [
  ['dot', { type: 'dot' }],
  ['general', { type: 'general', queryDim: Dq, keyDim: Dk, seed: 1 }],
  ['additive', { type: 'additive', queryDim: Dq, keyDim: Dk, attentionDim: 6, seed: 2 }],
  ['scaledDot', { type: 'scaledDot' }],
];

/** Lengths [5, 2]: the second sequence has 3 padded keys. */
const padding = () => tf.tensor2d([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]]);

/** Replaces keys/values at the positions where `keep` [B, Tk] is 0 by large random noise. */
function perturbWhere(x: tf.Tensor, keep: tf.Tensor2D, seed: number): tf.Tensor {
  return tf.tidy(() => {
    const m = tf.expandDims(keep, 2); // [B, Tk, 1]
    return tf.add(tf.mul(x, m), tf.mul(randn(x.shape, seed, 10), tf.sub(1, m)));
  });
}

/** context, weights and dL/d(query, keys, values, weights…) for L = Σ context·Rc + Σ weights·Rw. */
function run(layer: Attention, q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, opts: { mask?: tf.Tensor; causal?: boolean }, rows?: number) {
  const Rc = randn([B, Tq, Dv], 7);
  const Rw = randn([B, Tq, Tk], 8);
  const qv = tf.variable(q);
  const kv = tf.variable(k);
  const vv = tf.variable(v);
  const vars = layer.variables();
  const f = () =>
    tf.tidy(() => {
      const o = layer.attend(qv as tf.Tensor3D, kv as tf.Tensor3D, vv as tf.Tensor3D, opts);
      // `rows`: only the first queries enter the loss (the causal tests look at the past only).
      const n = rows ?? Tq;
      const L = tf.add(tf.sum(tf.mul(tf.slice(o.context, [0, 0, 0], [B, n, Dv]), tf.slice(Rc, [0, 0, 0], [B, n, Dv]))), tf.sum(tf.mul(tf.slice(o.weights, [0, 0, 0], [B, n, Tk]), tf.slice(Rw, [0, 0, 0], [B, n, Tk]))));
      return L as tf.Scalar;
    });
  const out = layer.attend(q, k, v, opts);
  const { value, grads } = tf.variableGrads(f, [qv, kv, vv, ...Object.values(vars)]);
  const g: Record<string, tf.Tensor> = { query: grads[qv.name]!, keys: grads[kv.name]!, values: grads[vv.name]! };
  for (const [n, w] of Object.entries(vars)) g[n] = grads[w.name]!;
  tf.dispose([Rc, Rw, qv, kv, vv, value]);
  return { ...out, grads: g };
}

describe.each(CONFIGS)('masks: %s', (_name, config) => {
  it('padding: weights exactly 0 on padding, summing to 1 over real keys; padded keys/values change nothing, get zero gradient', () => {
    const layer = createAttention(config);
    const q = randn([B, Tq, Dq], 1) as tf.Tensor3D;
    const k = randn([B, Tk, Dk], 2) as tf.Tensor3D;
    const v = randn([B, Tk, Dv], 3) as tf.Tensor3D;
    const mask = padding();
    const a = run(layer, q, k, v, { mask });
    const w = a.weights.arraySync() as number[][][];
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < Tq; i++) {
        const real = b === 0 ? 5 : 2;
        expect(w[b]![i]!.slice(real).every((x) => x === 0)).toBe(true);
        expect(w[b]![i]!.slice(0, real).reduce((s, x) => s + x, 0)).toBeCloseTo(1, 6);
      }
    }
    const k2 = perturbWhere(k, mask, 11) as tf.Tensor3D;
    const v2 = perturbWhere(v, mask, 12) as tf.Tensor3D;
    const b2 = run(layer, q, k2, v2, { mask });
    expectSame(b2.weights, a.weights, 'weights');
    expectSame(b2.context, a.context, 'context');
    for (const n of Object.keys(a.grads)) {
      if (n === 'keys' || n === 'values') continue;
      expectClose(b2.grads[n]!, a.grads[n]!, 1e-6, `dL/d ${n}`);
    }
    for (const n of ['keys', 'values']) {
      const g = b2.grads[n]!.arraySync() as number[][][];
      expect(g[1]!.slice(2).flat().every((x) => x === 0), `dL/d ${n} at padded positions`).toBe(true);
      expectClose(tf.mul(b2.grads[n]!, tf.expandDims(mask, 2)), tf.mul(a.grads[n]!, tf.expandDims(mask, 2)), 1e-6, `dL/d ${n} at real positions`);
    }
    tf.dispose([q, k, v, k2, v2, mask, a, b2]);
    layer.dispose();
  });

  it('causal: query i sees keys j ≤ i only; future keys/values change nothing for earlier queries and get zero gradient from them', () => {
    const layer = createAttention(config);
    const q = randn([B, Tq, Dq], 21) as tf.Tensor3D;
    const k = randn([B, Tk, Dk], 22) as tf.Tensor3D;
    const v = randn([B, Tk, Dv], 23) as tf.Tensor3D;
    const a = run(layer, q, k, v, { causal: true }, 2); // loss over queries 0 and 1: keys 2.. are their future
    const w = a.weights.arraySync() as number[][][];
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < Tq; i++) {
        expect(w[b]![i]!.slice(i + 1).every((x) => x === 0)).toBe(true);
        expect(w[b]![i]!.slice(0, i + 1).reduce((s, x) => s + x, 0)).toBeCloseTo(1, 6);
      }
    }
    const past = tf.tensor2d([[1, 1, 0, 0, 0], [1, 1, 0, 0, 0]]);
    const k2 = perturbWhere(k, past, 31) as tf.Tensor3D;
    const v2 = perturbWhere(v, past, 32) as tf.Tensor3D;
    const b2 = run(layer, q, k2, v2, { causal: true }, 2);
    const firstTwo = (x: tf.Tensor) => tf.slice(x, [0, 0, 0], [B, 2, x.shape[2]!]);
    expectSame(firstTwo(b2.weights), firstTwo(a.weights), 'weights of queries 0, 1');
    expectSame(firstTwo(b2.context), firstTwo(a.context), 'context of queries 0, 1');
    for (const n of Object.keys(a.grads)) {
      if (n === 'keys' || n === 'values') continue;
      expectClose(b2.grads[n]!, a.grads[n]!, 1e-6, `dL/d ${n}`);
    }
    for (const n of ['keys', 'values']) {
      const g = b2.grads[n]!.arraySync() as number[][][];
      expect(g.every((row) => row.slice(2).flat().every((x) => x === 0)), `dL/d ${n} at future positions`).toBe(true);
      expectClose(tf.mul(b2.grads[n]!, tf.expandDims(past, 2)), tf.mul(a.grads[n]!, tf.expandDims(past, 2)), 1e-6, `dL/d ${n} at past positions`);
    }
    tf.dispose([q, k, v, k2, v2, past, a, b2]);
    layer.dispose();
  });

  it('a fully masked row gives all-zero weights and context, no NaN, finite gradients', () => {
    const layer = createAttention(config);
    const q = randn([B, Tq, Dq], 41) as tf.Tensor3D;
    const k = randn([B, Tk, Dk], 42) as tf.Tensor3D;
    const v = randn([B, Tk, Dv], 43) as tf.Tensor3D;
    const mask = tf.tensor2d([[1, 1, 1, 0, 0], [0, 0, 0, 0, 0]]);
    const r = run(layer, q, k, v, { mask });
    const w = r.weights.arraySync() as number[][][];
    const c = r.context.arraySync() as number[][][];
    expect(w[1]!.flat().every((x) => x === 0)).toBe(true);
    expect(c[1]!.flat().every((x) => x === 0)).toBe(true);
    for (const row of w[0]!) expect(row.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 6);
    for (const g of Object.values(r.grads)) expect(Array.from(g.dataSync()).every(Number.isFinite)).toBe(true);
    tf.dispose([q, k, v, mask, r]);
    layer.dispose();
  });

  it('one decoder step [B, Dq] equals the matching row of a [B, Tq, Dq] call, with a padding mask', () => {
    const layer = createAttention(config);
    const q = randn([B, Tq, Dq], 51) as tf.Tensor3D;
    const k = randn([B, Tk, Dk], 52) as tf.Tensor3D;
    const v = randn([B, Tk, Dv], 53) as tf.Tensor3D;
    const mask = padding();
    const all = layer.attend(q, k, v, { mask });
    for (let i = 0; i < Tq; i++) {
      const qi = tf.squeeze(tf.slice(q, [0, i, 0], [B, 1, Dq]), [1]) as tf.Tensor2D;
      const one = layer.attend(qi, k, v, { mask });
      expect(one.context.shape).toEqual([B, Dv]);
      expect(one.weights.shape).toEqual([B, Tk]);
      expectClose(one.context, tf.squeeze(tf.slice(all.context, [0, i, 0], [B, 1, Dv]), [1]), 1e-6, `context row ${i}`);
      expectClose(one.weights, tf.squeeze(tf.slice(all.weights, [0, i, 0], [B, 1, Tk]), [1]), 1e-6, `weights row ${i}`);
      tf.dispose([qi, one]);
    }
    expect(() => layer.attend(tf.zeros([B, Dq]) as tf.Tensor2D, k, v, { causal: true })).toThrow(ConfigError);
    tf.dispose([q, k, v, mask, all]);
    layer.dispose();
  });

  it('mask forms agree: [B, Tk] float, bool and int, and the same mask as [B, Tq, Tk]; causal + padding = their product', () => {
    const layer = createAttention(config);
    const q = randn([B, Tq, Dq], 61) as tf.Tensor3D;
    const k = randn([B, Tk, Dk], 62) as tf.Tensor3D;
    const v = randn([B, Tk, Dv], 63) as tf.Tensor3D;
    const mask = padding();
    const ref = layer.attend(q, k, v, { mask });
    const forms = [tf.cast(mask, 'bool'), tf.cast(mask, 'int32'), tf.tile(tf.expandDims(mask, 1), [1, Tq, 1])];
    for (const m of forms) {
      const r = layer.attend(q, k, v, { mask: m });
      expectSame(r.weights, ref.weights, `mask ${m.dtype} [${m.shape.join(', ')}]`);
      tf.dispose(r);
    }
    const both = layer.attend(q, k, v, { mask, causal: true });
    const full = tf.mul(tf.expandDims(mask, 1), causalMask(Tq, Tk)); // [B, Tq, Tk]
    const byFull = layer.attend(q, k, v, { mask: full });
    expectSame(both.weights, byFull.weights, 'causal + padding');
    expect(() => layer.attend(q, k, v, { mask: tf.ones([B, Tk + 1]) })).toThrow(ShapeError);
    expect(() => layer.attend(q, k, v, { mask: tf.ones([Tk]) })).toThrow(/expected mask of shape \[2, 5\]/);
    tf.dispose([q, k, v, mask, ref, forms, both, full, byFull]);
    layer.dispose();
  });
});

describe('masks: scaled dot-product with heads', () => {
  it('a [B, Tk] padding mask and causal are shared by every head; each head equals a 3-D call on its slice', () => {
    const H = 2;
    const d = 4;
    const q = randn([B, H, Tq, d], 71) as tf.Tensor4D;
    const k = randn([B, H, Tk, d], 72) as tf.Tensor4D;
    const v = randn([B, H, Tk, Dv], 73) as tf.Tensor4D;
    const mask = padding();
    const r = scaledDotProductAttention(q, k, v, { mask, causal: true });
    expect(r.context.shape).toEqual([B, H, Tq, Dv]);
    expect(r.weights.shape).toEqual([B, H, Tq, Tk]);
    for (let h = 0; h < H; h++) {
      const sl = (x: tf.Tensor4D) => tf.squeeze(tf.slice(x, [0, h, 0, 0], [B, 1, x.shape[2], x.shape[3]]), [1]) as tf.Tensor3D;
      const one = scaledDotProductAttention(sl(q), sl(k), sl(v), { mask, causal: true });
      expectClose(sl(r.context as tf.Tensor4D), one.context, 1e-6, `head ${h} context`);
      expectClose(sl(r.weights as tf.Tensor4D), one.weights, 1e-6, `head ${h} weights`);
      tf.dispose(one);
    }
    expect(() => scaledDotProductAttention(q, k, randn([B, H, Tk + 1, Dv], 1) as tf.Tensor4D)).toThrow(ShapeError);
    expect(() => scaledDotProductAttention(randn([B, H, Tq, d + 1], 1) as tf.Tensor4D, k, v)).toThrow(/expected query of shape \[2, 2, Tq, 4\]/);
    tf.dispose([q, k, v, mask, r]);
  });
});
