// Additive ("concat") attention (Bahdanau, Cho & Bengio 2015, "Neural Machine Translation by
// Jointly Learning to Align and Translate", §3.1 and appendix A.1.2, where it is written
// e_ij = v_aᵀ·tanh(W_a·s_{i−1} + U_a·h_j)):
//   score(s_i, h_j) = vᵀ·tanh(W₁·h_j + W₂·s_i)      W₁ `[Dk, A]`, W₂ `[Dq, A]`, v `[A]`
// A one-hidden-layer network scoring every (query, key) pair; no bias, as in the paper. Row-vector
// layout: h_j·W₁ and s_i·W₂. All three weights are Glorot-uniform (v as a `[A, 1]` matrix).
import * as tf from '@tensorflow/tfjs-core';
import { assertInt, configure, glorotVariable, ShapeError } from '@attend/core';
import { BaseAttention, type AttendDims } from './attend.js';

export interface AdditiveAttentionConfig {
  /** Dq: size of the query (decoder state). */
  queryDim: number;
  /** Dk: size of the keys (encoder outputs). */
  keyDim: number;
  /** A: hidden size of the scoring network. */
  attentionDim: number;
  /** Seed for the initial weights (default 0). */
  seed?: number;
}

export const DEFAULT_ADDITIVE_ATTENTION = { seed: 0 };

export class AdditiveAttention extends BaseAttention {
  readonly type = 'additive' as const;
  protected readonly label = 'AdditiveAttention';
  readonly queryDim: number;
  readonly keyDim: number;
  readonly attentionDim: number;
  /** Key projection `[Dk, A]`. */
  readonly W1: tf.Variable;
  /** Query projection `[Dq, A]`. */
  readonly W2: tf.Variable;
  /** Output vector `[A]`. */
  readonly v: tf.Variable;

  constructor(config: AdditiveAttentionConfig) {
    super();
    const c = configure<Required<AdditiveAttentionConfig>>(
      'AdditiveAttention',
      DEFAULT_ADDITIVE_ATTENTION,
      ['queryDim', 'keyDim', 'attentionDim'],
      config,
    );
    assertInt('AdditiveAttention.queryDim', c.queryDim);
    assertInt('AdditiveAttention.keyDim', c.keyDim);
    assertInt('AdditiveAttention.attentionDim', c.attentionDim);
    assertInt('AdditiveAttention.seed', c.seed, 0);
    this.queryDim = c.queryDim;
    this.keyDim = c.keyDim;
    this.attentionDim = c.attentionDim;
    this.W1 = glorotVariable(c.seed, 'W1', [c.keyDim, c.attentionDim]);
    this.W2 = glorotVariable(c.seed, 'W2', [c.queryDim, c.attentionDim]);
    this.v = glorotVariable(c.seed, 'v', [c.attentionDim]);
  }

  protected rawScores(q: tf.Tensor, k: tf.Tensor): tf.Tensor {
    const [B, Tq] = q.shape as [number, number, number];
    const Tk = k.shape[1]!;
    const A = this.attentionDim;
    const hW1 = tf.reshape(tf.matMul(tf.reshape(k, [B * Tk, this.keyDim]), this.W1), [B, 1, Tk, A]); // W₁·h_j  [B, 1, Tk, A]
    const sW2 = tf.reshape(tf.matMul(tf.reshape(q, [B * Tq, this.queryDim]), this.W2), [B, Tq, 1, A]); // W₂·s_i  [B, Tq, 1, A]
    const hidden = tf.tanh(tf.add(hW1, sW2)); // [B, Tq, Tk, A]
    const e = tf.matMul(tf.reshape(hidden, [B * Tq * Tk, A]), tf.reshape(this.v, [A, 1])); // vᵀ·…  [B·Tq·Tk, 1]
    return tf.reshape(e, [B, Tq, Tk]);
  }

  protected checkDims(what: string, d: AttendDims): void {
    if (d.queryDim !== this.queryDim || d.keyDim !== this.keyDim) {
      throw new ShapeError(
        `${what}: expected query size ${this.queryDim} and key size ${this.keyDim} (queryDim, keyDim), got query size ${d.queryDim} and key size ${d.keyDim}`,
      );
    }
  }

  variables(): Record<string, tf.Variable> {
    return { W1: this.W1, W2: this.W2, v: this.v };
  }
}
