// Greedy decoding: at every step the most probable next token (ties: the lower id; [PAD] and [BOS]
// are never emitted), fed back in, until [EOS] or `maxLength` tokens (Sutskever et al. 2014 §3.1 use a beam; beam size 1 is this).
// The attention weights of each step are kept for alignment heatmaps (Bahdanau et al. 2015, fig. 3).
import * as tf from '@tensorflow/tfjs-core';
import { assertInt, configure } from '@attend/core';
import { SEQ2SEQ_SPECIALS } from './config.js';
import type { DecoderState, DecoderStepResult, EncoderMemory } from './decoder.js';
import type { SourceMask } from './inputs.js';

/** An encoded batch: what `Seq2Seq.encode` returns. All tensors are the caller's. */
export type Encoded = {
  memory: EncoderMemory;
  /** The decoder's initial state. */
  state: DecoderState;
  /** Per sentence: the position after its last real source token. */
  lengths: number[];
};

/** What decoding needs from a model. */
export interface StepModel {
  readonly hasAttention: boolean;
  encode(src: tf.Tensor2D, srcMask?: SourceMask): Encoded;
  decodeStep(ids: tf.Tensor1D, state: DecoderState, memory: EncoderMemory): DecoderStepResult;
}

/** One decoded sentence. */
export interface Seq2SeqHypothesis {
  /** The output token ids, without [BOS] and [EOS]. */
  ids: number[];
  /**
   * Attention weights, one row per output token (the row of the step that produced it), each over
   * the sentence's source positions up to its last real token: `[ids.length, S_b]`. Null without attention.
   */
  weights: number[][] | null;
  /** Σ log p of the chosen tokens, [EOS] included when it was produced. */
  logProb: number;
  /** Whether [EOS] was produced (false: stopped at maxLength). */
  finished: boolean;
}

export interface GreedyOptions {
  /** Most output tokens per sentence, [EOS] excluded (default 2 × the longest source length + 10). */
  maxLength?: number;
}

export const DEFAULT_GREEDY_OPTIONS: GreedyOptions = { maxLength: undefined };

/** The default output length bound: 2 × source length + 10. */
export function defaultMaxLength(lengths: readonly number[]): number {
  return 2 * Math.max(0, ...lengths) + 10;
}

/** Whether decoding may emit token `id`: anything but [PAD] and [BOS]. */
export function emittable(id: number): boolean {
  return id !== SEQ2SEQ_SPECIALS.pad && id !== SEQ2SEQ_SPECIALS.bos;
}

/** The offset of the best emittable entry of `row[from, to)` (ties: the lowest offset). */
export function argmax(row: ArrayLike<number>, from = 0, to = row.length): number {
  let best = -1;
  for (let i = from; i < to; i++) if (emittable(i - from) && (best < 0 || row[i]! > row[best]!)) best = i;
  return best - from;
}

/** Greedy decoding of every sentence of `src` `[B, S]`. */
export function greedyDecode(model: StepModel, src: tf.Tensor2D, srcMask: SourceMask | undefined, options: GreedyOptions = {}): Seq2SeqHypothesis[] {
  const o = configure<GreedyOptions>('greedyDecode', DEFAULT_GREEDY_OPTIONS, [], options);
  if (o.maxLength !== undefined) assertInt('greedyDecode maxLength', o.maxLength, 0);
  const enc = model.encode(src, srcMask);
  const B = src.shape[0];
  const S = src.shape[1];
  const maxLength = o.maxLength ?? defaultMaxLength(enc.lengths);
  const out: Seq2SeqHypothesis[] = enc.lengths.map(() => ({ ids: [], weights: model.hasAttention ? [] : null, logProb: 0, finished: false }));
  const prev = new Int32Array(B).fill(SEQ2SEQ_SPECIALS.bos);
  let state = enc.state;
  try {
    for (let t = 0; t < maxLength && out.some((h) => !h.finished); t++) {
      const ids = tf.tensor1d(prev, 'int32');
      const r = model.decodeStep(ids, state, enc.memory);
      ids.dispose();
      tf.dispose(state);
      state = r.state;
      const logp = tf.tidy(() => tf.logSoftmax(r.logits));
      const lp = logp.dataSync();
      const w = r.weights?.dataSync();
      tf.dispose([logp, r.logits, r.weights]);
      const V = lp.length / B;
      out.forEach((h, b) => {
        if (h.finished) return;
        const id = argmax(lp, b * V, (b + 1) * V);
        h.logProb += lp[b * V + id]!;
        prev[b] = id;
        if (id === SEQ2SEQ_SPECIALS.eos) {
          h.finished = true;
          return;
        }
        h.ids.push(id);
        if (w) h.weights!.push(Array.from(w.subarray(b * S, b * S + enc.lengths[b]!)));
      });
    }
  } finally {
    tf.dispose(state);
    tf.dispose(enc.memory);
  }
  return out;
}
