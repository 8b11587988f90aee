// The position-wise feed-forward network (Vaswani et al. 2017, §3.3):
//   FFN(x) = act(x·W_1 + b_1)·W_2 + b_2,   d → d_ff → d (the paper: d_ff = 4d, ReLU; GPT-2 and
// nanoGPT: GELU, Hendrycks & Gimpel 2016, in its tanh approximation), with dropout after it.
import * as tf from '@tensorflow/tfjs-core';
import { assertBool, assertChoice, assertInt, assertNumber, assignWeights, configure, countParams, hashSeed, prefixed, Rng, runTensorflowOp, tensorflowAvailable, tfAttrs, type SetWeightsOptions } from '@attend/core';
import { Dense } from './dense.js';
import { biasGelu, biasGeluAvailable, GELU_A, GELU_C, geluKernel, geluKernelAvailable } from './gelu-kernel.js';

export type FeedForwardActivation = 'relu' | 'gelu';
export const FEED_FORWARD_ACTIVATIONS: readonly FeedForwardActivation[] = ['relu', 'gelu'];

/** q·s·(1 − s): TensorFlow's fused SigmoidGrad on tfjs-node (one op), else three tfjs ops. */
function sigmoidGrad(s: tf.Tensor, q: tf.Tensor): tf.Tensor {
  if (tensorflowAvailable()) return runTensorflowOp('SigmoidGrad', [s, q], (b) => tfAttrs(b, { type: { T: 'float32' } }), 1)[0]!;
  return tf.mul(tf.mul(s, tf.sub(1, s)), q);
}

/**
 * GELU, tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) (PyTorch's `approximate='tanh'`),
 * computed as x·σ(2u) with u = √(2/π)·(x + 0.044715·x³) — the same function, since
 * 0.5·(1 + tanh(u)) = σ(2u) — and with its derivative written out (one tape entry instead of a dozen,
 * and no `pow`, whose gradient also differentiates the exponent):
 *   d/dx = s + x·s·(1 − s)·(2c + 6c·a·x²),   s = σ(x·(2c + 2c·a·x²)),   c = √(2/π), a = 0.044715
 * Six elementwise passes forward and seven backward on tfjs-node (nine and twelve in the tanh form:
 * at [2048, 512] each pass is ~0.4 ms of memory traffic there). On cpu and wasm one SIMD kernel each
 * way, on webgpu one WGSL dispatch each way (./gelu-kernel.ts; setGeluKernel(false) keeps this composite).
 */
export function gelu<T extends tf.Tensor>(x: T): T {
  if (geluKernelAvailable(x)) return geluKernel(x); // one kernel each way: SIMD on cpu/wasm, WGSL on webgpu (./gelu-kernel.ts)
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const s = tf.sigmoid(tf.mul(input, tf.add(tf.mul(tf.square(input), 2 * GELU_C * GELU_A), 2 * GELU_C))); // σ(2u)
    save([input, s]);
    return {
      value: tf.mul(input, s),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ss] = saved as [tf.Tensor, tf.Tensor];
        const q = tf.mul(xs, tf.add(tf.mul(tf.square(xs), 6 * GELU_C * GELU_A), 2 * GELU_C)); // x·d(2u)/dx
        return tf.mul(dy, tf.add(ss, sigmoidGrad(ss, q)));
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
      const x2: tf.Tensor2D = tf.reshape(x, [B * T, d]); // [B·T, d]: 2-D, no reshape per matmul
      let h: tf.Tensor2D;
      if (this.config.activation === 'gelu' && this.W1.b && biasGeluAvailable(x2)) {
        h = biasGelu(tf.matMul(x2, this.W1.W as tf.Tensor2D), this.W1.b as tf.Tensor1D); // gelu(x·W_1 + b_1) [B·T, d_ff], the bias inside the kernel
      } else {
        const pre = this.W1.apply(x2); // [B·T, d_ff]
        h = this.config.activation === 'gelu' ? gelu(pre) : tf.relu(pre);
      }
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
