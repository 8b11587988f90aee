// Sampling the next token from logits: temperature scaling, top-k filtering (Fan et al. 2018,
// "Hierarchical neural story generation"), nucleus / top-p filtering (Holtzman et al. 2020, "The
// curious case of neural text degeneration"), then one categorical draw made here in plain JS with
// a seeded `Rng`, so a seed gives the same tokens on every backend (given the same logits).
// Order, as in Hugging Face's generate: temperature, then top-k, then top-p.
import { ConfigError, Rng, assertInt, assertNumber } from '@attend/core';

export interface SamplingOptions {
  /** Divides the logits; 0 means greedy (argmax). Default 1. */
  temperature?: number;
  /** Keep only the k most probable tokens (default: all). */
  topK?: number;
  /** Keep the smallest set of most probable tokens whose probability sums to ≥ p, in (0, 1] (default: all). */
  topP?: number;
  /** Token ids never to draw, e.g. the specials [PAD] [BOS] [UNK] of a character model (default: none). */
  exclude?: readonly number[];
}

/** Checks sampling options, naming the bad one. */
export function checkSamplingOptions(what: string, options: SamplingOptions): void {
  const { temperature = 1, topK, topP, exclude, ...rest } = options;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw new ConfigError(`${what}: unknown option "${unknown[0]}"; known options are temperature, topK, topP, exclude`);
  if (exclude !== undefined && (!Array.isArray(exclude) || !exclude.every((i) => Number.isInteger(i) && i >= 0))) {
    throw new ConfigError(`${what} exclude: expected a list of token ids, got ${JSON.stringify(exclude)}`);
  }
  assertNumber(`${what} temperature`, temperature, 0);
  if (topK !== undefined) assertInt(`${what} topK`, topK);
  if (topP !== undefined) {
    assertNumber(`${what} topP`, topP, 0, 1);
    if (topP === 0) throw new ConfigError(`${what} topP: expected a number in (0, 1], got 0`);
  }
}

/**
 * The distribution a draw is made from: softmax(logits / temperature), restricted to the top-k and
 * then to the top-p nucleus, renormalised. Ties are broken towards the lower token id.
 */
export function samplingDistribution(logitsIn: ArrayLike<number>, options: SamplingOptions = {}): Float64Array {
  checkSamplingOptions('samplingDistribution', options);
  const { temperature = 1, topK, topP, exclude } = options;
  const V = logitsIn.length;
  if (V === 0) throw new ConfigError('samplingDistribution: expected at least one logit');
  let logits = logitsIn;
  if (exclude && exclude.length > 0) {
    const masked = Float64Array.from(logitsIn);
    for (const i of exclude) if (i < V) masked[i] = -Infinity;
    if (masked.every((x) => x === -Infinity)) throw new ConfigError(`samplingDistribution exclude: every one of the ${V} tokens is excluded`);
    logits = masked;
  }
  const p = new Float64Array(V);
  if (temperature === 0) {
    let best = 0;
    while (best < V - 1 && logits[best] === -Infinity) best++; // the first token not excluded
    for (let i = 1; i < V; i++) if (logits[i]! > logits[best]!) best = i;
    p[best] = 1;
    return p;
  }
  let max = -Infinity;
  for (let i = 0; i < V; i++) max = Math.max(max, logits[i]! / temperature);
  let sum = 0;
  for (let i = 0; i < V; i++) sum += p[i] = Math.exp(logits[i]! / temperature - max);
  for (let i = 0; i < V; i++) p[i]! /= sum;
  if ((topK === undefined || topK >= V) && (topP === undefined || topP >= 1)) return p;
  // Most probable first; ties towards the lower id.
  const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => p[b]! - p[a]! || a - b);
  let keep = topK === undefined ? V : Math.min(topK, V);
  if (topP !== undefined && topP < 1) {
    let kept = 0;
    for (let j = 0; j < keep; j++) kept += p[order[j]!]!;
    let cum = 0;
    for (let j = 0; j < keep; j++) {
      cum += p[order[j]!]! / kept; // renormalised after top-k
      if (cum >= topP) {
        keep = j + 1;
        break;
      }
    }
  }
  const out = new Float64Array(V);
  let total = 0;
  for (let j = 0; j < keep; j++) total += out[order[j]!] = p[order[j]!]!;
  for (let j = 0; j < keep; j++) out[order[j]!]! /= total;
  return out;
}

/** One categorical draw from `probs` (need not be normalised) with `rng`: inverse CDF in id order. */
export function sampleIndex(probs: ArrayLike<number>, rng: Rng): number {
  let total = 0;
  for (let i = 0; i < probs.length; i++) total += probs[i]!;
  if (!(total > 0)) throw new ConfigError('sampleIndex: the probabilities sum to zero');
  const u = rng.next() * total;
  let cum = 0;
  let last = -1;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i]! <= 0) continue;
    cum += probs[i]!;
    last = i;
    if (u < cum) return i;
  }
  return last; // rounding: u landed past the final partial sum
}

/** `sampleIndex(samplingDistribution(logits, options), rng)`. */
export function sampleToken(logits: ArrayLike<number>, rng: Rng, options: SamplingOptions = {}): number {
  return sampleIndex(samplingDistribution(logits, options), rng);
}
