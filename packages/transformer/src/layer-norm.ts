// Layer normalisation (Ba, Kiros & Hinton 2016, "Layer Normalization"): each position's features
// are normalised to mean 0 and variance 1, then scaled and shifted by learned γ and β:
//   LN(x) = γ ⊙ (x − μ) / √(σ² + ε) + β,   μ, σ² over the last axis (biased variance, as PyTorch).
// The Transformer applies it around every sub-layer (post-LN, Vaswani et al. 2017 §3.1) or before
// it (pre-LN, Xiong et al. 2020; GPT-2).
import * as tf from '@tensorflow/tfjs-core';
import { layerNormKernel, layerNormKernelAvailable } from './layer-norm-kernel.js';
import { assertBool, assertInt, assertNumber, assignWeights, columnSums, configure, countParams, makeVariable, runTensorflowOp, ShapeError, tensorflowAvailable, tfAttrs, type SetWeightsOptions, type TFBinding } from '@attend/core';

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
   * forward ops records twice as many; one kernel each way on cpu and wasm (SIMD) and on webgpu (WGSL,
   * three dispatches forward, four backward), ./layer-norm-kernel.ts):
   * with x̂ the normalised input and g = dy ⊙ γ,
   *   dx = (g − mean(g) − x̂ ⊙ mean(g ⊙ x̂)) / √(σ² + ε),   dγ = Σ dy ⊙ x̂,   dβ = Σ dy.
   */
  apply<T extends tf.Tensor>(x: T): T {
    const D = this.config.dim;
    if (x.shape[x.rank - 1] !== D) throw new ShapeError(`LayerNorm: expected last axis ${D}, got shape [${x.shape.join(', ')}]`);
    const eps = this.config.eps;
    if (layerNormKernelAvailable(x)) return layerNormKernel(x, this.gamma, this.beta, eps); // one kernel each way: SIMD on cpu/wasm, WGSL on webgpu (./layer-norm-kernel.ts)
    if (x.dtype === 'float32' && tensorflowAvailable()) return layerNormTensorflow(x, this.gamma, this.beta, eps);
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

/** FusedBatchNormV3 / FusedBatchNormGradV3's attributes: float32, NCHW, training statistics. */
function batchNormAttrs(b: TFBinding, eps: number, withAvgFactor: boolean) {
  return tfAttrs(b, {
    type: { T: 'float32', U: 'float32' },
    float: withAvgFactor ? { epsilon: eps, exponential_avg_factor: 1 } : { epsilon: eps },
    string: { data_format: 'NCHW' },
    bool: { is_training: true },
  });
}

/**
 * LayerNorm on tfjs-node through TensorFlow's fused batch norm: x `[…, D]` seen as NCHW
 * `[1, N, D, 1]` — a "channel" per position, its D features the batch — is exactly x̂ per position
 * (FusedBatchNormV3 with unit scale, zero offset, batch statistics; its gradient op gives ∂x from
 * ∂x̂), then γ and β as two ops. One op each way instead of the composite's nine forward and a
 * dozen backward over [N, D].
 */
function layerNormTensorflow<T extends tf.Tensor>(x: T, gamma: tf.Variable, beta: tf.Variable | null, eps: number): T {
  const D = gamma.shape[0]!;
  const N = x.size / D;
  const shape = x.shape;
  const withBias = beta !== null;
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, g0] = args as [tf.Tensor, tf.Tensor];
    const b0 = withBias ? (args[2] as tf.Tensor) : null;
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const x4 = tf.reshape(input, [1, N, D, 1]);
    const ones = tf.ones([N]);
    const zeros = tf.zeros([N]);
    const empty = tf.zeros([0]);
    // Outputs: y, batch_mean, batch_variance, reserve_space_1, reserve_space_2, reserve_space_3.
    const [y, mean, variance, r1, r2, r3] = runTensorflowOp('FusedBatchNormV3', [x4, ones, zeros, empty, empty], (b) => batchNormAttrs(b, eps, true), 6);
    tf.dispose([mean!, variance!]);
    const xhat = tf.reshape(y!, [N, D]); // [N, D]
    save([x4, ones, r1!, r2!, r3!, xhat, g0]);
    const out = tf.mul(xhat, g0);
    return {
      value: tf.reshape(b0 ? tf.add(out, b0) : out, shape),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx4, sOnes, s1, s2, s3, sXhat, sGamma] = saved as tf.Tensor[];
        const dy2 = tf.reshape(dy, [N, D]) as tf.Tensor2D;
        const g4 = tf.reshape(tf.mul(dy2, sGamma!), [1, N, D, 1]); // ∂x̂
        // Inputs: y_backprop, x, scale, reserve_space_1..3. Outputs: x_backprop, scale_backprop, offset_backprop, reserve_space_4, reserve_space_5.
        const [dx4, ...rest] = runTensorflowOp('FusedBatchNormGradV3', [g4, sx4!, sOnes!, s1!, s2!, s3!], (b) => batchNormAttrs(b, eps, false), 5);
        tf.dispose(rest);
        const dx = tf.reshape(dx4!, shape);
        const dGamma = columnSums(tf.mul(dy2, sXhat!) as tf.Tensor2D); // [D]
        return withBias ? [dx, dGamma, columnSums(dy2)] : [dx, dGamma];
      },
    };
  });
  return (beta ? f(x, gamma, beta) : f(x, gamma)) as T;
}
