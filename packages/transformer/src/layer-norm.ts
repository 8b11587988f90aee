// Layer normalisation (Ba, Kiros & Hinton 2016, "Layer Normalization"): each position's features
// are normalised to mean 0 and variance 1, then scaled and shifted by learned γ and β:
//   LN(x) = γ ⊙ (x − μ) / √(σ² + ε) + β,   μ, σ² over the last axis (biased variance, as PyTorch).
// The Transformer applies it around every sub-layer (post-LN, Vaswani et al. 2017 §3.1) or before
// it (pre-LN, Xiong et al. 2020; GPT-2).
import * as tf from '@tensorflow/tfjs-core';
import { layerNormKernel, layerNormKernelAvailable } from './layer-norm-kernel.js';
import { assertBool, assertInt, assertNumber, assignWeights, configure, countParams, makeVariable, ShapeError, type SetWeightsOptions } from '@attend/core';

export interface LayerNormConfig {
  /** Size of the normalised (last) axis. Required. */
  dim: number;
  /** ε added to the variance (default 1e-5, PyTorch's). */
  eps: number;
  /** Whether there is a shift β (default true; nanoGPT's default model has none). */
  bias: boolean;
}

export const DEFAULT_LAYER_NORM: Omit<LayerNormConfig, 'dim'> = { eps: 1e-5, bias: true };

export class LayerNorm {
  readonly config: Readonly<LayerNormConfig>;
  /** `[dim]`, ones. */
  readonly gamma: tf.Variable;
  /** `[dim]`, zeros; null without bias. */
  readonly beta: tf.Variable | null;

  constructor(config: Partial<LayerNormConfig> & { dim: number }) {
    const c = configure<LayerNormConfig>('LayerNorm', DEFAULT_LAYER_NORM, ['dim'], config);
    assertInt('LayerNorm.dim', c.dim);
    assertNumber('LayerNorm.eps', c.eps, 0);
    assertBool('LayerNorm.bias', c.bias);
    this.config = Object.freeze({ ...c });
    this.gamma = makeVariable(new Float32Array(c.dim).fill(1), [c.dim]);
    this.beta = c.bias ? makeVariable(new Float32Array(c.dim), [c.dim]) : null;
  }

  /**
   * `[…, dim]` → `[…, dim]`. The backward pass is written out (one tape entry; autodiff of the nine
   * forward ops records twice as many; on cpu and wasm one SIMD kernel each way, ./layer-norm-kernel.ts):
   * with x̂ the normalised input and g = dy ⊙ γ,
   *   dx = (g − mean(g) − x̂ ⊙ mean(g ⊙ x̂)) / √(σ² + ε),   dγ = Σ dy ⊙ x̂,   dβ = Σ dy.
   */
  apply<T extends tf.Tensor>(x: T): T {
    const D = this.config.dim;
    if (x.shape[x.rank - 1] !== D) throw new ShapeError(`LayerNorm: expected last axis ${D}, got shape [${x.shape.join(', ')}]`);
    const eps = this.config.eps;
    if (layerNormKernelAvailable(x)) return layerNormKernel(x, this.gamma, this.beta, eps); // one SIMD kernel each way (./layer-norm-kernel.ts)
    const withBias = this.beta !== null;
    const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [input, gamma] = args as [tf.Tensor, tf.Tensor];
      const beta = withBias ? (args[2] as tf.Tensor) : null;
      const save = args[args.length - 1] as tf.GradSaveFunc;
      const mu = tf.mean(input, -1, true); // […, 1]
      const xc = tf.sub(input, mu); // […, D]
      const rstd = tf.rsqrt(tf.add(tf.mean(tf.mul(xc, xc), -1, true), eps)); // […, 1]
      const xhat = tf.mul(xc, rstd); // […, D]
      save([xhat, rstd, gamma]);
      return {
        value: beta ? tf.add(tf.mul(xhat, gamma), beta) : tf.mul(xhat, gamma),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [xh, rs, g0] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
          const dy2 = tf.reshape(dy, [-1, D]); // [N, D]
          const dGamma = tf.sum(tf.mul(dy2, tf.reshape(xh, [-1, D])), 0); // [D]
          const g = tf.mul(dy, g0); // […, D]
          const dx = tf.mul(tf.sub(tf.sub(g, tf.mean(g, -1, true)), tf.mul(xh, tf.mean(tf.mul(g, xh), -1, true))), rs); // […, D]
          return withBias ? [dx, dGamma, tf.sum(dy2, 0)] : [dx, dGamma]; // dβ = Σ dy: [D]
        },
      };
    });
    return (this.beta ? f(x, this.gamma, this.beta) : f(x, this.gamma)) as T;
  }

  variables(): Record<string, tf.Variable> {
    return this.beta ? { gamma: this.gamma, beta: this.beta } : { gamma: this.gamma };
  }

  setWeights(record: Record<string, tf.Tensor>, options?: SetWeightsOptions): void {
    assignWeights('LayerNorm', this.variables(), record, options);
  }

  paramCount(): number {
    return countParams(this.variables());
  }

  dispose(): void {
    this.gamma.dispose();
    this.beta?.dispose();
  }
}
