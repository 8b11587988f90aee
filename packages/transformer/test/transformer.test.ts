// The encoder–decoder Transformer (src/transformer.ts): config and variable names, shapes, padding
// invariance (a padded batch gives each sentence its logits and loss alone), cached greedy decoding
// = uncached argmax decoding over the whole prefix, the step weights = the teacher-forced cross-
// attention, beam 1 = greedy and beam scores = teacher-forced log-probabilities (the key/value caches
// reordered correctly), a tiny model overfitting a handful of pairs, and no leaked tensors.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '@attend/core';
import { selectBackend } from '@attend/core/node';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TRANSFORMER, Transformer, type TransformerConfig, type TransformerLossOptions } from '../src/index.js';

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
});

const V = 11;
const PAD = 0;
const BOS = 1;
const EOS = 2;
const tiny: Partial<TransformerConfig> & { srcVocab: number; tgtVocab: number } = {
  srcVocab: V,
  tgtVocab: V,
  dModel: 16,
  heads: 2,
  encoderLayers: 2,
  decoderLayers: 2,
  dFF: 32,
  dropout: 0,
  maxLength: 32,
  seed: 1,
};

const ids2d = (rows: number[][]) => tf.tensor2d(rows, [rows.length, rows[0]!.length], 'int32');
const padRows = (rows: number[][], T = Math.max(...rows.map((r) => r.length))) => rows.map((r) => [...r, ...Array<number>(T - r.length).fill(PAD)]);
const tgtIn = (t: number[][]) => padRows(t.map((r) => [BOS, ...r]));
const tgtOut = (t: number[][]) => padRows(t.map((r) => [...r, EOS]));

const SRC = [[5, 6, 7], [3, 4, 5, 6, 8], [7, 4]];
const TGT = [[8, 3, 4], [5], [6, 6, 9, 10]];

/** Max |a − b| over two equally shaped arrays. */
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
};

/** Runs `fn` twice and checks the second run leaves no tensor behind. */
function expectNoLeak(fn: () => unknown): void {
  const dispose = (r: unknown) => tf.dispose(r as tf.TensorContainer);
  dispose(fn()); // warm-up (kernels may cache constants)
  const before = tf.memory().numTensors;
  dispose(fn());
  expect(tf.memory().numTensors).toBe(before);
}

/** The reference decoder: the whole prefix re-run every step, argmax of the last position ([PAD], [BOS] never; ties: lower id). */
function uncachedGreedy(m: Transformer, src: number[], maxLength: number): number[] {
  const out: number[] = [];
  for (let t = 0; t < maxLength; t++) {
    const row = tf.tidy(() => tf.slice(m.logits(ids2d([src]), ids2d([[BOS, ...out]])), [0, t, 0], [1, 1, V]).dataSync());
    let best = -1;
    for (let v = 0; v < V; v++) if (v !== PAD && v !== BOS && (best < 0 || row[v]! > row[best]!)) best = v;
    if (best === EOS) break;
    out.push(best);
  }
  return out;
}

/** Σ log p(ids, [EOS]) by teacher forcing (stops before [EOS] when `finished` is false). */
function teacherForcedLogProb(m: Transformer, src: number[], ids: number[], finished: boolean): number {
  return tf.tidy(() => {
    const logp = tf.logSoftmax(m.logits(ids2d([src]), ids2d([[BOS, ...ids]]))).arraySync() as number[][][];
    const targets = finished ? [...ids, EOS] : ids;
    return targets.reduce((s, y, t) => s + logp[0]![t]![y]!, 0);
  });
}

