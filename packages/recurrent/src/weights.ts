// Named variables: every layer exposes `variables()` as a record with stable, human-readable keys
// (`layer0/lstm/W_x`), used for checkpoints. The tfjs variable names themselves are left to tfjs
// (they must be unique per engine, so two models can coexist).
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '@attend/core';

/** A seeded, trainable float32 variable from plain values. */
export function makeVariable(values: Float32Array, shape: number[], trainable = true): tf.Variable {
  return tf.tidy(() => tf.variable(tf.tensor(values, shape, 'float32'), trainable));
}

/** `{ W: v }` → `{ 'prefix/W': v }`. */
export function prefixed(prefix: string, vars: Record<string, tf.Variable>): Record<string, tf.Variable> {
  const out: Record<string, tf.Variable> = {};
  for (const [k, v] of Object.entries(vars)) out[`${prefix}/${k}`] = v;
  return out;
}

/** Total number of scalars in `vars`. */
export function countParams(vars: Record<string, tf.Variable>): number {
  return Object.values(vars).reduce((n, v) => n + v.size, 0);
}

export interface SetWeightsOptions {
  /** Allow `record` to name only some of the variables (default false: all are required). */
  partial?: boolean;
}

/**
 * Assigns `record` to `vars` by name, after checking every name and shape (nothing is assigned
 * unless all are valid). The tensors in `record` stay the caller's.
 */
export function assignWeights(
  what: string,
  vars: Record<string, tf.Variable>,
  record: Record<string, tf.Tensor>,
  options: SetWeightsOptions = {},
): void {
  const known = Object.keys(vars);
  const list = (names: string[]) => (names.length > 8 ? `${names.slice(0, 8).join(', ')}, … (${names.length} in all)` : names.join(', '));
  for (const name of Object.keys(record)) {
    if (!(name in vars)) {
      throw new ConfigError(`${what}.setWeights: unknown variable "${name}"; expected one of ${list(known)}`);
    }
  }
  if (!options.partial) {
    const missing = known.filter((k) => !(k in record));
    if (missing.length > 0) {
      throw new ConfigError(`${what}.setWeights: missing variable(s) ${list(missing)}; pass them all, or { partial: true }`);
    }
  }
  for (const [name, t] of Object.entries(record)) {
    const v = vars[name]!;
    if (!(t instanceof tf.Tensor)) throw new ShapeError(`${what}.setWeights: "${name}" must be a tf.Tensor, got ${typeof t}`);
    if (!tf.util.arraysEqual(t.shape, v.shape)) {
      throw new ShapeError(`${what}.setWeights: "${name}" expected shape [${v.shape.join(', ')}], got [${t.shape.join(', ')}]`);
    }
    if (t.dtype !== 'float32') {
      throw new ShapeError(`${what}.setWeights: "${name}" expected dtype float32, got ${t.dtype}`);
    }
  }
  for (const [name, t] of Object.entries(record)) vars[name]!.assign(t);
}
