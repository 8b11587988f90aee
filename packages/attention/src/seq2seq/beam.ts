// Beam search for one sentence (Sutskever et al. 2014 §3.1; Wu et al. 2016, "Google's Neural
// Machine Translation System", §7 for the length penalty):
//   - keep the `beam` most probable partial translations (by Σ log p); at each step every live
//     hypothesis proposes its 2·beam best next tokens ([PAD] and [BOS] never), and the 2·beam best of all proposals are
//     walked in order: an [EOS] among the first `beam` finishes its hypothesis, the others fill
//     the next beam (ties: the earlier hypothesis, then the lower token id);
//   - stop when `beam` hypotheses have finished, or after `maxLength` tokens;
//   - rank the finished hypotheses (the live ones if none finished) by Σ log p / lp(Y), with GNMT's
//     lp(Y) = ((5 + |Y|) / 6)^α, |Y| counting [EOS] when it was produced; α = 0 ranks by Σ log p.
// With beam = 1 this is exactly greedy decoding (the test checks it).
//
// The K live hypotheses are a batch of K rows: the encoded source is repeated K times and, after
// every step, the decoder state is reordered so that row i is the state of the new beam's i-th
// hypothesis's parent — `model.reorderState` (a Transformer gathers its key/value caches), or by
// default `gatherBatch`, which gathers every tensor of the state along the batch axis (an RNN's h, c).
import * as tf from '@tensorflow/tfjs-core';
import { assertInt, assertNumber, configure, ShapeError } from '@attend/core';
import { SEQ2SEQ_SPECIALS } from './config.js';
import { decodeLogProbs, disposeTensors, emittable, gatherBatch, outputLength, type Seq2SeqHypothesis, type StepModel } from './greedy.js';

export interface BeamSearchOptions {
  /** Beam size (default 5). */
  beam?: number;
  /** Most output tokens, [EOS] excluded (default 2 × source length + 10; never more than the model's `maxOutputLength`). */
  maxLength?: number;
  /** α of GNMT's length penalty ((5 + |Y|) / 6)^α (default 0.6; 0 = none). */
  lengthPenalty?: number;
}

export const DEFAULT_BEAM_SEARCH_OPTIONS: BeamSearchOptions = { beam: 5, maxLength: undefined, lengthPenalty: 0.6 };

/** A beam-search hypothesis: a decoded sentence and its length-normalised score. */
export interface ScoredHypothesis extends Seq2SeqHypothesis {
  /** logProb / lp(|Y|): what the hypotheses are ranked by. */
  score: number;
}

/** The best hypothesis (its fields at the top level) and all candidates, best first. */
export interface BeamSearchResult extends ScoredHypothesis {
  /** The finished hypotheses (the live ones if none finished), best first; `[0]` is the result itself. */
  hypotheses: ScoredHypothesis[];
}

/** GNMT's length penalty ((5 + length) / 6)^α. */
export function lengthPenalty(length: number, alpha: number): number {
  return ((5 + length) / 6) ** alpha;
}

type Live = { ids: number[]; weights: number[][] | null; logProb: number };

/** The `k` best emittable entries of `row[from, to)` as offsets, best first (ties: the lower offset). */
function topK(row: ArrayLike<number>, from: number, to: number, k: number): number[] {
  const best: number[] = [];
  for (let i = from; i < to; i++) {
    if (!emittable(i - from)) continue;
    const v = row[i]!;
    if (best.length === k && !(v > row[from + best[k - 1]!]!)) continue;
    let j = best.length === k ? k - 1 : best.length;
    while (j > 0 && v > row[from + best[j - 1]!]!) j--;
    best.splice(j, 0, i - from);
    if (best.length > k) best.pop();
  }
  return best;
}