describe('config', () => {
  it('has the paper-like defaults and rejects unknown or inconsistent options', () => {
    expect(DEFAULT_TRANSFORMER).toMatchObject({ dModel: 256, heads: 4, encoderLayers: 3, decoderLayers: 3, dropout: 0.1, norm: 'post', positional: 'sinusoidal' });
    const m = new Transformer({ srcVocab: 7, tgtVocab: 5, dModel: 8, heads: 2, encoderLayers: 1, decoderLayers: 1 });
    expect(m.config).toMatchObject({ srcVocab: 7, tgtVocab: 5, dModel: 8, norm: 'post', maxLength: 256 });
    expect(Object.isFrozen(m.config)).toBe(true);
    expect(JSON.parse(JSON.stringify(m.config))).toMatchObject({ dModel: 8, heads: 2 });
    m.dispose();
    expect(() => new Transformer({ ...tiny, layers: 2 } as never)).toThrow(/unknown option "layers"/);
    expect(() => new Transformer({ ...tiny, heads: 3 })).toThrow(ConfigError);
    expect(() => new Transformer({ ...tiny, tgtVocab: 2 })).toThrow(/tgtVocab/);
    expect(() => new Transformer({ ...tiny, positional: 'rotary' as never })).toThrow(/positional/);
  });

  it('names its variables stably and reloads them with setWeights', () => {
    const a = new Transformer({ ...tiny, positional: 'learned' });
    const names = Object.keys(a.variables());
    for (const n of ['encoder/embedding/table', 'decoder/embedding/table', 'encoder/positions/table', 'decoder/positions/table', 'encoder/layer1/self/q/W', 'decoder/layer0/cross/k/W', 'decoder/layer1/ff/W1/W', 'head/W']) {
      expect(names).toContain(n);
    }
    expect(a.variables()['head/W']!.shape).toEqual([16, V]);
    const b = new Transformer({ ...tiny, positional: 'learned', seed: 9 });
    const src = ids2d(padRows(SRC));
    const ti = ids2d(tgtIn(TGT));
    const la = a.logits(src, ti);
    const lb0 = b.logits(src, ti);
    expect(maxDiff(la.dataSync(), lb0.dataSync())).toBeGreaterThan(1e-3);
    b.setWeights(a.variables());
    const lb = b.logits(src, ti);
    expect(maxDiff(la.dataSync(), lb.dataSync())).toBe(0);
    expect(a.paramCount()).toBe(b.paramCount());
    tf.dispose([src, ti, la, lb0, lb]);
    a.dispose();
    b.dispose();
  });
});

describe('shapes', () => {
  it('logits, encode, decodeStep, attentionWeights', () => {
    const m = new Transformer(tiny);
    const src = ids2d(padRows(SRC)); // [3, 5]
    const ti = ids2d(tgtIn(TGT)); // [3, 5]
    const logits = m.logits(src, ti);
    expect(logits.shape).toEqual([3, 5, V]);
    const enc = m.encode(src);
    expect(enc.lengths).toEqual([3, 5, 2]);
    expect(enc.memory.kv.length).toBe(2);
    expect(enc.memory.kv[0]!.k.shape).toEqual([3, 2, 5, 8]); // [B, h, S, d_k]
    expect(enc.memory.mask.shape).toEqual([3, 5]);
    expect(enc.state.self[1]!.v.shape).toEqual([3, 2, 0, 8]);
    const ids = tf.tensor1d([BOS, BOS, BOS], 'int32');
    const r = m.decodeStep(ids, enc.state, enc.memory);
    expect(r.logits.shape).toEqual([3, V]);
    expect(r.weights!.shape).toEqual([3, 5]);
    expect(r.state.self[0]!.k.shape).toEqual([3, 2, 1, 8]);
    // Each row sums to 1 over the real source positions; padding gets 0.
    const w = r.weights!.arraySync();
    w.forEach((row, b) => {
      expect(row.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 5);
      row.slice(SRC[b]!.length).forEach((x) => expect(x).toBe(0));
    });
    const att = m.attentionWeights(src, ti);
    expect(att.encoder.map((t) => t.shape)).toEqual([[3, 2, 5, 5], [3, 2, 5, 5]]);
    expect(att.decoder.map((t) => t.shape)).toEqual([[3, 2, 5, 5], [3, 2, 5, 5]]);
    expect(att.cross.map((t) => t.shape)).toEqual([[3, 2, 5, 5], [3, 2, 5, 5]]);
    expect(() => m.decodeStep(tf.tensor1d([BOS], 'int32'), enc.state, enc.memory)).toThrow(/expected 3 ids/);
    expect(() => m.logits(tf.tensor2d([[1, 2]]), ti)).toThrow(ShapeError);
    expect(() => m.loss(src, ti, ids2d([[2, 2]]))).toThrow(/expected tgtOut of shape \[3, 5\]/);
    tf.dispose([src, ti, logits, enc, ids, r, att]);
    m.dispose();
  });
});

