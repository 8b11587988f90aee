// The character language model: config validation, variable names and checkpoints, logits / step
// / loss agreement, seeded sampling, leak checks, and a tiny overfit run.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Rng, ShapeError } from '@attend/core';
import { selectBackend } from '@attend/core/node';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RNN_LANGUAGE_MODEL, RNNLanguageModel, type RNNState } from '../src/index.js';
import { expectClose, expectNoLeak } from './helpers.js';

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
});

const V = 7;
const small = { vocabSize: V, embed: 4, hidden: 6, layers: 2 };
const ids2d = (rows: number[][]) => tf.tensor2d(rows, undefined, 'int32');

describe('config', () => {
  it('fills defaults and exposes a plain, frozen JSON config', () => {
    const lm = new RNNLanguageModel({ vocabSize: 5, hidden: 8, embed: 3, layers: 1 });
    expect(lm.config).toEqual({ ...DEFAULT_RNN_LANGUAGE_MODEL, vocabSize: 5, hidden: 8, embed: 3, layers: 1 });
    expect(JSON.parse(JSON.stringify(lm.config))).toEqual(lm.config);
    expect(Object.isFrozen(lm.config)).toBe(true);
    expect(DEFAULT_RNN_LANGUAGE_MODEL).toMatchObject({ cell: 'lstm', embed: 64, hidden: 256, layers: 2, dropout: 0, activation: 'tanh', resetAfter: false, seed: 0 });
    lm.dispose();
  });

  it.each([
    [{ hidden: 0 }, 'RNNLanguageModel.hidden: expected an integer ≥ 1, got 0'],
    [{ layers: -1 }, 'RNNLanguageModel.layers: expected an integer ≥ 1, got -1'],
    [{ embed: 2.5 }, 'RNNLanguageModel.embed: expected an integer ≥ 1, got 2.5'],
    [{ vocabSize: 0 }, 'RNNLanguageModel.vocabSize: expected an integer ≥ 1, got 0'],
    [{ cell: 'foo' }, 'RNNLanguageModel.cell: expected one of "rnn", "lstm", "gru", got "foo"'],
    [{ hiden: 8 }, 'RNNLanguageModel: unknown option "hiden"; known options are cell, embed, hidden, layers, dropout, activation, resetAfter, seed, vocabSize'],
    [{ dropout: 1 }, 'RNNLanguageModel.dropout: expected a number in [0, 0.999], got 1'],
    [{ activation: 'relu' }, /only the vanilla RNN \(cell "rnn"\) takes an activation/],
    [{ resetAfter: true }, /resetAfter: only applies to cell "gru"/],
  ] as [object, string | RegExp][])('%j is a ConfigError', (bad, message) => {
    const make = () => new RNNLanguageModel({ ...small, ...bad } as never);
    expect(make).toThrow(ConfigError);
    expect(make).toThrow(message);
  });

  it('requires vocabSize', () => {
    expect(() => new RNNLanguageModel({} as never)).toThrow(new ConfigError('RNNLanguageModel: option "vocabSize" is required'));
  });
});

describe('variables and checkpoints', () => {
  it('names every variable stably, uniquely and readably', () => {
    const lstm = new RNNLanguageModel({ ...small, cell: 'lstm' });
    expect(Object.keys(lstm.variables())).toEqual([
      'embedding/table',
      'layer0/lstm/W_x', 'layer0/lstm/W_h', 'layer0/lstm/b',
      'layer1/lstm/W_x', 'layer1/lstm/W_h', 'layer1/lstm/b',
      'head/W_hy', 'head/b_y',
    ]);
    const shapes = Object.fromEntries(Object.entries(lstm.variables()).map(([k, v]) => [k, v.shape]));
    expect(shapes).toMatchObject({ 'embedding/table': [V, 4], 'layer0/lstm/W_x': [4, 24], 'layer1/lstm/W_x': [6, 24], 'layer1/lstm/W_h': [6, 24], 'head/W_hy': [6, V], 'head/b_y': [V] });
    const E = 4, H = 6;
    expect(lstm.paramCount()).toBe(V * E + 4 * H * (E + H + 1) + 4 * H * (H + H + 1) + H * V + V);
    const gru = new RNNLanguageModel({ ...small, cell: 'gru', resetAfter: true, layers: 1, seed: 5 });
    expect(Object.keys(gru.variables())).toEqual(['embedding/table', 'layer0/gru/W_x', 'layer0/gru/W_h', 'layer0/gru/b_x', 'layer0/gru/b_h', 'head/W_hy', 'head/b_y']);
    const rnn = new RNNLanguageModel({ ...small, cell: 'rnn', activation: 'relu', layers: 1 });
    expect(Object.keys(rnn.variables())).toEqual(['embedding/table', 'layer0/rnn/W_xh', 'layer0/rnn/W_hh', 'layer0/rnn/b', 'head/W_hy', 'head/b_y']);
    for (const m of [lstm, gru, rnn]) m.dispose();
  });

  it('setWeights round-trips a checkpoint and validates names and shapes before assigning anything', () => {
    const a = new RNNLanguageModel({ ...small, seed: 1 });
    const b = new RNNLanguageModel({ ...small, seed: 2 });
    const x = ids2d([[1, 2, 3]]);
    const la = a.logits(x);
    const lb = b.logits(x);
    expect(tf.max(tf.abs(tf.sub(la.logits, lb.logits))).dataSync()[0]).toBeGreaterThan(1e-3);
    const checkpoint = Object.fromEntries(Object.entries(a.variables()).map(([k, v]) => [k, v.clone()]));
    b.setWeights(checkpoint);
    const lb2 = b.logits(x);
    expectClose(lb2.logits, la.logits, 0, 'same weights, same logits');

    const before = b.variables()['head/b_y']!.dataSync().slice();
    expect(() => b.setWeights({ ...checkpoint, 'layer0/lstm/Wx': checkpoint['layer0/lstm/W_x']! })).toThrow(
      /RNNLanguageModel.setWeights: unknown variable "layer0\/lstm\/Wx"; expected one of embedding\/table, layer0\/lstm\/W_x/,
    );
    const { ['head/W_hy']: _drop, ...partial } = checkpoint;
    expect(() => b.setWeights(partial)).toThrow(new ConfigError('RNNLanguageModel.setWeights: missing variable(s) head/W_hy; pass them all, or { partial: true }'));
    const wrong = tf.zeros([V, 5]);
    const badBias = tf.ones([V]);
    expect(() => b.setWeights({ 'head/b_y': badBias, 'embedding/table': wrong }, { partial: true })).toThrow(
      new ShapeError('RNNLanguageModel.setWeights: "embedding/table" expected shape [7, 4], got [7, 5]'),
    );
    expect(Array.from(b.variables()['head/b_y']!.dataSync())).toEqual(Array.from(before)); // nothing assigned
    b.setWeights({ 'head/b_y': badBias }, { partial: true });
    expect(Array.from(b.variables()['head/b_y']!.dataSync())).toEqual(Array(V).fill(1));
    tf.dispose([x, la, lb, lb2, checkpoint, wrong, badBias]);
    a.dispose();
    b.dispose();
  });
});

