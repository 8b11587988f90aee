// Named, seeded variables shared by every Attend layer. Each layer exposes `variables()` as a record
// with stable, human-readable keys (`layer0/lstm/W_x`, `W1`, `head/W_hy`) used for checkpoints; the
// tfjs variable names themselves are left to tfjs (unique per engine, so two models can coexist).
//   glorotUniform: Glorot & Bengio 2010, "Understanding the difficulty of training deep feedforward
//   neural networks": U(−a, a) with a = √(6 / (fanIn + fanOut)), in plain Float32Array math with a
//   seeded Rng, so the same seed draws the same weights on every backend.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError, assertInt } from './errors.js';
import { Rng, hashSeed } from './random.js';

/** A `[fanIn, fanOut]` matrix (row-major) drawn from Glorot's uniform distribution. */
export function glorotUniform(rng: Rng, fanIn: number, fanOut: number): Float32Array {
  assertInt('glorotUniform fanIn', fanIn);
  assertInt('glorotUniform fanOut', fanOut);
  const a = Math.sqrt(6 / (fanIn + fanOut));
  const out = new Float32Array(fanIn * fanOut);
  for (let i = 0; i < out.length; i++) out[i] = (2 * rng.next() - 1) * a;
  return out;
}

/** A trainable (or frozen) float32 variable holding `values`. */
export function makeVariable(values: Float32Array, shape: number[], trainable = true): tf.Variable {
  return tf.tidy(() => tf.variable(tf.tensor(values, shape, 'float32'), trainable));
}

/** A Glorot-uniform trainable variable of `shape` (`[fanIn, fanOut]`, or `[fanIn]`), seeded by `seed` and its name. */
export function glorotVariable(seed: number, name: string, shape: [number, number] | [number]): tf.Variable {
  const rng = new Rng(hashSeed(`${seed}/${name}`));
  return makeVariable(glorotUniform(rng, shape[0], shape[1] ?? 1), shape);
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
 * Assigns `record` to `vars` by name, after checking every name, shape and dtype (nothing is
 * assigned unless all are valid). The tensors in `record` stay the caller's.
 */
export function assignWeights(
  what: string,
  vars: Record<string, tf.Variable>,
  record: Record<string, tf.Tensor>,
  options: SetWeightsOptions = {},
): void {
  const known = Object.keys(vars);
  const list = (names: string[]) =>
    names.length === 0 ? '(none)' : names.length > 8 ? `${names.slice(0, 8).join(', ')}, … (${names.length} in all)` : names.join(', ');
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
