// "General" (bilinear) attention (Luong, Pham & Manning 2015, §3.1, the `general` score):
//   score(s_i, h_j) = s_iᵀ·W·h_j                    W `[Dq, Dk]`
// Row-vector layout: (s_i·W)·h_jᵀ, so query and keys may have different sizes. W is Glorot-uniform.
import * as tf from '@tensorflow/tfjs-core';
import { assertInt, configure, glorotVariable, ShapeError } from '@attend/core';
import { BaseAttention, type AttendDims } from './attend.js';

export interface GeneralAttentionConfig {
  /** Dq: size of the query (decoder state). */
  queryDim: number;
  /** Dk: size of the keys (encoder outputs). */
  keyDim: number;
  /** Seed for the initial weights (default 0). */
  seed?: number;
}

export const DEFAULT_GENERAL_ATTENTION = { seed: 0 };

export class GeneralAttention extends BaseAttention {
  readonly type = 'general' as const;
  protected readonly label = 'GeneralAttention';
  readonly queryDim: number;
  readonly keyDim: number;
  /** Bilinear map `[Dq, Dk]`. */
  readonly W: tf.Variable;

  constructor(config: GeneralAttentionConfig) {
    super();
    const c = configure<Required<GeneralAttentionConfig>>('GeneralAttention', DEFAULT_GENERAL_ATTENTION, ['queryDim', 'keyDim'], config);
    assertInt('GeneralAttention.queryDim', c.queryDim);
    assertInt('GeneralAttention.keyDim', c.keyDim);
    assertInt('GeneralAttention.seed', c.seed, 0);
    this.queryDim = c.queryDim;
    this.keyDim = c.keyDim;
    this.W = glorotVariable(c.seed, 'W', [c.queryDim, c.keyDim]);
  }

  protected rawScores(q: tf.Tensor, k: tf.Tensor): tf.Tensor {
    const [B, Tq] = q.shape as [number, number, number];
    const qW = tf.reshape(tf.matMul(tf.reshape(q, [B * Tq, this.queryDim]), this.W), [B, Tq, this.keyDim]); // [B, Tq, Dk]
    return tf.matMul(qW, k, false, true); // [B, Tq, Tk]
  }

  protected checkDims(what: string, d: AttendDims): void {
    if (d.queryDim !== this.queryDim || d.keyDim !== this.keyDim) {
      throw new ShapeError(
        `${what}: expected query size ${this.queryDim} and key size ${this.keyDim} (queryDim, keyDim), got query size ${d.queryDim} and key size ${d.keyDim}`,
      );
    }
  }

  variables(): Record<string, tf.Variable> {
    return { W: this.W };
  }
}
