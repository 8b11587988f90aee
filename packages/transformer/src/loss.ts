// Softmax cross-entropy over token logits, with label smoothing (Szegedy et al. 2016, §7; the
// Transformer uses ε = 0.1, Vaswani et al. 2017 §5.4) and a padding mask:
//   loss_i = (1 − ε)·(−log p(y_i)) + ε·mean_v(−log p(v))      (PyTorch's CrossEntropyLoss(label_smoothing=ε))
// averaged over the real (unmasked) positions. ε = 0 is plain negative log-likelihood in nats.
// The per-position values and their gradient come from @attend/core's sparseSoftmaxCrossEntropy.
import * as tf from '@tensorflow/tfjs-core';
import { assertNumber, ShapeError, sparseSoftmaxCrossEntropy } from '@attend/core';

export interface CrossEntropyOptions {
  /** ε in [0, 1) (default 0). */
  labelSmoothing?: number;
  /** `[N]` (or any shape with N entries): 1 = count this position, 0 = padding. */
  mask?: tf.Tensor;
}

/** Mean cross-entropy of `logits` `[N, V]` against int32 `targets` `[N]`; a scalar, yours. */
export function crossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D, options: CrossEntropyOptions = {}): tf.Scalar {
  const { labelSmoothing = 0, mask } = options;
  assertNumber('crossEntropy labelSmoothing', labelSmoothing, 0, 0.999);
  const [N, V] = logits.shape;
  if (targets.rank !== 1 || targets.shape[0] !== N) throw new ShapeError(`crossEntropy: expected targets of shape [${N}], got [${targets.shape.join(', ')}]`);
  if (targets.dtype !== 'int32') throw new ShapeError(`crossEntropy: expected int32 targets, got ${targets.dtype}`);
  if (mask && mask.size !== N) throw new ShapeError(`crossEntropy: expected a mask with ${N} entries, got shape [${mask.shape.join(', ')}]`);
  return tf.tidy(() => {
    const perToken = sparseSoftmaxCrossEntropy(logits, targets, labelSmoothing); // [N], hand-written gradient
    if (!mask) return tf.mean(perToken) as tf.Scalar;
    const m = tf.reshape(tf.cast(tf.notEqual(mask, 0), 'float32'), [N]); // [N]
    return tf.div(tf.sum(tf.mul(perToken, m)), tf.maximum(tf.sum(m), 1)) as tf.Scalar;
  });
}
