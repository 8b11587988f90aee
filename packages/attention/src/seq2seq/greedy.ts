// Greedy decoding: at every step the most probable next token (ties: the lower id; [PAD] and [BOS]
// are never emitted), fed back in, until [EOS] or `maxLength` tokens (Sutskever et al. 2014 §3.1 use a beam; beam size 1 is this).
// The attention weights of each step are kept for alignment heatmaps (Bahdanau et al. 2015, fig. 3).
//
// Decoding sees a model only through `StepModel`, generic over what the decoder carries between
// steps (S) and what it attends over (M): the recurrent Seq2Seq's `DecoderState` / `EncoderMemory`
// (the defaults), or a Transformer's key/value caches (@attend/transformer). Every tensor of S and M
// has the batch (or hypothesis) axis first, so beam search can gather their rows (./beam.ts).
import * as tf from '@tensorflow/tfjs-core';
import { assertInt, configure } from '@attend/core';
import { SEQ2SEQ_SPECIALS } from './config.js';
import type { DecoderState, EncoderMemory } from './decoder.js';
import type { SourceMask } from './inputs.js';

/** An encoded batch: what `encode` returns. All tensors are the caller's. */
export type Encoded<M = EncoderMemory, S = DecoderState> = {
  /** What the decoder attends over, batch axis first. */
  memory: M;
  /** The decoder's initial state, batch axis first. */
  state: S;
  /** Per sentence: the position after its last real source token. */
  lengths: number[];
};

/** One decoder step: fresh tensors, the caller's. */
export type StepResult<S = DecoderState> = {
  /** `[B, V]` unnormalised scores of the next token. */
  logits: tf.Tensor2D;
  /** `[B, S]` attention weights over the source for this step (absent without attention). */
  weights?: tf.Tensor2D;
  /** The state after this step. */
  state: S;
};

/**
 * What decoding needs from a model. `S`: the decoder's state between steps; `M`: the encoded
 * source. Tensors in both have the batch axis first (beam search gathers rows of them).
 */
export interface StepModel<S = DecoderState, M = EncoderMemory> {
  readonly hasAttention: boolean;
  /** The most output tokens the model can decode (e.g. a Transformer's position table); absent: unbounded. */
  readonly maxOutputLength?: number;
  encode(src: tf.Tensor2D, srcMask?: SourceMask): Encoded<M, S>;
  /** `ids` `[B]` → next-token logits; neither `state` nor `memory` is disposed. */
  decodeStep(ids: tf.Tensor1D, state: S, memory: M): StepResult<S>;
  /**
   * The states of the hypotheses `parents` (row i of the result is row `parents[i]` of `state`),
   * fresh tensors; `state` stays the caller's. Absent: `gatherBatch(state, parents)`, which gathers
   * every tensor of the state along axis 0.
   */
  reorderState?(state: S, parents: readonly number[]): S;
}

/** Disposes every tensor inside a state or memory (records, arrays; numbers and nulls skipped). */
export function disposeTensors(x: unknown): void {
  tf.dispose(x as tf.TensorContainer);
}

/**
 * Rows `index` of every tensor in `tree` (gathered along axis 0, the batch axis), keeping its shape
 * of records and arrays; other leaves (numbers, strings, null) are copied. Fresh tensors, yours.
 */
export function gatherBatch<T>(tree: T, index: readonly number[] | tf.Tensor1D): T {
  return tf.tidy(() => {
    const i = index instanceof tf.Tensor ? index : tf.tensor1d(index as number[], 'int32');
    const walk = (x: unknown): unknown => {
      if (x instanceof tf.Tensor) return tf.gather(x, i); // [n, …]
      if (Array.isArray(x)) return x.map(walk);
      if (x !== null && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, walk(v)]));
      return x;
    };
    return walk(tree) as tf.TensorContainer;
  }) as T;
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
  /** Most output tokens per sentence, [EOS] excluded (default 2 × the longest source length + 10; never more than the model's `maxOutputLength`). */
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

/** `requested` (default: 2 × source length + 10), at most the model's `maxOutputLength`. */
export function outputLength(model: { readonly maxOutputLength?: number }, lengths: readonly number[], requested: number | undefined): number {
  return Math.min(requested ?? defaultMaxLength(lengths), model.maxOutputLength ?? Infinity);
}

/**
 * One decoding step read back to JS: feeds `prev` (int32 ids, one per row) with `state`, disposes
 * `state`, and returns the next state (yours), the rows' log-probabilities `[rows × V]` and the
 * attention weights (if any) as plain arrays.
 */
export function decodeLogProbs<S, M>(model: StepModel<S, M>, prev: Int32Array | number[], state: S, memory: M): { state: S; logProbs: Float32Array; weights: Float32Array | undefined } {
  const ids = tf.tensor1d(prev, 'int32');
  const r = model.decodeStep(ids, state, memory);
  ids.dispose();
  disposeTensors(state);
  const logp = tf.tidy(() => tf.logSoftmax(r.logits));
  const logProbs = logp.dataSync() as Float32Array;
  const weights = r.weights?.dataSync() as Float32Array | undefined;
  tf.dispose([logp, r.logits, r.weights]);
  return { state: r.state, logProbs, weights };
}

/** Greedy decoding of every sentence of `src` `[B, S]`. */
export function greedyDecode<S, M>(model: StepModel<S, M>, src: tf.Tensor2D, srcMask: SourceMask | undefined, options: GreedyOptions = {}): Seq2SeqHypothesis[] {
  const o = configure<GreedyOptions>('greedyDecode', DEFAULT_GREEDY_OPTIONS, [], options);
  if (o.maxLength !== undefined) assertInt('greedyDecode maxLength', o.maxLength, 0);
  const enc = model.encode(src, srcMask);
  const B = src.shape[0];
  const S = src.shape[1];
  const maxLength = outputLength(model, enc.lengths, o.maxLength);
  const out: Seq2SeqHypothesis[] = enc.lengths.map(() => ({ ids: [], weights: model.hasAttention ? [] : null, logProb: 0, finished: false }));
  const prev = new Int32Array(B).fill(SEQ2SEQ_SPECIALS.bos);
  let state = enc.state;
  try {
    for (let t = 0; t < maxLength && out.some((h) => !h.finished); t++) {
      const step = decodeLogProbs(model, prev, state, enc.memory);
      state = step.state;
      const lp = step.logProbs;
      const w = step.weights;
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
    disposeTensors(state);
    disposeTensors(enc.memory);
  }
  return out;
}
