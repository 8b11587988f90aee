// Gradient clipping by global norm: every gradient is scaled by the same factor so that the norm of
// all of them, taken as one long vector, is at most `maxNorm`. tfjs has no such op; this follows
// tf.clip_by_global_norm (t * maxNorm / max(norm, maxNorm)), the definition torch.nn.utils.clip_grad_norm_
// also uses (up to its 1e-6 in the denominator). Pascanu et al. 2013, "On the difficulty of training RNNs".
import * as tf from '@tensorflow/tfjs-core';
import { assertNumber } from '@attend/core';

/** Gradients by variable name; a missing (`null`/`undefined`) entry has no gradient and is skipped. */
export type GradMap = Record<string, tf.Tensor | null | undefined>;

/** sqrt(Σ ‖g‖²) over every gradient, as a scalar tensor (the caller owns it). */
export function globalNormTensor(grads: GradMap): tf.Scalar {
  return tf.tidy(() => {
    const squares = Object.values(grads)
      .filter((g): g is tf.Tensor => g != null)
      .map((g) => tf.sum(tf.square(g))); // [] each
    if (squares.length === 0) return tf.scalar(0);
    return tf.sqrt(tf.addN(squares)) as tf.Scalar;
  });
}

/** The global norm of `grads` as a number (reads it back synchronously). */
export function globalNorm(grads: GradMap): number {
  const n = globalNormTensor(grads);
  const value = n.dataSync()[0]!;
  n.dispose();
  return value;
}

/**
 * Scales every gradient by `maxNorm / max(norm, maxNorm)`. Returns NEW tensors (the caller disposes both the
 * inputs and the outputs) and the norm before clipping. `maxNorm` 0 turns clipping off (the gradients are
 * only copied). Pass `norm` when it is already known, to save a read-back.
 */
export function clipByGlobalNorm(
  grads: GradMap,
  maxNorm: number,
  norm: number = globalNorm(grads),
): { grads: Record<string, tf.Tensor>; norm: number } {
  assertNumber('clipByGlobalNorm maxNorm', maxNorm, 0);
  const scale = maxNorm > 0 && norm > maxNorm ? maxNorm / norm : 1;
  const out: Record<string, tf.Tensor> = {};
  for (const [name, g] of Object.entries(grads)) {
    if (g == null) continue;
    out[name] = scale === 1 ? g.clone() : tf.tidy(() => tf.mul(g, scale));
  }
  return { grads: out, norm };
}
