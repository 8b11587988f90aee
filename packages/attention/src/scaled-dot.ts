// Scaled dot-product attention (Vaswani et al. 2017, "Attention Is All You Need", §3.2.1, eq. 1):
//   Attention(Q, K, V) = softmax(Q·Kᵀ / √d_k)·V
// The 1/√d_k keeps the scores' variance near 1 for large d_k, so the softmax does not saturate.
// Batched over heads too, for the Transformer: q `[B, (heads,) Tq, d]`, k `[B, (heads,) Tk, d]`,
// v `[B, (heads,) Tk, dv]`; masks as in mask.ts (the causal mask is the decoder's self-attention
// mask, §3.2.3). Matches `torch.nn.functional.scaled_dot_product_attention` (see the fixtures), except
// that a fully masked row gives zeros here where PyTorch gives NaN.
import * as tf from '@tensorflow/tfjs-core';
import { configure, ShapeError } from '@attend/core';
import { BaseAttention, runAttention, type AttendDims, type AttendOptions, type AttentionResult } from './attend.js';

/** Scaled dot-product attention has no options; the config exists so every type is built the same way. */
export type ScaledDotAttentionConfig = Record<string, never>;

export const DEFAULT_SCALED_DOT_ATTENTION: ScaledDotAttentionConfig = {};

function scaledScores(q: tf.Tensor, k: tf.Tensor): tf.Tensor {
  const d = k.shape[k.rank - 1]!;
  return tf.div(tf.matMul(q, k, false, true), Math.sqrt(d)); // [B, (h,) Tq, Tk]
}

function checkSameSize(what: string, d: AttendDims): void {
  if (d.queryDim !== d.keyDim) {
    throw new ShapeError(`${what}: expected query and keys of the same size d_k, got query size ${d.queryDim} and key size ${d.keyDim}`);
  }
}

/**
 * softmax(q·kᵀ/√d_k)·v. Shapes: q `[B, h, Tq, d]`, k `[B, h, Tk, d]`, v `[B, h, Tk, dv]` → context
 * `[B, h, Tq, dv]`, weights `[B, h, Tq, Tk]`; or the same without the heads axis; or q `[B, d]` (one
 * step) → `[B, dv]`, `[B, Tk]`. The mask (`[B, Tk]` or `[B, Tq, Tk]`) is shared by all heads.
 */
export function scaledDotProductAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, options?: AttendOptions): AttentionResult<tf.Tensor4D>;
export function scaledDotProductAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, options?: AttendOptions): AttentionResult<tf.Tensor3D>;
export function scaledDotProductAttention(q: tf.Tensor2D, k: tf.Tensor3D, v: tf.Tensor3D, options?: AttendOptions): AttentionResult<tf.Tensor2D>;
export function scaledDotProductAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options?: AttendOptions): AttentionResult;
export function scaledDotProductAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options?: AttendOptions): AttentionResult {
  const what = 'scaledDotProductAttention';
  return runAttention(what, scaledScores, (d) => checkSameSize(what, d), q, k, v, options, true);
}

export class ScaledDotAttention extends BaseAttention {
  readonly type = 'scaledDot' as const;
  protected readonly label = 'ScaledDotAttention';
  protected override readonly allowHeads = true;

  constructor(config: ScaledDotAttentionConfig = {}) {
    super();
    configure<ScaledDotAttentionConfig>('ScaledDotAttention', DEFAULT_SCALED_DOT_ATTENTION, [], config);
  }

  override attend(query: tf.Tensor4D, keys: tf.Tensor4D, values: tf.Tensor4D, options?: AttendOptions): AttentionResult<tf.Tensor4D>;
  override attend(query: tf.Tensor2D, keys: tf.Tensor3D, values: tf.Tensor3D, options?: AttendOptions): AttentionResult<tf.Tensor2D>;
  override attend(query: tf.Tensor3D, keys: tf.Tensor3D, values: tf.Tensor3D, options?: AttendOptions): AttentionResult<tf.Tensor3D>;
  override attend(query: tf.Tensor, keys: tf.Tensor, values: tf.Tensor, options?: AttendOptions): AttentionResult;
  override attend(query: tf.Tensor, keys: tf.Tensor, values: tf.Tensor, options?: AttendOptions): AttentionResult {
    return super.attend(query, keys, values, options);
  }

  protected rawScores(q: tf.Tensor, k: tf.Tensor): tf.Tensor {
    return scaledScores(q, k);
  }

  protected checkDims(what: string, d: AttendDims): void {
    checkSameSize(what, d);
  }

  variables(): Record<string, tf.Variable> {
    return {};
  }
}