describe.each(['rnn', 'lstm', 'gru'] as const)('%s language model', (cell) => {
  it('logits, step and continued logits agree; loss is the mean cross-entropy', () => {
    const lm = new RNNLanguageModel({ ...small, cell, seed: 3 });
    const rows = [[0, 3, 6, 2, 1], [4, 4, 1, 0, 5]];
    const x = ids2d(rows);
    const { logits, state } = lm.logits(x);
    expect(logits.shape).toEqual([2, 5, V]);
    expect(state.h).toHaveLength(2);
    expect(state.c === undefined).toBe(cell !== 'lstm');
    // Step by step.
    let s: RNNState = lm.initialState(2);
    const stepped: tf.Tensor2D[] = [];
    for (let t = 0; t < 5; t++) {
      const ids = tf.tensor1d(rows.map((r) => r[t]!), 'int32');
      const r = lm.step(ids, s);
      tf.dispose([s, ids]);
      s = r.state;
      stepped.push(r.logits);
    }
    expectClose(tf.stack(stepped, 1), logits, 1e-5, 'step vs logits');
    s.h.forEach((h, i) => expectClose(h, state.h[i]!, 1e-6, `state h[${i}]`));
    // Two halves with the state carried over.
    const first = lm.logits(ids2d(rows.map((r) => r.slice(0, 2))));
    const second = lm.logits(ids2d(rows.map((r) => r.slice(2))), { initialState: first.state });
    expectClose(tf.concat([first.logits, second.logits], 1), logits, 1e-5, 'continued');
    // Loss = mean over tokens of −log softmax(logits)[target].
    const targets = ids2d([[3, 6, 2, 1, 0], [4, 1, 0, 5, 2]]);
    const lp = tf.logSoftmax(logits).arraySync() as number[][][];
    const tg = targets.arraySync() as number[][];
    let nll = 0;
    for (let b = 0; b < 2; b++) for (let t = 0; t < 5; t++) nll -= lp[b]![t]![tg[b]![t]!]!;
    expect(lm.loss(x, targets).dataSync()[0]).toBeCloseTo(nll / 10, 5);
    const mask = tf.tensor2d([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]]);
    let masked = 0;
    for (let b = 0; b < 2; b++) for (let t = 0; t < (b === 0 ? 5 : 2); t++) masked -= lp[b]![t]![tg[b]![t]!]!;
    expect(lm.loss(x, targets, { mask }).dataSync()[0]).toBeCloseTo(masked / 7, 5);
    expect(() => lm.logits(tf.tensor2d([[1, 2]]) as tf.Tensor2D)).toThrow(/expected int32 inputs, got float32/);
    const short = ids2d([[1]]);
    expect(() => lm.loss(x, short)).toThrow(/expected targets of shape \[2, 5\]/);
    tf.dispose([x, logits, state, s, stepped, first, second, targets, mask, short]);
    lm.dispose();
  });

  it('does not leak across logits, loss + gradient, step and sample', () => {
    const lm = new RNNLanguageModel({ ...small, cell, dropout: 0.3, seed: 4 });
    const x = ids2d([[1, 2, 3, 4]]);
    const y = ids2d([[2, 3, 4, 5]]);
    expectNoLeak(() => tf.dispose(lm.logits(x, { training: true })));
    expectNoLeak(() => {
      const { value, grads } = tf.variableGrads(() => lm.loss(x, y, { training: true }), Object.values(lm.variables()));
      tf.dispose([value, grads]);
    });
    expectNoLeak(() => {
      const s = lm.initialState(1);
      const ids = tf.tensor1d([3], 'int32');
      const r = lm.step(ids, s);
      tf.dispose([s, ids, r]);
    });
    expectNoLeak(() => lm.sample({ prime: [1, 2], length: 5, topK: 3, topP: 0.9, seed: 1 }));
    tf.dispose([x, y]);
    lm.dispose();
  });
});

