// Layer normalisation (Ba, Kiros & Hinton 2016, "Layer Normalization"): each position's features
// are normalised to mean 0 and variance 1, then scaled and shifted by learned γ and β:
//   LN(x) = γ ⊙ (x − μ) / √(σ² + ε) + β,   μ, σ² over the last axis (biased variance, as PyTorch).
// The Transformer applies it around every sub-layer (post-LN, Vaswani et al. 2017 §3.1) or before
// it (pre-LN, Xiong et al. 2020; GPT-2).
import * as tf from '@tensorflow/tfjs-core';
import { assertInt, assertNumber, assignWeights, configure, countParams, makeVariable, ShapeError, type SetWeightsOptions } from '@attend/core';

export interface LayerNormConfig {
  /** Size of the normalised (last) axis. Required. */
  dim: number;
  /** ε added to the variance (default 1e-5, PyTorch's). */
  eps: number;
}

export const DEFAULT_LAYER_NORM: Omit<LayerNormConfig, 'dim'> = { eps: 1e-5 };

export class LayerNorm {
  readonly config: Readonly<LayerNormConfig>;
  /** `[dim]`, ones. */
  readonly gamma: tf.Variable;
  /** `[dim]`, zeros. */
  readonly beta: tf.Variable;

  constructor(config: Partial<LayerNormConfig> & { dim: number }) {
    const c = configure<LayerNormConfig>('LayerNorm', DEFAULT_LAYER_NORM, ['dim'], config);
    assertInt('LayerNorm.dim', c.dim);
    assertNumber('LayerNorm.eps', c.eps, 0);
    this.config = Object.freeze({ ...c });
    this.gamma = makeVariable(new Float32Array(c.dim).fill(1), [c.dim]);
    this.beta = makeVariable(new Float32Array(c.dim), [c.dim]);
  }

  /** `[…, dim]` → `[…, dim]`. */
  apply<T extends tf.Tensor>(x: T): T {
    const D = this.config.dim;
    if (x.shape[x.rank - 1] !== D) throw new ShapeError(`LayerNorm: expected last axis ${D}, got shape [${x.shape.join(', ')}]`);
    return tf.tidy(() => {
      const mu = tf.mean(x, -1, true); // […, 1]
      const xc = tf.sub(x, mu); // […, D]
      const variance = tf.mean(tf.square(xc), -1, true); // […, 1]
      const xhat = tf.mul(xc, tf.rsqrt(tf.add(variance, this.config.eps))); // […, D]
      return tf.add(tf.mul(xhat, this.gamma), this.beta) as T;
    });
  }

  variables(): Record<string, tf.Variable> {
    return { gamma: this.gamma, beta: this.beta };
  }

  setWeights(record: Record<string, tf.Tensor>, options?: SetWeightsOptions): void {
    assignWeights('LayerNorm', this.variables(), record, options);
  }

  paramCount(): number {
    return countParams(this.variables());
  }

  dispose(): void {
    this.gamma.dispose();
    this.beta.dispose();
  }
}
