// The Transformer encoder (Vaswani et al. 2017, §3.1, fig. 1 left): N identical layers, each
//   post-LN (the paper):  x = LN(x + Dropout(SelfAttention(x)));  x = LN(x + Dropout(FFN(x)))
//   pre-LN (Xiong et al. 2020): x = x + Dropout(SelfAttention(LN(x)));  x = x + Dropout(FFN(LN(x)))
// with a final layer norm after a pre-LN stack. Padding keys are masked in every self-attention.
import * as tf from '@tensorflow/tfjs-core';
import { assertInt, assignWeights, configure, countParams, hashSeed, prefixed, Rng, ShapeError, type SetWeightsOptions } from '@attend/core';
import { FeedForward } from './feed-forward.js';
import { LayerNorm } from './layer-norm.js';
import { LayerStack } from './stack.js';
import { checkLayerConfig, DEFAULT_TRANSFORMER_LAYER, type TransformerLayerConfig } from './layer-config.js';
import { MultiHeadAttention } from './multi-head-attention.js';
import { disposeAll, tidy } from './tidy.js';

/** Dropout with a seed drawn from `rng` while training; the identity otherwise. */
export function residualDropout<T extends tf.Tensor>(x: T, rate: number, training: boolean, rng: Rng): T {
  return training && rate > 0 ? (tf.dropout(x, rate, undefined, rng.seed()) as T) : x;
}

export interface EncoderLayerOptions {
  /** `[B, T]`: 1 = real token, 0 = padding. */
  mask?: tf.Tensor2D;
  training?: boolean;
  /** Whether to return the attention weights (default true; false lets a fused attention kernel run). */
  weights?: boolean;
}

/** One encoder layer's output and its self-attention weights `[B, h, T, T]`; yours. */
export type EncoderLayerResult = { output: tf.Tensor3D; weights: tf.Tensor4D | null };

export class TransformerEncoderLayer {
  readonly config: Readonly<TransformerLayerConfig>;
  readonly selfAttention: MultiHeadAttention;
  readonly feedForward: FeedForward;
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm;
  private readonly rng: Rng;

  constructor(config: Partial<TransformerLayerConfig> = {}) {
    const c = configure<TransformerLayerConfig>('TransformerEncoderLayer', DEFAULT_TRANSFORMER_LAYER, [], config);
    checkLayerConfig('TransformerEncoderLayer', c);
    this.config = Object.freeze({ ...c });
    this.selfAttention = new MultiHeadAttention({ dModel: c.dModel, heads: c.heads, dropout: c.attentionDropout ?? c.dropout, bias: c.bias, seed: hashSeed(`${c.seed}/self`) });
    this.feedForward = new FeedForward({ dModel: c.dModel, dFF: c.dFF, activation: c.activation, dropout: c.dropout, bias: c.bias, seed: hashSeed(`${c.seed}/ff`) });
    this.norm1 = new LayerNorm({ dim: c.dModel, bias: c.bias });
    this.norm2 = new LayerNorm({ dim: c.dModel, bias: c.bias });
    this.rng = new Rng(hashSeed(`${c.seed}/dropout`));
  }

  /** `[B, T, d]` → `[B, T, d]`. */
  apply(x: tf.Tensor3D, options: EncoderLayerOptions = {}): EncoderLayerResult {
    const { mask, training = false, weights = true } = options;
    const { dropout, norm } = this.config;
    return tidy(() => {
      const pre = norm === 'pre';
      const a = this.selfAttention.apply(pre ? this.norm1.apply(x) : x, undefined, { mask, training, weights });
      let h: tf.Tensor3D = tf.add(x, residualDropout(a.output, dropout, training, this.rng)); // [B, T, d]
      if (!pre) h = this.norm1.apply(h);
      const f = this.feedForward.apply(pre ? this.norm2.apply(h) : h, training); // [B, T, d] (dropout inside)
      let out: tf.Tensor3D = tf.add(h, f);
      if (!pre) out = this.norm2.apply(out);
      return { output: out, weights: a.weights };
    });
  }

  variables(): Record<string, tf.Variable> {
    return {
      ...prefixed('self', this.selfAttention.variables()),
      ...prefixed('ff', this.feedForward.variables()),
      ...prefixed('norm1', this.norm1.variables()),
      ...prefixed('norm2', this.norm2.variables()),
    };
  }

  setWeights(record: Record<string, tf.Tensor>, options?: SetWeightsOptions): void {
    assignWeights('TransformerEncoderLayer', this.variables(), record, options);
  }

  paramCount(): number {
    return countParams(this.variables());
  }

  dispose(): void {
    this.selfAttention.dispose();
    this.feedForward.dispose();
    this.norm1.dispose();
    this.norm2.dispose();
  }
}

export interface TransformerEncoderConfig extends TransformerLayerConfig {
  /** N: number of layers (default 2). */
  layers: number;
}

export const DEFAULT_TRANSFORMER_ENCODER: TransformerEncoderConfig = { ...DEFAULT_TRANSFORMER_LAYER, layers: 2 };

/** The encoder's output and every layer's self-attention weights (none with `weights: false`); yours. */
export type EncoderResult = { output: tf.Tensor3D; weights: tf.Tensor4D[] };

export class TransformerEncoder extends LayerStack<TransformerEncoderLayer> {
  readonly config: Readonly<TransformerEncoderConfig>;

  constructor(config: Partial<TransformerEncoderConfig> = {}) {
    const c = configure<TransformerEncoderConfig>('TransformerEncoder', DEFAULT_TRANSFORMER_ENCODER, [], config);
    checkLayerConfig('TransformerEncoder', c);
    assertInt('TransformerEncoder.layers', c.layers);
    const { layers, ...layer } = c;
    super('TransformerEncoder', layers, c, (seed) => new TransformerEncoderLayer({ ...layer, seed }));
    this.config = Object.freeze({ ...c });
  }

  /** `[B, T, d]` (embedded, positions added) → `[B, T, d]`. */
  apply(x: tf.Tensor3D, options: EncoderLayerOptions = {}): EncoderResult {
    if (!(x instanceof tf.Tensor) || x.rank !== 3 || x.shape[2] !== this.config.dModel) {
      throw new ShapeError(`TransformerEncoder: expected input of shape [B, T, ${this.config.dModel}], got ${x instanceof tf.Tensor ? `[${x.shape.join(', ')}]` : typeof x}`);
    }
    return tidy(() => {
      const weights: tf.Tensor4D[] = [];
      let h = x;
      for (const layer of this.layers) {
        const r = layer.apply(h, options);
        if (r.weights) weights.push(r.weights);
        h = r.output;
      }
      return { output: this.finalNorm ? this.finalNorm.apply(h) : h, weights };
    });
  }
}
