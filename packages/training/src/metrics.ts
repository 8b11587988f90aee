// Training metrics: unit conversions of a cross-entropy in nats, and two small trackers.
//   bits per character = nats / ln 2 (the unit of char-level LM papers, e.g. Graves 2013);
//   perplexity = e^nats (per token);
//   RunningMean — the plain mean of what was added (e.g. over validation batches);
//   Ema — an exponential moving average with Adam-style bias correction (Kingma & Ba 2015, §3), so the
//         first values are not pulled towards 0; its state is plain data, saved in checkpoints.
import { assertNumber } from '@attend/core';

/** Cross-entropy in nats → bits (per character, for a character model). */
export function bitsPerChar(nats: number): number {
  return nats / Math.LN2;
}

/** Cross-entropy in nats per token → perplexity. */
export function perplexity(nats: number): number {
  return Math.exp(nats);
}

/** The mean of the values added so far (weighted, e.g. by batch size). */
export class RunningMean {
  private sum = 0;
  private weight = 0;

  add(value: number, weight = 1): this {
    this.sum += value * weight;
    this.weight += weight;
    return this;
  }

  /** NaN before anything was added. */
  get mean(): number {
    return this.weight === 0 ? NaN : this.sum / this.weight;
  }

  get count(): number {
    return this.weight;
  }

  reset(): void {
    this.sum = 0;
    this.weight = 0;
  }
}

/** The serialisable state of an `Ema`. */
export interface EmaState {
  beta: number;
  /** The biased average Σ (1-β) β^k x_{n-k}. */
  biased: number;
  /** How many values went in. */
  count: number;
}

/** Exponential moving average with bias correction: value = biased / (1 - β^count). */
export class Ema {
  readonly beta: number;
  private biased: number;
  private n: number;

  constructor(betaOrState: number | EmaState = 0.9) {
    const s = typeof betaOrState === 'number' ? { beta: betaOrState, biased: 0, count: 0 } : betaOrState;
    assertNumber('Ema beta', s.beta, 0, 1);
    this.beta = s.beta;
    this.biased = s.biased;
    this.n = s.count;
  }

  add(value: number): this {
    this.biased = this.beta * this.biased + (1 - this.beta) * value;
    this.n += 1;
    return this;
  }

  /** NaN before anything was added. */
  get value(): number {
    return this.n === 0 ? NaN : this.biased / (1 - this.beta ** this.n);
  }

  get count(): number {
    return this.n;
  }

  state(): EmaState {
    return { beta: this.beta, biased: this.biased, count: this.n };
  }
}
