// tf.tidy for results that hold nulls, numbers or nested records of tensors (caches): tfjs walks
// them at run time (skipping null) but its TensorContainer type rejects null.
import * as tf from '@tensorflow/tfjs-core';

/** `tf.tidy(fn)` typed by what `fn` returns. */
export function tidy<T>(fn: () => T): T {
  return tf.tidy(fn as () => tf.TensorContainer) as T;
}

/** Disposes every tensor inside `x` (records, arrays, nulls allowed). */
export function disposeAll(x: unknown): void {
  tf.dispose(x as tf.TensorContainer);
}
