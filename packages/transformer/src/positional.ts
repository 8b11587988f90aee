// Positional information for a model with no recurrence (Vaswani et al. 2017, §3.5):
//   sinusoidal: PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)),
//     fixed, defined for any position (the paper's; "may allow the model to extrapolate");
//   learned: a trainable `[maxLength, d]` table, N(0, 0.02²) like GPT-2 / nanoGPT.
// Either is added to the token embeddings.
import * as tf from '@tensorflow/tfjs-core';
import { assertChoice, assertInt, assignWeights, ConfigError, configure, countParams, hashSeed, makeVariable, Rng, type SetWeightsOptions } from '@attend/core';

export type PositionalKind = 'sinusoidal' | 'learned';
export const POSITIONAL_KINDS: readonly PositionalKind[] = ['sinusoidal', 'learned'];

/** The paper's sinusoidal table, `[length, dim]` row-major, rows for positions `offset … offset + length − 1`. */
export function sinusoidalTable(length: number, dim: number, offset = 0): Float32Array {
  assertInt('sinusoidalTable length', length, 0);
  assertInt('sinusoidalTable dim', dim);
  assertInt('sinusoidalTable offset', offset, 0);
  const out = new Float32Array(length * dim);
  for (let p = 0; p < length; p++) {
    const pos = p + offset;
    for (let i = 0; i < dim; i += 2) {
      const angle = pos / Math.pow(10000, i / dim);
      out[p * dim + i] = Math.sin(angle);
      if (i + 1 < dim) out[p * dim + i + 1] = Math.cos(angle);
    }
  }
  return out;
}

export interface PositionalEncodingConfig {
  /** `'sinusoidal'` (default) or `'learned'`. */
  kind: PositionalKind;
  /** d: the model size. Required. */
  dim: number;
  /** The most positions a sequence may have (default 512). */
  maxLength: number;
  /** Seed of the learned table (default 0). */
  seed: number;
}

export const DEFAULT_POSITIONAL_ENCODING: Omit<PositionalEncodingConfig, 'dim'> = { kind: 'sinusoidal', maxLength: 512, seed: 0 };

export class PositionalEncoding {
  readonly config: Readonly<PositionalEncodingConfig>;
  /** The learned `[maxLength, dim]` table (`table` in `variables()`), or null for sinusoidal. */
  readonly table: tf.Variable | null;
  /** The fixed sinusoidal table `[maxLength, dim]` (not a variable), or null for learned. */
  private readonly fixed: tf.Tensor2D | null;

  constructor(config: Partial<PositionalEncodingConfig> & { dim: number }) {
    const c = configure<PositionalEncodingConfig>('PositionalEncoding', DEFAULT_POSITIONAL_ENCODING, ['dim'], config);
    assertChoice('PositionalEncoding.kind', c.kind, POSITIONAL_KINDS);
    assertInt('PositionalEncoding.dim', c.dim);
    assertInt('PositionalEncoding.maxLength', c.maxLength);
    assertInt('PositionalEncoding.seed', c.seed, 0);
    this.config = Object.freeze({ ...c });
    if (c.kind === 'learned') {
      const rng = new Rng(hashSeed(`${c.seed}/positions`));
      const values = new Float32Array(c.maxLength * c.dim);
      for (let i = 0; i < values.length; i++) values[i] = 0.02 * rng.normal();
      this.table = makeVariable(values, [c.maxLength, c.dim]);
      this.fixed = null;
    } else {
      this.table = null;
      this.fixed = tf.keep(tf.tensor2d(sinusoidalTable(c.maxLength, c.dim), [c.maxLength, c.dim]));
    }
  }

  /** The encodings of positions `offset … offset + length − 1`: `[length, dim]`. */
  positions(length: number, offset = 0): tf.Tensor2D {
    const { maxLength, dim } = this.config;
    if (offset + length > maxLength) {
      throw new ConfigError(`PositionalEncoding: position ${offset + length - 1} is past maxLength ${maxLength}; use sequences of at most ${maxLength} tokens or build the model with a larger maxLength`);
    }
    const src = (this.table ?? this.fixed) as tf.Tensor2D;
    return tf.slice(src, [offset, 0], [length, dim]); // [length, dim]
  }

  /** `x + PE`: `[B, T, d]` → `[B, T, d]`, positions starting at `offset` (for cached generation). */
  apply(x: tf.Tensor3D, offset = 0): tf.Tensor3D {
    return tf.tidy(() => tf.add(x, this.positions(x.shape[1], offset)));
  }

  variables(): Record<string, tf.Variable> {
    return this.table ? { table: this.table } : {};
  }

  setWeights(record: Record<string, tf.Tensor>, options?: SetWeightsOptions): void {
    assignWeights('PositionalEncoding', this.variables(), record, options);
  }

  paramCount(): number {
    return countParams(this.variables());
  }

  dispose(): void {
    this.table?.dispose();
    this.fixed?.dispose();
  }
}
