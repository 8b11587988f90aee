// The layer API: the factory and its errors, variables with stable names and shapes, seeded
// Glorot-uniform initialisation, setWeights validation, paramCount, dispose, input shape errors with
// expected-vs-actual messages, and no leaked tensors across repeated calls and gradient steps.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '@attend/core';
import { selectBackend } from '@attend/core/node';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ATTENTION_TYPES,
  AdditiveAttention,
  DotAttention,
  GeneralAttention,
  ScaledDotAttention,
  createAttention,
  scaledDotProductAttention,
  type AttentionConfig,
} from '../src/index.js';
import { expectNoLeak, randn } from './helpers.js';

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
});

describe('createAttention', () => {
  it('builds each type', () => {
    const layers = [
      createAttention({ type: 'dot' }),
      createAttention({ type: 'general', queryDim: 4, keyDim: 6 }),
      createAttention({ type: 'additive', queryDim: 4, keyDim: 6, attentionDim: 5 }),
      createAttention({ type: 'scaledDot' }),
    ];
    expect(layers[0]).toBeInstanceOf(DotAttention);
    expect(layers[1]).toBeInstanceOf(GeneralAttention);
    expect(layers[2]).toBeInstanceOf(AdditiveAttention);
    expect(layers[3]).toBeInstanceOf(ScaledDotAttention);
    expect(layers.map((l) => l.type)).toEqual([...ATTENTION_TYPES]);
    for (const l of layers) l.dispose();
  });

  it('rejects unknown types, unknown options, missing and invalid sizes', () => {
    const bad = (c: unknown) => () => createAttention(c as AttentionConfig);
    expect(bad({ type: 'luong' })).toThrow(ConfigError);
    expect(bad({ type: 'luong' })).toThrow('Unknown attention type: luong; expected one of dot, general, additive, scaledDot');
    expect(bad(null)).toThrow(ConfigError);
    expect(bad({ type: 'dot', queryDim: 3 })).toThrow('DotAttention: unknown option "queryDim"');
    expect(bad({ type: 'general', queryDim: 3 })).toThrow('GeneralAttention: option "keyDim" is required');
    expect(bad({ type: 'general', queryDim: 3, keyDim: 4, keydim: 4 })).toThrow(/unknown option "keydim"; known options are/);
    expect(bad({ type: 'additive', queryDim: 3, keyDim: 4 })).toThrow('AdditiveAttention: option "attentionDim" is required');
    expect(bad({ type: 'additive', queryDim: 3, keyDim: 4, attentionDim: 2.5 })).toThrow('AdditiveAttention.attentionDim: expected an integer ≥ 1, got 2.5');
    expect(bad({ type: 'general', queryDim: 0, keyDim: 4 })).toThrow(ConfigError);
    expect(bad({ type: 'scaledDot', seed: 1 })).toThrow(ConfigError);
  });
});