/** Beam search over `src`: one sentence, `[1, S]` or `[S]` int32 (padding = id 0 is masked). */
export function beamSearch<S, M>(model: StepModel<S, M>, src: tf.Tensor, options: BeamSearchOptions = {}): BeamSearchResult {
  const o = configure<Required<BeamSearchOptions>>('beamSearch', DEFAULT_BEAM_SEARCH_OPTIONS, [], options);
  assertInt('beamSearch beam', o.beam);
  if (o.maxLength !== undefined) assertInt('beamSearch maxLength', o.maxLength, 0);
  assertNumber('beamSearch lengthPenalty', o.lengthPenalty, 0);
  if (!(src instanceof tf.Tensor) || !(src.rank === 1 || (src.rank === 2 && src.shape[0] === 1))) {
    throw new ShapeError(
      `beamSearch: expected one sentence, src of shape [S] or [1, S], got ${src instanceof tf.Tensor ? `[${src.shape.join(', ')}]` : typeof src}; decode a batch with greedyDecode, or one sentence at a time`,
    );
  }
  const K = o.beam;
  const { eos, bos } = SEQ2SEQ_SPECIALS;
  const src2d = src.rank === 1 ? (tf.expandDims(src, 0) as tf.Tensor2D) : (src as tf.Tensor2D);
  const enc = (() => {
    try {
      return model.encode(src2d);
    } finally {
      if (src2d !== src) src2d.dispose();
    }
  })();
  const S = src2d.shape[1];
  const length = enc.lengths[0]!;
  const maxLength = outputLength(model, enc.lengths, o.maxLength);
  // The sentence's memory repeated for n hypotheses (row 0, n times), made once per n.
  const memories = new Map<number, M>([[1, enc.memory]]);
  const memoryFor = (n: number): M => {
    let m = memories.get(n);
    if (!m) {
      m = gatherBatch(enc.memory, new Array<number>(n).fill(0));
      memories.set(n, m);
    }
    return m;
  };
  const reorder = (state: S, parents: number[]): S => (model.reorderState ? model.reorderState(state, parents) : gatherBatch(state, parents));
  let live: Live[] = [{ ids: [], weights: model.hasAttention ? [] : null, logProb: 0 }];
  const finished: ScoredHypothesis[] = [];
  let state: S | null = enc.state;
  try {
    for (let t = 0; t < maxLength; t++) {
      const n = live.length;
      const step = decodeLogProbs(model, live.map((h) => h.ids[h.ids.length - 1] ?? bos), state!, memoryFor(n));
      state = step.state;
      const lp = step.logProbs;
      const w = step.weights;
      const V = lp.length / n;
      const candidates: { i: number; token: number; logProb: number }[] = [];
      live.forEach((h, i) => {
        for (const token of topK(lp, i * V, (i + 1) * V, Math.min(2 * K, V - 2))) candidates.push({ i, token, logProb: h.logProb + lp[i * V + token]! });
      });
      candidates.sort((a, b) => b.logProb - a.logProb || a.i - b.i || a.token - b.token);
      const next: Live[] = [];
      const parents: number[] = [];
      for (let j = 0; j < candidates.length && (next.length < K || j < K); j++) {
        const { i, token, logProb } = candidates[j]!;
        const parent = live[i]!;
        if (token === eos) {
          if (j < K) finished.push({ ids: parent.ids, weights: parent.weights, logProb, finished: true, score: logProb / lengthPenalty(parent.ids.length + 1, o.lengthPenalty) });
        } else if (next.length < K) {
          const row = w ? Array.from(w.subarray(i * S, i * S + length)) : null;
          next.push({ ids: [...parent.ids, token], weights: parent.weights && [...parent.weights, row!], logProb });
          parents.push(i);
        }
      }
      if (finished.length >= K || next.length === 0) {
        live = [];
        break;
      }
      const reordered = reorder(state!, parents);
      disposeTensors(state);
      state = reordered;
      live = next;
    }
  } finally {
    if (state) disposeTensors(state);
    for (const m of memories.values()) disposeTensors(m);
  }
  const pool: ScoredHypothesis[] =
    finished.length > 0 ? finished : live.map((h) => ({ ...h, finished: false, score: h.logProb / lengthPenalty(h.ids.length, o.lengthPenalty) }));
  const hypotheses = pool.map((h, k) => ({ h, k })).sort((a, b) => b.h.score - a.h.score || a.k - b.k).map(({ h }) => h);
  return { ...hypotheses[0]!, hypotheses };
}
