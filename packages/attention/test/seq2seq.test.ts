// The encoder–decoder: config validation, variable names and checkpoints, padding invariance of the
// loss (a padded batch gives each sentence's loss alone), teacher forcing = step-by-step decoding,
// gradients against finite differences, greedy decoding and beam search (beam 1 = greedy), and no
// leaked tensors across loss + gradients, greedy decoding and beam search.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '@attend/core';
import { selectBackend } from '@attend/core/node';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SEQ2SEQ, Seq2Seq, lengthPenalty, type Seq2SeqConfig } from '../src/index.js';
import { checkDirectional, expectClose, expectNoLeak } from './helpers.js';

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
});

const V = 9;
const tiny = { srcVocab: V, tgtVocab: V, embed: 4, hidden: 6 };
const ids2d = (rows: number[][]) => tf.tensor2d(rows, undefined, 'int32');
const BOS = 1;
const EOS = 2;

/** Pads `rows` with 0 to a common length. */
const padRows = (rows: number[][], T = Math.max(...rows.map((r) => r.length))) => rows.map((r) => [...r, ...Array(T - r.length).fill(0)]);

// Three sentences of different lengths, source and target.
const SRC = [[5, 6, 7], [3, 4, 5, 6, 8], [7, 4]];
const TGT = [[8, 3, 4], [5], [6, 6]];
const tgtIn = (t: number[][]) => padRows(t.map((r) => [BOS, ...r]));
const tgtOut = (t: number[][]) => padRows(t.map((r) => [...r, EOS]));

const VARIANTS: [string, Partial<Seq2SeqConfig>][] = [
  ['lstm, bidirectional, general, input feeding', {}],
  ['gru, bidirectional, additive, 2 layers', { cell: 'gru', attention: 'additive', layers: 2 }],
  ['lstm, unidirectional, dot, no input feeding', { bidirectional: false, attention: 'dot', inputFeeding: false }],
  ['gru, bidirectional, general, no input feeding, 2 layers', { cell: 'gru', inputFeeding: false, layers: 2 }],
  ['lstm, no attention, 2 layers', { attention: 'none', layers: 2 }],
];

describe('config', () => {
  it('fills defaults and exposes a plain, frozen JSON config', () => {
    const m = new Seq2Seq({ srcVocab: 5, tgtVocab: 6, embed: 3, hidden: 4 });
    expect(m.config).toEqual({ ...DEFAULT_SEQ2SEQ, srcVocab: 5, tgtVocab: 6, embed: 3, hidden: 4 });
    expect(JSON.parse(JSON.stringify(m.config))).toEqual(m.config);
    expect(Object.isFrozen(m.config)).toBe(true);
    expect(DEFAULT_SEQ2SEQ).toEqual({ embed: 128, hidden: 256, layers: 1, cell: 'lstm', bidirectional: true, attention: 'general', inputFeeding: true, dropout: 0, seed: 0 });
    m.dispose();
  });

  it.each([
    [{ hidden: 0 }, 'Seq2Seq.hidden: expected an integer ≥ 1, got 0'],
    [{ hidden: 5 }, /hidden must be even, got 5/],
    [{ tgtVocab: 2 }, 'Seq2Seq.tgtVocab: expected an integer ≥ 3, got 2'],
    [{ cell: 'rnn' }, 'Seq2Seq.cell: expected one of "lstm", "gru", got "rnn"'],
    [{ attention: 'scaledDot' }, 'Seq2Seq.attention: expected one of "dot", "general", "additive", "none", got "scaledDot"'],
    [{ dropout: 1 }, 'Seq2Seq.dropout: expected a number in [0, 0.999], got 1'],
    [{ inputFeeding: 'yes' }, 'Seq2Seq.inputFeeding: expected true or false, got "yes"'],
    [{ hiden: 8 }, /Seq2Seq: unknown option "hiden"; known options are embed, hidden/],
  ] as [object, string | RegExp][])('%j is a ConfigError', (bad, message) => {
    const make = () => new Seq2Seq({ ...tiny, ...bad } as never);
    expect(make).toThrow(ConfigError);
    expect(make).toThrow(message);
  });

  it('requires both vocabularies', () => {
    expect(() => new Seq2Seq({ srcVocab: 5 } as never)).toThrow(new ConfigError('Seq2Seq: option "tgtVocab" is required'));
  });
});

