// The position-wise feed-forward network (Vaswani et al. 2017, §3.3):
//   FFN(x) = act(x·W_1 + b_1)·W_2 + b_2,   d → d_ff → d (the paper: d_ff = 4d, ReLU; GPT-2 and
// nanoGPT: GELU, Hendrycks & Gimpel 2016, in its tanh approximation), with dropout after it.
import * as tf from '@tensorflow/tfjs-core';
import { assertChoice, assertInt, assertNumber, assignWeights, configure, countParams, hashSeed, prefixed, Rng, type SetWeightsOptions } from '@attend/core';
import { Dense } from './dense.js';

export type FeedForwardActivation = 'relu' | 'gelu';
export const FEED_FORWARD_ACTIVATIONS: readonly FeedForwardActivation[] = ['relu', 'gelu'];

/** GELU, tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) (PyTorch's `approximate='tanh'`). */
export function gelu<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => {
    const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1)) as T;
  });
}

export interface FeedForwardConfig {
  /** d: input and output size. Required. */
  dModel: number;
  /** d_ff: the inner size (default 4·d). */
  dFF?: number;
  /** `'relu'` (the paper's, default) or `'gelu'`. */
  activation: FeedForwardActivation;
  /** Dropout on the output while training (default 0). */
  dropout: number;
  /** Seed of the weights and the dropout masks (default 0). */
  seed: number;
}

export const DEFAULT_FEED_FORWARD: Omit<FeedForwardConfig, 'dModel'> = { dFF: undefined, activation: 'relu', dropout: 0, seed: 0 };

export class FeedForward {
  readonly config: Readonly<Required<FeedForwardConfig>>;
  readonly W1: Dense;
  readonly W2: Dense;
  private readonly rng: Rng;

  constructor(config: Partial<FeedForwardConfig> & { dModel: number }) {
    const c = configure<FeedForwardConfig>('FeedForward', DEFAULT_FEED_FORWARD, ['dModel'], config);
    assertInt('FeedForward.dModel', c.dModel);
    const dFF = c.dFF ?? 4 * c.dModel;
    assertInt('FeedForward.dFF', dFF);
    assertChoice('FeedForward.activation', c.activation, FEED_FORWARD_ACTIVATIONS);
    assertNumber('FeedForward.dropout', c.dropout, 0, 0.999);
    assertInt('FeedForward.seed', c.seed, 0);
    this.config = Object.freeze({ ...c, dFF });
    this.W1 = new Dense({ inputSize: c.dModel, units: dFF, seed: hashSeed(`${c.seed}/W1`) });
    this.W2 = new Dense({ inputSize: dFF, units: c.dModel, seed: hashSeed(`${c.seed}/W2`) });
    this.rng = new Rng(hashSeed(`${c.seed}/dropout`));
  }

  /** `[B, T, d]` → `[B, T, d]`. */
  apply(x: tf.Tensor3D, training = false): tf.Tensor3D {
    return tf.tidy(() => {
      const pre = this.W1.apply(x); // [B, T, d_ff]
      const h = this.config.activation === 'gelu' ? gelu(pre) : tf.relu(pre); // [B, T, d_ff]
      const y = this.W2.apply(h); // [B, T, d]
      return training && this.config.dropout > 0 ? (tf.dropout(y, this.config.dropout, undefined, this.rng.seed()) as tf.Tensor3D) : y;
    });
  }

  variables(): Record<string, tf.Variable> {
    return { ...prefixed('W1', this.W1.variables()), ...prefixed('W2', this.W2.variables()) };
  }

  setWeights(record: Record<string, tf.Tensor>, options?: SetWeightsOptions): void {
    assignWeights('FeedForward', this.variables(), record, options);
  }

  paramCount(): number {
    return countParams(this.variables());
  }

  dispose(): void {
    this.W1.dispose();
    this.W2.dispose();
  }
}