describe('variables, init and setWeights', () => {
  it('names, shapes and paramCount', () => {
    const g = new GeneralAttention({ queryDim: 4, keyDim: 6 });
    const a = new AdditiveAttention({ queryDim: 4, keyDim: 6, attentionDim: 5 });
    const shapes = (vars: Record<string, tf.Variable>) => Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, v.shape]));
    expect(shapes(g.variables())).toEqual({ W: [4, 6] });
    expect(shapes(a.variables())).toEqual({ W1: [6, 5], W2: [4, 5], v: [5] });
    expect(g.paramCount()).toBe(24);
    expect(a.paramCount()).toBe(30 + 20 + 5);
    expect(new DotAttention().paramCount()).toBe(0);
    expect(new ScaledDotAttention().variables()).toEqual({});
    g.dispose();
    a.dispose();
  });

  it('seeded Glorot-uniform: the same seed gives the same weights, another seed others, all within ±√(6/(fanIn+fanOut))', () => {
    const a = new AdditiveAttention({ queryDim: 4, keyDim: 6, attentionDim: 5, seed: 3 });
    const b = new AdditiveAttention({ queryDim: 4, keyDim: 6, attentionDim: 5, seed: 3 });
    const c = new AdditiveAttention({ queryDim: 4, keyDim: 6, attentionDim: 5, seed: 4 });
    for (const n of ['W1', 'W2', 'v'] as const) {
      expect(Array.from(a.variables()[n]!.dataSync())).toEqual(Array.from(b.variables()[n]!.dataSync()));
      expect(Array.from(a.variables()[n]!.dataSync())).not.toEqual(Array.from(c.variables()[n]!.dataSync()));
    }
    const bound = (v: tf.Variable, fanIn: number, fanOut: number) => {
      const lim = Math.sqrt(6 / (fanIn + fanOut));
      const x = Array.from(v.dataSync());
      expect(Math.max(...x.map(Math.abs))).toBeLessThanOrEqual(lim);
      expect(Math.max(...x.map(Math.abs))).toBeGreaterThan(lim / 2);
    };
    bound(a.W1, 6, 5);
    bound(a.W2, 4, 5);
    bound(a.v, 5, 1);
    for (const l of [a, b, c]) l.dispose();
  });

  it('setWeights checks names, shapes and dtypes (expected vs actual) and assigns nothing on error', () => {
    const a = new AdditiveAttention({ queryDim: 2, keyDim: 3, attentionDim: 4 });
    const before = Array.from(a.W1.dataSync());
    const W1 = tf.ones([3, 4]);
    const W2 = tf.ones([2, 4]);
    const v = tf.ones([4]);
    expect(() => a.setWeights({ W1, W2, v, W3: v })).toThrow('AdditiveAttention.setWeights: unknown variable "W3"; expected one of W1, W2, v');
    expect(() => a.setWeights({ W1, W2 })).toThrow('AdditiveAttention.setWeights: missing variable(s) v; pass them all, or { partial: true }');
    expect(() => a.setWeights({ W1, W2, v: tf.ones([5]) })).toThrow(ShapeError);
    expect(() => a.setWeights({ W1, W2, v: tf.ones([5]) })).toThrow('"v" expected shape [4], got [5]');
    expect(() => a.setWeights({ W1, W2, v: tf.ones([4], 'int32') })).toThrow('"v" expected dtype float32, got int32');
    expect(Array.from(a.W1.dataSync())).toEqual(before);
    a.setWeights({ W1 }, { partial: true });
    expect(Array.from(a.W1.dataSync()).every((x) => x === 1)).toBe(true);
    a.setWeights({ W1, W2, v });
    expect(a.v.dataSync()[0]).toBe(1);
    tf.dispose([W1, W2, v]);
    a.dispose();
  });

  it('dispose frees the variables', () => {
    const before = tf.memory().numTensors;
    const a = new AdditiveAttention({ queryDim: 2, keyDim: 3, attentionDim: 4 });
    expect(tf.memory().numTensors).toBe(before + 3);
    a.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('input checks', () => {
  it('shape errors state expected vs actual', () => {
    const dot = new DotAttention();
    const gen = new GeneralAttention({ queryDim: 4, keyDim: 6 });
    const k = tf.zeros([2, 5, 6]) as tf.Tensor3D;
    const v = tf.zeros([2, 5, 3]) as tf.Tensor3D;
    expect(() => dot.attend(tf.zeros([2, 3, 4]) as tf.Tensor3D, k, v)).toThrow(
      "DotAttention.attend: the dot score needs query and keys of the same size, got query size 4 and key size 6; use 'general' or 'additive' attention for different sizes",
    );
    expect(() => gen.attend(tf.zeros([2, 3, 5]) as tf.Tensor3D, k, v)).toThrow(
      'GeneralAttention.attend: expected query size 4 and key size 6 (queryDim, keyDim), got query size 5 and key size 6',
    );
    expect(() => gen.attend(tf.zeros([3, 3, 4]) as tf.Tensor3D, k, v)).toThrow('expected query of shape [2, Tq, Dq] or [2, Dq] (one decoder step), got [3, 3, 4]');
    expect(() => gen.attend(tf.zeros([2, 3, 4]) as tf.Tensor3D, k, tf.zeros([2, 4, 3]) as tf.Tensor3D)).toThrow(
      'expected values of shape [2, 5, Dv] (one value per key), got [2, 4, 3]',
    );
    expect(() => gen.attend(tf.zeros([2, 3, 4]) as tf.Tensor3D, tf.zeros([2, 5]) as unknown as tf.Tensor3D, v)).toThrow('expected keys of shape [B, Tk, Dk], got [2, 5]');
    expect(() => gen.attend(tf.zeros([2, 2, 3, 4]) as unknown as tf.Tensor3D, k, v)).toThrow(ShapeError);
    expect(() => gen.attend(tf.zeros([2, 3, 4], 'int32') as tf.Tensor3D, k, v)).toThrow('query expected dtype float32, got int32');
    expect(() => gen.attend(tf.zeros([2, 3, 4]) as tf.Tensor3D, k, v, { casual: true } as never)).toThrow(/unknown option "casual"/);
    expect(() => gen.attend(tf.zeros([2, 3, 4]) as tf.Tensor3D, k, v, { causal: 1 } as never)).toThrow(ConfigError);
    expect(() => gen.score(tf.zeros([2, 4]) as unknown as tf.Tensor3D, k)).toThrow('GeneralAttention.score: expected query of shape [B, Tq, Dq], got [2, 4]');
    expect(() => scaledDotProductAttention(tf.zeros([2, 3, 4]) as tf.Tensor3D, tf.zeros([2, 5, 3]) as tf.Tensor3D, v)).toThrow(
      'scaledDotProductAttention: expected query and keys of the same size d_k, got query size 4 and key size 3',
    );
    tf.dispose([k, v]);
    gen.dispose();
  });

  it('single-step and sequence shapes', () => {
    const a = new AdditiveAttention({ queryDim: 4, keyDim: 6, attentionDim: 5 });
    const k = randn([2, 5, 6], 1) as tf.Tensor3D;
    const v = randn([2, 5, 3], 2) as tf.Tensor3D;
    const seq = a.attend(randn([2, 7, 4], 3) as tf.Tensor3D, k, v);
    expect(seq.context.shape).toEqual([2, 7, 3]);
    expect(seq.weights.shape).toEqual([2, 7, 5]);
    const step = a.attend(randn([2, 4], 4) as tf.Tensor2D, k, v);
    expect(step.context.shape).toEqual([2, 3]);
    expect(step.weights.shape).toEqual([2, 5]);
    expect(a.score(randn([2, 7, 4], 3) as tf.Tensor3D, k).shape).toEqual([2, 7, 5]);
    tf.dispose([k, v, seq, step]);
    a.dispose();
  });
});

describe('no leaks', () => {
  it.each<[string, AttentionConfig]>([
    ['dot', { type: 'dot' }],
    ['general', { type: 'general', queryDim: 4, keyDim: 4 }],
    ['additive', { type: 'additive', queryDim: 4, keyDim: 4, attentionDim: 3 }],
    ['scaledDot', { type: 'scaledDot' }],
  ])('%s: attend, score and gradient steps keep the tensor count', (_n, config) => {
    const layer = createAttention(config);
    const q = randn([2, 3, 4], 1) as tf.Tensor3D;
    const k = randn([2, 5, 4], 2) as tf.Tensor3D;
    const v = randn([2, 5, 3], 3) as tf.Tensor3D;
    const mask = tf.tensor2d([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]]);
    const vars = Object.values(layer.variables());
    expectNoLeak(() => {
      tf.dispose(layer.attend(q, k, v, { mask, causal: true }));
      tf.tidy(() => {
        layer.attend(tf.squeeze(tf.slice(q, [0, 0, 0], [2, 1, 4]), [1]) as tf.Tensor2D, k, v, { mask });
      });
      tf.dispose(layer.score(q, k));
      const f = () => tf.sum(layer.attend(q, k, v, { mask }).context) as tf.Scalar;
      if (vars.length > 0) {
        const { value, grads } = tf.variableGrads(f, vars);
        tf.dispose([value, grads]);
      }
      const { value, grads } = tf.valueAndGrads((qq: tf.Tensor) => tf.sum(layer.attend(qq as tf.Tensor3D, k, v).context))([q]);
      tf.dispose([value, grads]);
    });
    const qh = randn([2, 2, 3, 4], 4) as tf.Tensor4D;
    const kh = randn([2, 2, 5, 4], 5) as tf.Tensor4D;
    const vh = randn([2, 2, 5, 3], 6) as tf.Tensor4D;
    expectNoLeak(() => tf.dispose(scaledDotProductAttention(qh, kh, vh, { mask, causal: true })));
    tf.dispose([q, k, v, mask, qh, kh, vh]);
    layer.dispose();
  });
});