describe('variables and checkpoints', () => {
  it('names every variable stably', () => {
    const m = new Seq2Seq({ ...tiny, layers: 1 });
    const shapes = Object.fromEntries(Object.entries(m.variables()).map(([k, v]) => [k, v.shape]));
    expect(shapes).toEqual({
      'encoder/embedding/table': [V, 4],
      'encoder/layer0/forward/lstm/W_x': [4, 12],
      'encoder/layer0/forward/lstm/W_h': [3, 12],
      'encoder/layer0/forward/lstm/b': [12],
      'encoder/layer0/backward/lstm/W_x': [4, 12],
      'encoder/layer0/backward/lstm/W_h': [3, 12],
      'encoder/layer0/backward/lstm/b': [12],
      'encoder/bridge/layer0/W_h': [6, 6],
      'encoder/bridge/layer0/b_h': [6],
      'encoder/bridge/layer0/W_c': [6, 6],
      'encoder/bridge/layer0/b_c': [6],
      'decoder/embedding/table': [V, 4],
      'decoder/layer0/lstm/W_x': [10, 24],
      'decoder/layer0/lstm/W_h': [6, 24],
      'decoder/layer0/lstm/b': [24],
      'attention/W': [6, 6],
      'attention/W_c': [12, 6],
      'head/W_hy': [6, V],
      'head/b_y': [V],
    });
    expect(m.paramCount()).toBe(Object.values(shapes).reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0));
    m.dispose();

    const plain = new Seq2Seq({ ...tiny, cell: 'gru', bidirectional: false, attention: 'none', layers: 2 });
    expect(Object.keys(plain.variables())).toEqual([
      'encoder/embedding/table',
      'encoder/layer0/gru/W_x', 'encoder/layer0/gru/W_h', 'encoder/layer0/gru/b',
      'encoder/layer1/gru/W_x', 'encoder/layer1/gru/W_h', 'encoder/layer1/gru/b',
      'decoder/embedding/table',
      'decoder/layer0/gru/W_x', 'decoder/layer0/gru/W_h', 'decoder/layer0/gru/b',
      'decoder/layer1/gru/W_x', 'decoder/layer1/gru/W_h', 'decoder/layer1/gru/b',
      'head/W_hy', 'head/b_y',
    ]);
    expect(plain.variables()['decoder/layer0/gru/W_x']!.shape).toEqual([4, 18]); // no input feeding without attention
    plain.dispose();
    const additive = new Seq2Seq({ ...tiny, attention: 'additive' });
    expect(Object.keys(additive.variables()).filter((k) => k.startsWith('attention/'))).toEqual(['attention/W1', 'attention/W2', 'attention/v', 'attention/W_c']);
    additive.dispose();
  });

  it('is seeded, and setWeights round-trips through a checkpoint', () => {
    const a = new Seq2Seq({ ...tiny, seed: 3 });
    const b = new Seq2Seq({ ...tiny, seed: 3 });
    const c = new Seq2Seq({ ...tiny, seed: 4 });
    const src = ids2d(padRows(SRC));
    const ti = ids2d(tgtIn(TGT));
    const to = ids2d(tgtOut(TGT));
    const la = a.loss(src, undefined, ti, to);
    const lb = b.loss(src, undefined, ti, to);
    const lc = c.loss(src, undefined, ti, to);
    expect(la.dataSync()[0]).toBe(lb.dataSync()[0]);
    expect(lc.dataSync()[0]).not.toBe(la.dataSync()[0]);
    const saved = Object.fromEntries(Object.entries(a.variables()).map(([k, v]) => [k, v.clone()]));
    c.setWeights(saved);
    const lc2 = c.loss(src, undefined, ti, to);
    expect(lc2.dataSync()[0]).toBe(la.dataSync()[0]);
    expect(() => c.setWeights({ 'head/W_hy': saved['head/W_hy']! })).toThrow(/missing variable/);
    expect(() => c.setWeights({ 'head/b_y': tf.zeros([V + 1]) }, { partial: true })).toThrow(ShapeError);
    tf.dispose([la, lb, lc, lc2, src, ti, to, saved]);
    for (const m of [a, b, c]) m.dispose();
  });

  it('dispose frees every variable', () => {
    const before = tf.memory().numTensors;
    const m = new Seq2Seq({ ...tiny, layers: 2, attention: 'additive' });
    expect(tf.memory().numTensors).toBeGreaterThan(before);
    m.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('inputs', () => {
  it('rejects bad shapes and dtypes with expected-vs-actual messages', () => {
    const m = new Seq2Seq(tiny);
    const src = ids2d([[3, 4]]);
    const ti = ids2d([[1, 3]]);
    expect(() => m.loss(tf.tensor2d([[3, 4]]) as tf.Tensor2D, undefined, ti, ti)).toThrow('Seq2Seq.loss: expected int32 src, got float32');
    expect(() => m.loss(src, undefined, ti, ids2d([[3, 2, 2]]))).toThrow('Seq2Seq.loss: expected tgtOut of shape [1, 2] like tgtIn, got [1, 3]');
    expect(() => m.loss(src, [3], ti, ti)).toThrow('source length 0 must be an integer in [0, 2], got 3');
    expect(() => m.loss(src, tf.ones([1, 3]) as tf.Tensor2D, ti, ti)).toThrow(/expected srcMask of shape \[1, 2\]/);
    expect(() => m.beamSearch(ids2d([[3], [4]]))).toThrow(/expected one sentence/);
    expect(() => m.greedyDecode(src, undefined, { maxLen: 3 } as never)).toThrow(ConfigError);
    tf.dispose([src, ti]);
    m.dispose();
  });

  it('takes the source mask as a tensor, as lengths, or from [PAD] = 0', () => {
    const m = new Seq2Seq(tiny);
    const src = ids2d(padRows(SRC));
    const ti = ids2d(tgtIn(TGT));
    const to = ids2d(tgtOut(TGT));
    const lengths = SRC.map((r) => r.length);
    const mask = tf.tensor2d(padRows(SRC).map((r) => r.map((x) => (x ? 1 : 0))));
    const a = m.loss(src, undefined, ti, to);
    const b = m.loss(src, lengths, ti, to);
    const c = m.loss(src, mask, ti, to, tf.cast(tf.notEqual(to, 0), 'float32') as tf.Tensor2D);
    expect(b.dataSync()[0]).toBe(a.dataSync()[0]);
    expect(c.dataSync()[0]).toBe(a.dataSync()[0]);
    tf.dispose([src, ti, to, mask, a, b, c]);
    m.dispose();
  });
});

describe.each(VARIANTS)('%s', (_name, variant) => {
  const config = { ...tiny, ...variant, seed: 7 };

  it('gives a padded batch exactly the per-sentence losses of each sentence alone', () => {
    const m = new Seq2Seq(config);
    const src = ids2d(padRows(SRC));
    const ti = ids2d(tgtIn(TGT));
    const to = ids2d(tgtOut(TGT));
    const nll = m.tokenLosses(src, undefined, ti, to);
    const batch = nll.arraySync();
    SRC.forEach((s, b) => {
      const alone = m.tokenLosses(ids2d([s]), undefined, ids2d(tgtIn([TGT[b]!])), ids2d(tgtOut([TGT[b]!])));
      const row = alone.arraySync()[0]!;
      const T = TGT[b]!.length + 1;
      expectClose(tf.tensor1d(batch[b]!.slice(0, T)), tf.tensor1d(row), 1e-5, `sentence ${b}`);
      expect(batch[b]!.slice(T).every((x) => x === 0)).toBe(true); // padding costs nothing
      alone.dispose();
    });
    // The mean loss is over real tokens only.
    const loss = m.loss(src, undefined, ti, to);
    const real = TGT.reduce((n, t) => n + t.length + 1, 0);
    expect(loss.dataSync()[0]!).toBeCloseTo(batch.flat().reduce((a, x) => a + x, 0) / real, 5);
    tf.dispose([src, ti, to, nll, loss]);
    m.dispose();
  });

  it('teacher forcing equals decoding step by step with the gold tokens', () => {
    const m = new Seq2Seq(config);
    const src = ids2d(padRows(SRC));
    const ti = ids2d(tgtIn(TGT));
    const { logits, weights } = m.logits(src, undefined, ti);
    const enc = m.encode(src);
    let state = enc.state;
    const cols = tf.unstack(ti, 1) as tf.Tensor1D[];
    cols.forEach((ids, t) => {
      const r = m.decodeStep(ids, state, enc.memory);
      expectClose(r.logits, tf.squeeze(tf.slice(logits, [0, t, 0], [-1, 1, -1]), [1]), 2e-5, `logits t=${t}`);
      if (weights) expectClose(r.weights!, tf.squeeze(tf.slice(weights, [0, t, 0], [-1, 1, -1]), [1]), 2e-5, `weights t=${t}`);
      else expect(r.weights).toBeUndefined();
      tf.dispose([state, r.logits, r.weights]);
      state = r.state;
    });
    if (weights) {
      // Attention never looks at source padding, and sums to 1 over the real positions.
      const w = weights.arraySync();
      SRC.forEach((s, b) => w[b]!.forEach((row) => {
        expect(row.slice(s.length).every((x) => x === 0)).toBe(true);
        expect(row.reduce((a, x) => a + x, 0)).toBeCloseTo(1, 5);
      }));
    }
    tf.dispose([src, ti, logits, weights, enc, state, cols]);
    m.dispose();
  });

  it('leaks no tensors across loss + gradients, greedy decoding and beam search', () => {
    const m = new Seq2Seq({ ...config, dropout: 0.2 });
    const src = ids2d(padRows(SRC));
    const ti = ids2d(tgtIn(TGT));
    const to = ids2d(tgtOut(TGT));
    const vars = Object.values(m.variables());
    expectNoLeak(() => {
      const { value, grads } = tf.variableGrads(() => m.loss(src, undefined, ti, to, undefined, { training: true }), vars);
      expect(Object.keys(grads)).toHaveLength(vars.length);
      tf.dispose([value, grads]);
    });
    expectNoLeak(() => m.greedyDecode(src, undefined, { maxLength: 4 }));
    const one = ids2d([SRC[1]!]);
    expectNoLeak(() => m.beamSearch(one, { beam: 3, maxLength: 4 }));
    tf.dispose([src, ti, to, one]);
    m.dispose();
  });

  it('beam search with beam 1 is greedy decoding', () => {
    const m = new Seq2Seq(config);
    for (const s of SRC) {
      const src = ids2d([s]);
      const [greedy] = m.greedyDecode(src, undefined, { maxLength: 6 });
      const beam = m.beamSearch(src, { beam: 1, maxLength: 6 });
      expect(beam.ids).toEqual(greedy!.ids);
      expect(beam.finished).toBe(greedy!.finished);
      expect(beam.logProb).toBeCloseTo(greedy!.logProb, 5);
      expect(beam.weights).toEqual(greedy!.weights);
      if (greedy!.weights) expect(greedy!.weights.every((row) => row.length === s.length)).toBe(true);
      src.dispose();
    }
    m.dispose();
  });
});

describe('gradients', () => {
  it('match finite differences through masks, bridge, attention and input feeding', () => {
    const m = new Seq2Seq({ ...tiny, attention: 'additive', cell: 'gru', seed: 2 });
    const src = ids2d(padRows(SRC));
    const ti = ids2d(tgtIn(TGT));
    const to = ids2d(tgtOut(TGT));
    const vars = m.variables();
    const pick = ['encoder/layer0/backward/gru/W_x', 'encoder/bridge/layer0/W_h', 'decoder/layer0/gru/W_h', 'attention/W1', 'attention/v', 'attention/W_c', 'head/W_hy'];
    checkDirectional(() => m.loss(src, undefined, ti, to), Object.fromEntries(pick.map((k) => [k, vars[k]!])));
    tf.dispose([src, ti, to]);
    m.dispose();
  });
});

describe('decoding', () => {
  it('greedy decoding returns ids without [BOS]/[EOS], attention rows per output token, and stops at maxLength', () => {
    const m = new Seq2Seq({ ...tiny, seed: 1 });
    const src = ids2d(padRows(SRC));
    const out = m.greedyDecode(src, undefined, { maxLength: 5 });
    expect(out).toHaveLength(3);
    out.forEach((h, b) => {
      expect(h.ids.length).toBeLessThanOrEqual(5);
      expect(h.ids.every((id) => id !== BOS && id !== EOS && id >= 0 && id < V)).toBe(true);
      expect(h.weights).toHaveLength(h.ids.length);
      expect(h.weights!.every((row) => row.length === SRC[b]!.length)).toBe(true);
      if (!h.finished) expect(h.ids).toHaveLength(5);
      expect(h.logProb).toBeLessThan(0);
    });
    // Each sentence decodes the same alone as in the batch.
    SRC.forEach((s, b) => {
      const alone = ids2d([s]);
      const [h] = m.greedyDecode(alone, undefined, { maxLength: 5 });
      expect(h!.ids).toEqual(out[b]!.ids);
      expect(h!.logProb).toBeCloseTo(out[b]!.logProb, 4);
      alone.dispose();
    });
    src.dispose();
    m.dispose();
  });

  it('beam search ranks hypotheses by GNMT-normalised log-probability', () => {
    expect(lengthPenalty(1, 0.6)).toBe(1);
    expect(lengthPenalty(7, 0.6)).toBeCloseTo(2 ** 0.6, 12);
    expect(lengthPenalty(30, 0)).toBe(1);
    const m = new Seq2Seq({ ...tiny, srcVocab: V, tgtVocab: 5, seed: 5 }); // a small target vocabulary finishes often
    const r = m.beamSearch(tf.tensor1d([3, 4, 5], 'int32'), { beam: 4, maxLength: 6 });
    expect(r.hypotheses[0]!.ids).toEqual(r.ids);
    expect(r.score).toBe(r.hypotheses[0]!.score);
    for (let i = 1; i < r.hypotheses.length; i++) expect(r.hypotheses[i - 1]!.score).toBeGreaterThanOrEqual(r.hypotheses[i]!.score);
    for (const h of r.hypotheses) {
      const len = h.ids.length + (h.finished ? 1 : 0);
      expect(h.score).toBeCloseTo(h.logProb / lengthPenalty(len, 0.6), 10);
    }
    // α = 0 ranks by log-probability alone.
    const plain = m.beamSearch(tf.tensor1d([3, 4, 5], 'int32'), { beam: 4, maxLength: 6, lengthPenalty: 0 });
    for (const h of plain.hypotheses) expect(h.score).toBe(h.logProb);
    m.dispose();
  });
});
