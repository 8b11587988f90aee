// Attention masks and the masked softmax. Which keys a query may look at:
//   padding mask `[B, Tk]` (1 = real key, 0 = padding) — for batches of different-length sources;
//   full mask `[B, Tq, Tk]` — any per-query pattern (1 = may attend);
//   causal mask `[Tq, Tk]` — self-attention in a decoder: query i sees keys j ≤ i (Vaswani et al.
//     2017, §3.2.3, "masking out … all values in the input of the softmax which correspond to
//     illegal connections"). Top-left aligned, like PyTorch's `is_causal` (`tril(ones(Tq, Tk))`).
// Masked scores are REPLACED (tf.where, not added to) by MASK_VALUE = −1e9 before the softmax, so
// exp(−1e9 − max) underflows to exactly 0: masked keys get weight exactly 0, and — since the
// replaced scores do not depend on them — gradient exactly 0 too. The weights are then multiplied by
// the mask, which changes nothing in a row with at least one real key and turns a FULLY masked row
// (which the softmax alone would spread uniformly over the padding) into all zeros: no NaN, and a
// query with nothing to look at gets weights 0 and context 0.
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '@attend/core';

/** The score given to masked positions before the softmax. */
export const MASK_VALUE = -1e9;

/** `[Tq, Tk]` of 1/0: row i keeps columns j ≤ i. You own the tensor. */
export function causalMask(queryLength: number, keyLength: number): tf.Tensor2D {
  const out = new Float32Array(queryLength * keyLength);
  for (let i = 0; i < queryLength; i++) for (let j = 0; j <= Math.min(i, keyLength - 1); j++) out[i * keyLength + j] = 1;
  return tf.tensor2d(out, [queryLength, keyLength]);
}

export interface MaskDims {
  batch: number;
  /** Number of heads when the scores are `[B, heads, Tq, Tk]`, null for `[B, Tq, Tk]`. */
  heads: number | null;
  queryLength: number;
  keyLength: number;
}

/**
 * The 1/0 float mask that broadcasts against scores `[B, (heads,) Tq, Tk]`, or null when nothing is
 * masked. `mask` is `[B, Tk]` (padding) or `[B, Tq, Tk]` (per query); any non-zero entry means
 * "may attend". Call inside a `tf.tidy`.
 */
export function keepMask(what: string, mask: tf.Tensor | undefined, causal: boolean, dims: MaskDims): tf.Tensor | null {
  const { batch: B, heads, queryLength: Tq, keyLength: Tk } = dims;
  let keep: tf.Tensor | null = null;
  if (mask !== undefined) {
    if (!(mask instanceof tf.Tensor)) throw new ShapeError(`${what}: mask must be a tf.Tensor, got ${typeof mask}`);
    const padding = mask.rank === 2 && mask.shape[0] === B && mask.shape[1] === Tk;
    const full = mask.rank === 3 && mask.shape[0] === B && mask.shape[1] === Tq && mask.shape[2] === Tk;
    if (!padding && !full) {
      throw new ShapeError(
        `${what}: expected mask of shape [${B}, ${Tk}] (padding: 1 = real key, 0 = padding) or [${B}, ${Tq}, ${Tk}] (per query), got [${mask.shape.join(', ')}]`,
      );
    }
    const m = tf.cast(tf.notEqual(mask, 0), 'float32');
    const lead = heads === null ? [B] : [B, 1];
    keep = padding ? tf.reshape(m, [...lead, 1, Tk]) : tf.reshape(m, [...lead, Tq, Tk]); // [B, (1,) 1 | Tq, Tk]
  }
  if (causal) {
    const c = causalMask(Tq, Tk); // [Tq, Tk]
    keep = keep === null ? c : tf.mul(keep, c); // broadcasts to [B, (1,) Tq, Tk]
  }
  return keep;
}

/**
 * Softmax over the last axis of `scores` `[…, Tk]`, restricted to the positions where `keep`
 * (broadcastable to `scores`) is 1. Masked positions get weight 0 and gradient 0; a fully masked
 * row gets all-zero weights. Call inside a `tf.tidy`.
 */
export function maskedSoftmax(scores: tf.Tensor, keep: tf.Tensor | null): tf.Tensor {
  if (keep === null) return tf.softmax(scores);
  const k = tf.broadcastTo(keep, scores.shape); // [B, (h,) Tq, Tk]
  const allowed = tf.greater(k, 0.5);
  const masked = tf.where(allowed, scores, tf.fill(scores.shape, MASK_VALUE));
  return tf.mul(tf.softmax(masked), k); // zeros a fully masked row; a no-op elsewhere
}
