// Tensors derived from a layer's weights (packed for a fused op, split into gate blocks), computed
// once and reused while generating, where the same derivation would otherwise run for every token.
// An entry is valid while its source tensors keep their data: a Variable's `assign` replaces its
// dataId, so training or loading weights makes the next `get` derive again.
import * as tf from '@tensorflow/tfjs-core';

/** Whether a gradient tape is recording (derived tensors cached outside it would cut the gradient). */
export function recordingGradients(): boolean {
  return (tf.engine().state as unknown as { gradientDepth: number }).gradientDepth > 0;
}

export class DerivedWeights<T extends tf.Tensor[]> {
  private entry: { keys: object[]; value: T } | null = null;

  /** The tensors `derive` makes from `sources`, cached until a source's data changes; kept, owned by this cache (read, never dispose). */
  get(sources: readonly tf.Tensor[], derive: () => T): T {
    const e = this.entry;
    if (e && e.keys.length === sources.length && e.keys.every((k, i) => k === sources[i]!.dataId) && !e.value.some((t) => t.isDisposed)) return e.value;
    this.dispose();
    const value = tf.tidy(derive).map((t) => tf.keep(t)) as T;
    this.entry = { keys: sources.map((s) => s.dataId), value };
    return value;
  }

  dispose(): void {
    if (this.entry) tf.dispose(this.entry.value);
    this.entry = null;
  }
}
