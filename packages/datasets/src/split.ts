// Train/validation split of a token-id array, as in nanoGPT's `prepare.py`: the first 90% trains,
// the last 10% validates. Both halves are views (`subarray`) of the same buffer: nothing is copied.
import { ConfigError } from '@attend/core/base';

/** Token ids held in a typed array: what `loadCorpus` returns and what the batchers read. */
export type TokenIds = Uint8Array | Uint16Array | Uint32Array | Int32Array;

/** A contiguous train/validation split. */
export interface Split<T extends TokenIds = TokenIds> {
  train: T;
  val: T;
}

/** Throws a `ConfigError` unless `f` is a number in (0, 1]. */
export function checkTrainFraction(f: unknown): asserts f is number {
  if (typeof f !== 'number' || !(f > 0 && f <= 1)) {
    throw new ConfigError(`trainFraction: expected a number in (0, 1], got ${JSON.stringify(f)}`);
  }
}

/** Number of ids in the training split of `n` ids: `floor(n * trainFraction)` (nanoGPT's `int(n*0.9)`). */
export function trainLength(n: number, trainFraction = 0.9): number {
  checkTrainFraction(trainFraction);
  return Math.floor(n * trainFraction);
}

/** The first `trainFraction` of `ids` for training, the rest for validation (views, not copies). */
export function splitIds<T extends TokenIds>(ids: T, trainFraction = 0.9): Split<T> {
  const n = trainLength(ids.length, trainFraction);
  return { train: ids.subarray(0, n) as T, val: ids.subarray(n) as T };
}