describe('padding', () => {
  for (const norm of ['post', 'pre'] as const) {
    it(`never changes a sentence's logits at real positions or its loss (${norm}-LN)`, () => {
      const m = new Transformer({ ...tiny, norm });
      // The batch is padded further than needed (2 extra source columns, 1 extra target column).
      const S = 7;
      const T = 6;
      const src = ids2d(padRows(SRC, S));
      const ti = ids2d(padRows(tgtIn(TGT), T));
      const to = ids2d(padRows(tgtOut(TGT), T));
      const batched = m.logits(src, ti).arraySync();
      SRC.forEach((s, b) => {
        const alone = tf.tidy(() => m.logits(ids2d([s]), ids2d(tgtIn([TGT[b]!]))).arraySync());
        for (let t = 0; t <= TGT[b]!.length; t++) expect(maxDiff(batched[b]![t]!, alone[0]![t]!)).toBeLessThan(1e-5);
        // The batch's loss restricted to sentence b (a target mask of its row) = its loss alone.
        const rowMask = tf.tidy(() => tf.mul(tf.cast(tf.notEqual(to, PAD), 'float32'), tf.reshape(tf.oneHot([b], 3), [3, 1])) as tf.Tensor2D);
        const inBatch = tf.tidy(() => m.loss(src, ti, to, { tgtMask: rowMask }, { labelSmoothing: 0.1 }).dataSync()[0]!);
        const single = tf.tidy(() => m.loss(ids2d([s]), ids2d(tgtIn([TGT[b]!])), ids2d(tgtOut([TGT[b]!])), {}, { labelSmoothing: 0.1 }).dataSync()[0]!);
        expect(inBatch).toBeCloseTo(single, 5);
        rowMask.dispose();
      });
      // Source lengths as numbers are the same mask as the ids.
      const byLengths = tf.tidy(() => m.logits(src, ti, { srcMask: SRC.map((s) => s.length) }).arraySync());
      expect(maxDiff(byLengths.flat(2), batched.flat(2))).toBe(0);
      tf.dispose([src, ti, to]);
      m.dispose();
    });
  }

  it('label smoothing raises the loss of a confident model; dropout only acts while training', () => {
    const m = new Transformer({ ...tiny, dropout: 0.3 });
    const src = ids2d(padRows(SRC));
    const ti = ids2d(tgtIn(TGT));
    const to = ids2d(tgtOut(TGT));
    const value = (o: TransformerLossOptions) => tf.tidy(() => m.loss(src, ti, to, {}, o).dataSync()[0]!);
    expect(value({})).toBe(value({ training: false }));
    expect(value({ training: true })).not.toBe(value({}));
    expect(value({ labelSmoothing: 0.1 })).not.toBe(value({}));
    expect(() => value({ smoothing: 0.1 } as never)).toThrow(/unknown option "smoothing"/);
    tf.dispose([src, ti, to]);
    m.dispose();
  });
});

