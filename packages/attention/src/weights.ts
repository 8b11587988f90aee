// Named, seeded variables for the attention layers. Every layer exposes `variables()` as a record
// with stable keys (`W`, `W1`, `W2`, `v`) for checkpoints; the tfjs variable names themselves are
// left to tfjs (unique per engine, so two layers can coexist).
//   glorotUniform: Glorot & Bengio 2010, "Understanding the difficulty of training deep feedforward
//     neural networks": U(-a, a) with a = sqrt(6 / (fanIn + fanOut)), in plain Float32Array math
//     (the same helper as @attend/recurrent's init.ts, so both packages draw identical weights).
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Rng, ShapeError, assertInt, hashSeed } from '@attend/core';

/** A `[fanIn, fanOut]` matrix (row-major) drawn from Glorot's uniform distribution. */
export function glorotUniform(rng: Rng, fanIn: number, fanOut: number): Float32Array {
  assertInt('glorotUniform fanIn', fanIn);
  assertInt('glorotUniform fanOut', fanOut);
  const a = Math.sqrt(6 / (fanIn + fanOut));
  const out = new Float32Array(fanIn * fanOut);
  for (let i = 0; i < out.length; i++) out[i] = (2 * rng.next() - 1) * a;
  return out;
}

/** A Glorot-uniform trainable float32 variable of `shape` (`[fanIn, fanOut]`, or `[fanIn]` for a vector), seeded by `seed` and its name. */
export function glorotVariable(seed: number, name: string, shape: [number, number] | [number]): tf.Variable {
  const rng = new Rng(hashSeed(`${seed}/${name}`));
  const values = glorotUniform(rng, shape[0], shape[1] ?? 1);
  return tf.tidy(() => tf.variable(tf.tensor(values, shape, 'float32'), true));
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
  const list = (names: string[]) => (names.length === 0 ? '(none)' : names.join(', '));
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
