// The position-wise feed-forward network (Vaswani et al. 2017, §3.3):
//   FFN(x) = act(x·W_1 + b_1)·W_2 + b_2,   d → d_ff → d (the paper: d_ff = 4d, ReLU; GPT-2 and
// nanoGPT: GELU, Hendrycks & Gimpel 2016, in its tanh approximation), with dropout after it.
import * as tf from '@tensorflow/tfjs-core';
import { assertBool, assertChoice, assertInt, assertNumber, assignWeights, configure, countParams, hashSeed, prefixed, Rng, type SetWeightsOptions } from '@attend/core';
import { Dense } from './dense.js';
import { geluKernel, geluKernelAvailable } from './gelu-kernel.js';

export type FeedForwardActivation = 'relu' | 'gelu';
export const FEED_FORWARD_ACTIVATIONS: readonly FeedForwardActivation[] = ['relu', 'gelu'];

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

/**
 * GELU, tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) (PyTorch's `approximate='tanh'`),
 * with its derivative written out (one tape entry instead of a dozen, and no `pow`, whose gradient
 * also differentiates the exponent); on cpu and wasm one SIMD kernel each way (./gelu-kernel.ts):
 *   d/dx = 0.5·(1 + t) + 0.5·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²),   t = tanh(…)
 */
export function gelu<T extends tf.Tensor>(x: T): T {
  if (geluKernelAvailable(x)) return geluKernel(x); // one SIMD kernel each way (./gelu-kernel.ts)
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const x2 = tf.mul(input, input);
    const t = tf.tanh(tf.mul(tf.mul(input, tf.add(tf.mul(x2, GELU_A), 1)), GELU_C)); // tanh(c·(x + a·x³))
    save([input, t]);
    return {
      value: tf.mul(tf.mul(input, 0.5), tf.add(t, 1)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ts] = saved as [tf.Tensor, tf.Tensor];
        const dInner = tf.mul(tf.mul(tf.sub(1, tf.mul(ts, ts)), GELU_C), tf.add(tf.mul(tf.mul(xs, xs), 3 * GELU_A), 1)); // (1 − t²)·c·(1 + 3a·x²)
        return tf.mul(dy, tf.mul(tf.add(tf.add(ts, 1), tf.mul(xs, dInner)), 0.5));
      },
    };
  });
  return f(x) as T;
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
  /** Whether W_1 and W_2 have biases (default true). */
  bias: boolean;
  /** Seed of the weights and the dropout masks (default 0). */
  seed: number;
}

export const DEFAULT_FEED_FORWARD: Omit<FeedForwardConfig, 'dModel'> = { dFF: undefined, activation: 'relu', dropout: 0, bias: true, seed: 0 };

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
    assertBool('FeedForward.bias', c.bias);
    this.W1 = new Dense({ inputSize: c.dModel, units: dFF, bias: c.bias, seed: hashSeed(`${c.seed}/W1`) });
    this.W2 = new Dense({ inputSize: dFF, units: c.dModel, bias: c.bias, seed: hashSeed(`${c.seed}/W2`) });
    this.rng = new Rng(hashSeed(`${c.seed}/dropout`));
  }

  /** `[B, T, d]` → `[B, T, d]`. */
  apply(x: tf.Tensor3D, training = false): tf.Tensor3D {
    return tf.tidy(() => {
      const [B, T, d] = x.shape;
      const pre = this.W1.apply(tf.reshape(x, [B * T, d])); // [B·T, d_ff]: 2-D, no reshape per matmul
      const h = this.config.activation === 'gelu' ? gelu(pre) : tf.relu(pre); // [B·T, d_ff]
      const y = tf.reshape(this.W2.apply(h), [B, T, d]) as tf.Tensor3D; // [B, T, d]
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
