// Language-model batches from a token-id array, as nanoGPT's `get_batch`: each row is a random
// window of T + 1 ids (start uniform in [0, n - T - 1]); inputs are its first T ids, targets the
// same window shifted by one. Seeded with `Rng` from @attend/core, whose state a checkpoint can
// save so that a resumed run draws exactly the batches an uninterrupted one would have.
// `sequentialBatches` walks a split in order instead, for validation loss over all of it.
import { ConfigError, DataError, Rng, assertInt, type RngState } from '@attend/core/base';
import type { TokenIds } from './split.js';

/** One batch: `inputs` and `targets` are row-major `[batchSize, seqLen]`. */
export interface LMBatch {
  inputs: Int32Array; // [B, T]
  targets: Int32Array; // [B, T]
  batchSize: number;
  seqLen: number;
}

/** Options of `LMBatcher`. */
export interface LMBatcherOptions {
  /** T: ids per row. */
  seqLen: number;
  /** B: rows per batch. */
  batchSize: number;
  /** Seed of the window draws (default 0). */
  seed?: number;
}

export const DEFAULT_LM_BATCHER_OPTIONS: Readonly<Required<Pick<LMBatcherOptions, 'seed'>>> = Object.freeze({ seed: 0 });

/** What `LMBatcher.state()` returns: plain JSON, for checkpoints. */
export interface LMBatcherState {
  rng: RngState;
  /** Batches drawn so far. */
  batches: number;
}

function checkKeys(what: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new ConfigError(`${what}: unknown option "${key}"; known options are ${known.join(', ')}`);
  }
}

function checkWindow(what: string, n: number, seqLen: number): void {
  if (n < seqLen + 1) {
    throw new DataError(
      `${what}: ${n} ids are too few for one window of seqLen + 1 = ${seqLen + 1}; use a smaller --seq-len or more text`,
    );
  }
}

/** Copies window `[s, s + T]` of `ids` into row `row` of `inputs` (ids s..s+T-1) and `targets` (ids s+1..s+T). */
function fillRow(ids: TokenIds, s: number, T: number, row: number, inputs: Int32Array, targets: Int32Array): void {
  inputs.set(ids.subarray(s, s + T), row * T);
  targets.set(ids.subarray(s + 1, s + T + 1), row * T);
}

/** Random language-model batches, reproducible under a seed, with exact save/restore. */
export class LMBatcher {
  readonly ids: TokenIds;
  readonly seqLen: number;
  readonly batchSize: number;
  readonly seed: number;
  private rng: Rng;
  private drawn = 0;

  constructor(ids: TokenIds, options: LMBatcherOptions) {
    checkKeys('LMBatcher', options, ['seqLen', 'batchSize', 'seed']);
    assertInt('LMBatcher seqLen', options.seqLen, 1);
    assertInt('LMBatcher batchSize', options.batchSize, 1);
    const seed = options.seed ?? DEFAULT_LM_BATCHER_OPTIONS.seed;
    assertInt('LMBatcher seed', seed, 0);
    checkWindow('LMBatcher', ids.length, options.seqLen);
    this.ids = ids;
    this.seqLen = options.seqLen;
    this.batchSize = options.batchSize;
    this.seed = seed;
    this.rng = new Rng(seed);
  }

  /** Batches drawn so far. */
  get batches(): number {
    return this.drawn;
  }

  /** The next batch of `batchSize` random windows. */
  next(): LMBatch {
    const { ids, seqLen: T, batchSize: B } = this;
    const inputs = new Int32Array(B * T); // [B, T]
    const targets = new Int32Array(B * T); // [B, T]
    const starts = ids.length - T; // valid starts: 0 .. n - T - 1
    for (let b = 0; b < B; b++) fillRow(ids, this.rng.int(starts), T, b, inputs, targets);
    this.drawn++;
    return { inputs, targets, batchSize: B, seqLen: T };
  }

  /** The RNG state and batch count: `setState` on a batcher over the same ids continues identically. */
  state(): LMBatcherState {
    return { rng: this.rng.state().map((w) => w >>> 0) as unknown as RngState, batches: this.drawn };
  }

  /** Restores a `state()`; malformed state (e.g. from a damaged checkpoint) is a `DataError`. */
  setState(state: LMBatcherState): void {
    const rng = (state as { rng?: unknown } | null)?.rng;
    const words = Array.isArray(rng) && rng.length === 4 && rng.every((w) => Number.isInteger(w) && w >= -(2 ** 31) && w < 2 ** 32);
    const batches = (state as { batches?: unknown } | null)?.batches;
    if (!words || !(Number.isInteger(batches) && (batches as number) >= 0)) {
      throw new DataError(
        `LMBatcher.setState: expected { rng: [4 32-bit integers], batches: integer ≥ 0 }, got ${JSON.stringify(state)}`,
      );
    }
    this.rng = new Rng(rng as unknown as RngState);
    this.drawn = batches as number;
  }
}

/** Options of `sequentialBatches`. */
export interface SequentialBatchOptions {
  seqLen: number;
  batchSize: number;
  /** Stop after this many batches (default: the whole split). */
  maxBatches?: number;
}

/** How many batches `sequentialBatches` yields for `n` ids. */
export function sequentialBatchCount(n: number, options: SequentialBatchOptions): number {
  const windows = Math.floor((n - 1) / options.seqLen);
  const all = Math.ceil(Math.max(0, windows) / options.batchSize);
  return options.maxBatches === undefined ? all : Math.min(all, options.maxBatches);
}

/**
 * Non-overlapping windows in order (starts 0, T, 2T, …) grouped into batches, covering the split
 * (all but the < T ids after the last full window); the last batch may have fewer rows.
 */
export function* sequentialBatches(ids: TokenIds, options: SequentialBatchOptions): Generator<LMBatch, void, undefined> {
  checkKeys('sequentialBatches', options, ['seqLen', 'batchSize', 'maxBatches']);
  assertInt('sequentialBatches seqLen', options.seqLen, 1);
  assertInt('sequentialBatches batchSize', options.batchSize, 1);
  if (options.maxBatches !== undefined) assertInt('sequentialBatches maxBatches', options.maxBatches, 1);
  checkWindow('sequentialBatches', ids.length, options.seqLen);
  const T = options.seqLen;
  const windows = Math.floor((ids.length - 1) / T);
  const count = sequentialBatchCount(ids.length, options);
  for (let k = 0; k < count; k++) {
    const first = k * options.batchSize;
    const B = Math.min(options.batchSize, windows - first);
    const inputs = new Int32Array(B * T); // [B, T]
    const targets = new Int32Array(B * T); // [B, T]
    for (let b = 0; b < B; b++) fillRow(ids, (first + b) * T, T, b, inputs, targets);
    yield { inputs, targets, batchSize: B, seqLen: T };
  }
}
