// Dot-product attention, as taught (Luong, Pham & Manning 2015, "Effective Approaches to
// Attention-based Neural Machine Translation", §3.1, the `dot` score):
//   score(s_i, h_j) = s_iᵀ·h_j                      query and keys must have the same size D
// No parameters: the decoder state and the encoder outputs must already live in the same space.
import * as tf from '@tensorflow/tfjs-core';
import { configure, ShapeError } from '@attend/core';
import { BaseAttention, type AttendDims } from './attend.js';

/** The dot score has no options; the config exists so every type is built the same way. */
export type DotAttentionConfig = Record<string, never>;

export const DEFAULT_DOT_ATTENTION: DotAttentionConfig = {};

export class DotAttention extends BaseAttention {
  readonly type = 'dot' as const;
  protected readonly label = 'DotAttention';

  constructor(config: DotAttentionConfig = {}) {
    super();
    configure<DotAttentionConfig>('DotAttention', DEFAULT_DOT_ATTENTION, [], config);
  }

  protected rawScores(q: tf.Tensor, k: tf.Tensor): tf.Tensor {
    return tf.matMul(q, k, false, true); // [B, Tq, D] × [B, Tk, D]ᵀ → [B, Tq, Tk]
  }

  protected checkDims(what: string, d: AttendDims): void {
    if (d.queryDim !== d.keyDim) {
      throw new ShapeError(
        `${what}: the dot score needs query and keys of the same size, got query size ${d.queryDim} and key size ${d.keyDim}; use 'general' or 'additive' attention for different sizes`,
      );
    }
  }

  variables(): Record<string, tf.Variable> {
    return {};
  }
}