describe('sample', () => {
  /** Greedy decoding by hand: the argmax fed back through step. */
  function greedy(lm: RNNLanguageModel, prime: number[], length: number): number[] {
    const out: number[] = [];
    const x = ids2d([prime]);
    const r = lm.logits(x);
    let logits = tf.tidy(() => tf.squeeze(tf.slice(r.logits, [0, prime.length - 1, 0], [1, 1, V]), [0, 1]));
    let state = r.state;
    tf.dispose([x, r.logits]);
    while (out.length < length) {
      const id = tf.tidy(() => tf.argMax(logits).dataSync()[0]!);
      out.push(id);
      const ids = tf.tensor1d([id], 'int32');
      const next = lm.step(ids, state);
      tf.dispose([ids, state, logits]);
      state = next.state;
      logits = tf.squeeze(next.logits, [0]);
      next.logits.dispose();
    }
    tf.dispose([logits, state]);
    return out;
  }

  it('is deterministic under a seed and generates only the new ids', () => {
    const lm = new RNNLanguageModel({ ...small, cell: 'gru', seed: 6 });
    const a = lm.sample({ prime: [1, 2, 3], length: 30, seed: 11 });
    const b = lm.sample({ prime: [1, 2, 3], length: 30, seed: 11 });
    const c = lm.sample({ prime: [1, 2, 3], length: 30, seed: 12 });
    expect(a).toHaveLength(30);
    expect(a).toEqual(b);
    expect(c).not.toEqual(a);
    expect(a.every((id) => Number.isInteger(id) && id >= 0 && id < V)).toBe(true);
    expect(lm.sample({ prime: [1], length: 0 })).toEqual([]);
    expect(() => lm.sample({ prime: [], length: 3 })).toThrow(/prime: expected at least one token id/);
    expect(() => lm.sample({ prime: [V], length: 3 })).toThrow(`RNNLanguageModel.sample prime[0]: expected a token id in [0, ${V}), got ${V}`);
    expect(() => lm.sample({ prime: [1], length: 3, topK: 0 })).toThrow(/topK/);
    lm.dispose();
  });

  it('temperature → 0, top-k = 1 and a tiny top-p all equal greedy decoding', () => {
    const lm = new RNNLanguageModel({ ...small, cell: 'lstm', seed: 7 });
    const prime = [0, 5];
    const g = greedy(lm, prime, 12);
    expect(lm.sample({ prime, length: 12, temperature: 0, seed: 1 })).toEqual(g);
    expect(lm.sample({ prime, length: 12, temperature: 1e-6, seed: 2 })).toEqual(g);
    expect(lm.sample({ prime, length: 12, topK: 1, temperature: 3, seed: 3 })).toEqual(g);
    expect(lm.sample({ prime, length: 12, topP: 1e-9, seed: 4 })).toEqual(g);
    lm.dispose();
  });
});

describe('training', () => {
  it('an LSTM LM overfits a short repeated string with Adam (< 0.3 nats per token)', () => {
    const text = 'hello world! '.repeat(8);
    const chars = [...new Set(text)].sort();
    const ids = [...text].map((ch) => chars.indexOf(ch));
    const lm = new RNNLanguageModel({ cell: 'lstm', vocabSize: chars.length, embed: 16, hidden: 32, layers: 1, seed: 1 });
    const opt = tf.train.adam(0.02);
    const T = 8;
    const rng = new Rng(0);
    const batch = (offsets: number[]) => [ids2d(offsets.map((o) => ids.slice(o, o + T))), ids2d(offsets.map((o) => ids.slice(o + 1, o + T + 1)))] as const;
    const evaluate = () => {
      const [x, y] = batch([0, 13, 26, 39]);
      const l = lm.loss(x, y);
      const v = l.dataSync()[0]!;
      tf.dispose([x, y, l]);
      return v;
    };
    const initial = evaluate();
    for (let step = 0; step < 150; step++) {
      const [x, y] = batch(Array.from({ length: 4 }, () => rng.int(ids.length - T - 1)));
      tf.dispose([opt.minimize(() => lm.loss(x, y, { training: true }), true)!, x, y]);
    }
    const final = evaluate();
    expect(initial).toBeGreaterThan(1.5);
    expect(final).toBeLessThan(0.3);
    opt.dispose();
    lm.dispose();
  });
});
