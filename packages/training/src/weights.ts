// Variables ⇄ plain arrays: the in-memory form of weights and optimizer state that checkpoints store and
// `train()` resumes from. Names are the keys of the model's `variables()` record, never tfjs's own
// variable names (those are global counters that differ between processes and between model instances).
import * as tf from '@tensorflow/tfjs-core';
import { DataError, ShapeError } from '@attend/core';

/** One tensor as data: float32 values in row-major order. */
export interface StoredTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** The number of elements of `shape`. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Copies every variable's values out (a copy: later training does not change them). */
export async function exportVariables(variables: Record<string, tf.Variable>): Promise<StoredTensor[]> {
  const out: StoredTensor[] = [];
  for (const [name, v] of Object.entries(variables)) {
    if (v.dtype !== 'float32') throw new DataError(`variable ${name}: expected dtype float32, got ${v.dtype}`);
    out.push({ name, shape: [...v.shape], data: new Float32Array((await v.data()) as Float32Array) });
  }
  return out;
}

/**
 * Checks that `stored` names exactly the variables in `variables` with the same shapes; throws a
 * `DataError` listing missing/unexpected names or a `ShapeError` for the first shape that differs.
 */
export function checkStoredMatches(
  what: string,
  expected: Record<string, readonly number[]>,
  stored: readonly StoredTensor[],
): Map<string, StoredTensor> {
  const byName = new Map(stored.map((s) => [s.name, s]));
  const missing = Object.keys(expected).filter((n) => !byName.has(n));
  const unexpected = [...byName.keys()].filter((n) => !(n in expected));
  if (missing.length || unexpected.length) {
    const parts = [
      missing.length ? `missing ${missing.join(', ')}` : '',
      unexpected.length ? `unexpected ${unexpected.join(', ')}` : '',
    ].filter(Boolean);
    throw new DataError(`${what} does not match the model: ${parts.join('; ')} (is it from a different model config?)`);
  }
  for (const [name, shape] of Object.entries(expected)) {
    const s = byName.get(name)!;
    const same = s.shape.length === shape.length && s.shape.every((d, i) => d === shape[i]);
    if (!same) throw new ShapeError(`${what}: ${name} has shape [${s.shape.join(', ')}], the model expects [${shape.join(', ')}]`);
    if (s.data.length !== sizeOf(shape)) {
      throw new DataError(`${what}: ${name} has ${s.data.length} values, its shape [${shape.join(', ')}] needs ${sizeOf(shape)}`);
    }
  }
  return byName;
}

/** Assigns stored values to the variables (exactly: the float32 bits are copied). */
export function importVariables(
  variables: Record<string, tf.Variable>,
  stored: readonly StoredTensor[],
  what = 'stored weights',
): void {
  const shapes = Object.fromEntries(Object.entries(variables).map(([n, v]) => [n, v.shape]));
  const byName = checkStoredMatches(what, shapes, stored);
  for (const [name, v] of Object.entries(variables)) {
    const s = byName.get(name)!;
    tf.tidy(() => v.assign(tf.tensor(s.data.slice(), s.shape, 'float32'))); // slice: tfjs-cpu keeps the array
  }
}
