// Softmax cross-entropy of logits against integer targets, one value per position, with label
// smoothing (Szegedy et al. 2016, §7; PyTorch's CrossEntropyLoss(label_smoothing=ε)):
//   loss_i = logsumexp(z_i) − (1 − ε)·z_{i,y_i} − ε·mean_v z_{i,v}
//   ∂loss_i/∂z_i = softmax(z_i) − (1 − ε)·onehot(y_i) − ε/V
// The gradient is written by hand (tf.customGrad) instead of differentiating logSoftmax → oneHot →
// mul → sum: every op here touches an [N, V] tensor, and with a word vocabulary (V ≈ 20k) those
// ops cost more than the model's matmuls. On the tensorflow backend (tfjs-node) with ε = 0 the
// forward and its gradient are ONE TensorFlow kernel, SparseSoftmaxCrossEntropyWithLogits (the op
// behind tf.nn.sparse_softmax_cross_entropy_with_logits), run by name.
import * as tf from '@tensorflow/tfjs-core';
import { assertNumber, ShapeError } from './errors.js';
import { runTensorflowOp, tensorflowAvailable } from './tensorflow-ops.js';

/**
 * Per-position softmax cross-entropy (nats): `logits` `[N, V]`, int32 `targets` `[N]` in [0, V) →
 * `[N]`, yours. `labelSmoothing` ε in [0, 1) (default 0). Differentiable w.r.t. `logits`.
 */
export function sparseSoftmaxCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D, labelSmoothing = 0): tf.Tensor1D {
  assertNumber('sparseSoftmaxCrossEntropy labelSmoothing', labelSmoothing, 0, 0.999);
  if (!(logits instanceof tf.Tensor) || logits.rank !== 2) {
    throw new ShapeError(`sparseSoftmaxCrossEntropy: expected logits of shape [N, V], got ${logits instanceof tf.Tensor ? `[${logits.shape.join(', ')}]` : typeof logits}`);
  }
  const [N, V] = logits.shape;
  if (!(targets instanceof tf.Tensor) || targets.rank !== 1 || targets.shape[0] !== N) {
    throw new ShapeError(`sparseSoftmaxCrossEntropy: expected targets of shape [${N}], got ${targets instanceof tf.Tensor ? `[${targets.shape.join(', ')}]` : typeof targets}`);
  }
  if (targets.dtype !== 'int32') throw new ShapeError(`sparseSoftmaxCrossEntropy: expected int32 targets, got ${targets.dtype}`);
  const z = logits.dtype === 'float32' ? logits : tf.cast(logits, 'float32');
  const fused = labelSmoothing === 0 && tensorflowAvailable();
  const loss = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
    if (fused) {
      // Outputs: loss [N], backprop [N, V] = softmax(z) − onehot(y).
      const [value, backprop] = runTensorflowOp('SparseSoftmaxCrossEntropyWithLogits', [x, targets], (b) => [
        { name: 'T', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
        { name: 'Tlabels', type: b.TF_ATTR_TYPE, value: b.TF_INT32 },
      ], 2);
      save([backprop!]);
      return { value: value!, gradFunc: (dy: tf.Tensor, [bp]: tf.Tensor[]) => tf.mul(bp!, tf.reshape(dy, [N, 1])) }; // [N, V]
    }
    const shifted = tf.sub(x, tf.max(x, 1, true)); // [N, V], max 0 per row
    const lse = tf.log(tf.sum(tf.exp(shifted), 1)); // [N]
    const rows = tf.range(0, N, 1, 'int32');
    const zy = tf.gatherND(shifted, tf.stack([rows, targets], 1)); // [N]
    let value = tf.sub(lse, tf.mul(zy, 1 - labelSmoothing)); // [N]
    if (labelSmoothing > 0) value = tf.sub(value, tf.mul(tf.mean(shifted, 1), labelSmoothing));
    save([shifted, lse]);
    const gradFunc = (dy: tf.Tensor, [s, l]: tf.Tensor[]) => {
      const p = tf.exp(tf.sub(s!, tf.reshape(l!, [N, 1]))); // [N, V] softmax
      let g = tf.sub(p, tf.mul(tf.oneHot(targets, V), 1 - labelSmoothing)); // [N, V]
      if (labelSmoothing > 0) g = tf.sub(g, labelSmoothing / V);
      return tf.mul(g, tf.reshape(dy, [N, 1]));
    };
    return { value, gradFunc };
  }) as Parameters<typeof tf.customGrad>[0]);
  return tf.tidy(() => loss(z) as tf.Tensor1D);
}