describe('decoding', () => {
  it('cached greedy decoding equals uncached argmax decoding, with the teacher-forced cross-attention', () => {
    for (const norm of ['post', 'pre'] as const) {
      const m = new Transformer({ ...tiny, norm, seed: norm === 'post' ? 4 : 5 });
      const src = ids2d(padRows(SRC));
      const hyps = m.greedyDecode(src, undefined, { maxLength: 6 });
      expect(hyps.some((h) => h.ids.length > 0)).toBe(true);
      hyps.forEach((h, b) => {
        expect(h.ids).toEqual(uncachedGreedy(m, SRC[b]!, 6));
        expect(h.logProb).toBeCloseTo(teacherForcedLogProb(m, SRC[b]!, h.ids, h.finished), 4);
        // decodeStep's weights (last layer, mean of heads) are the teacher-forced pass's.
        const cross = tf.tidy(() => tf.mean(m.attentionWeights(ids2d([SRC[b]!]), ids2d([[BOS, ...h.ids]])).cross[1]!, 1).arraySync() as number[][][]);
        h.weights!.forEach((row, i) => {
          expect(row.length).toBe(SRC[b]!.length);
          expect(maxDiff(row, cross[0]![i]!)).toBeLessThan(1e-5);
        });
      });
      src.dispose();
      m.dispose();
    }
  });

  it('beam 1 is greedy; wider beams score every hypothesis as teacher forcing does', () => {
    const m = new Transformer({ ...tiny, seed: 6 });
    for (const s of SRC) {
      const src = ids2d([s]);
      const [greedy] = m.greedyDecode(src, undefined, { maxLength: 6 });
      const beam = m.beamSearch(src, { beam: 1, maxLength: 6 });
      expect(beam.ids).toEqual(greedy!.ids);
      expect(beam.logProb).toBeCloseTo(greedy!.logProb, 5);
      expect(beam.weights).toEqual(greedy!.weights);
      // Beams of 4: each hypothesis's Σ log p must be its own (the caches gathered by parent).
      const wide = m.beamSearch(src, { beam: 4, maxLength: 6, lengthPenalty: 0 });
      expect(wide.hypotheses.length).toBeGreaterThan(1);
      for (const h of wide.hypotheses) expect(h.logProb).toBeCloseTo(teacherForcedLogProb(m, s, h.ids, h.finished), 4);
      src.dispose();
    }
    m.dispose();
  });

  it('never decodes past the model positions', () => {
    const m = new Transformer({ ...tiny, maxLength: 4, seed: 7 });
    const src = ids2d([[3, 4]]);
    const [h] = m.greedyDecode(src);
    expect(h!.ids.length).toBeLessThanOrEqual(4);
    expect(m.beamSearch(src, { beam: 2 }).ids.length).toBeLessThanOrEqual(4);
    src.dispose();
    m.dispose();
  });

  it('leaks no tensors: loss and gradients, greedy, beam search, attention weights', () => {
    const m = new Transformer({ ...tiny, dropout: 0.1 });
    const src = ids2d(padRows(SRC));
    const ti = ids2d(tgtIn(TGT));
    const to = ids2d(tgtOut(TGT));
    const vars = Object.values(m.variables());
    expectNoLeak(() => tf.variableGrads(() => m.loss(src, ti, to, {}, { training: true, labelSmoothing: 0.1 }), vars));
    expectNoLeak(() => m.greedyDecode(src, undefined, { maxLength: 4 }));
    const one = ids2d([SRC[1]!]);
    expectNoLeak(() => m.beamSearch(one, { beam: 3, maxLength: 4 }));
    expectNoLeak(() => m.attentionWeights(src, ti));
    tf.dispose([src, ti, to, one]);
    const before = tf.memory().numTensors;
    m.dispose();
    expect(tf.memory().numTensors).toBeLessThan(before);
  });
});

describe('training', () => {
  it('a tiny Transformer overfits a handful of pairs (loss < 0.1) and greedy-decodes them exactly', () => {
    // Reverse the source, and add 1 to every token: needs attention over positions.
    const src = [[3, 4, 5], [6, 7, 8, 9], [5, 3], [9, 8, 4, 6, 3], [7, 7, 4], [4, 9, 6, 5]];
    const tgt = src.map((s) => [...s].reverse().map((x) => (x === 9 ? 3 : x + 1)));
    const m = new Transformer({ srcVocab: V, tgtVocab: V, dModel: 32, heads: 4, encoderLayers: 1, decoderLayers: 1, dFF: 64, dropout: 0, maxLength: 16, seed: 3 });
    const s = ids2d(padRows(src));
    const ti = ids2d(tgtIn(tgt));
    const to = ids2d(tgtOut(tgt));
    const vars = Object.values(m.variables());
    const opt = tf.train.adam(0.01);
    let loss = Infinity;
    for (let step = 0; step < 300 && loss >= 0.05; step++) {
      const l = opt.minimize(() => m.loss(s, ti, to, {}, { training: true }), true, vars)!;
      loss = l.dataSync()[0]!;
      l.dispose();
    }
    expect(loss).toBeLessThan(0.1);
    expect(m.greedyDecode(s).map((h) => h.ids)).toEqual(tgt);
    const one = ids2d([src[3]!]);
    expect(m.beamSearch(one, { beam: 3 }).ids).toEqual(tgt[3]);
    opt.dispose();
    tf.dispose([s, ti, to, one]);
    m.dispose();
  }, 60_000);
});
