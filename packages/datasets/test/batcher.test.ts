import { ConfigError, DataError } from '@attend/core';
import { describe, expect, it } from 'vitest';
import {
  LMBatcher,
  checkCorpusLength,
  minCorpusLength,
  sequentialBatchCount,
  sequentialBatches,
  splitIds,
  type LMBatch,
} from '../src/index.js';

/** ids[i] = i % 65535 makes every window identify its own start. */
const ramp = (n: number) => Uint16Array.from({ length: n }, (_, i) => i % 65535);

/** Every row must be a contiguous window of `ids`, targets shifted by exactly one. */
function expectWindows(ids: Uint16Array | Uint32Array, batch: LMBatch): number[] {
  const { inputs, targets, batchSize: B, seqLen: T } = batch;
  expect(inputs.length).toBe(B * T);
  expect(targets.length).toBe(B * T);
  const starts: number[] = [];
  for (let b = 0; b < B; b++) {
    const s = inputs[b * T]!; // with a ramp, the first id is the start
    expect(s + T + 1).toBeLessThanOrEqual(ids.length);
    for (let t = 0; t < T; t++) {
      expect(inputs[b * T + t]).toBe(ids[s + t]);
      expect(targets[b * T + t]).toBe(ids[s + t + 1]);
    }
    starts.push(s);
  }
  return starts;
}

describe('splitIds', () => {
  it.each([
    { n: 100, f: 0.9, train: 90, val: 10 },
    { n: 1115394, f: 0.9, train: 1003854, val: 111540 }, // tinyshakespeare, as nanoGPT prints
    { n: 7, f: 0.5, train: 3, val: 4 },
    { n: 10, f: 1, train: 10, val: 0 },
  ])('$n ids at $f → $train / $val', ({ n, f, train, val }) => {
    const ids = ramp(n);
    const s = splitIds(ids, f);
    expect(s.train.length).toBe(train);
    expect(s.val.length).toBe(val);
    expect(s.train.buffer).toBe(ids.buffer); // views, not copies
    expect(s.val.byteOffset).toBe(train * 2);
    if (val) expect(s.val[0]).toBe(ids[train]);
    expect(s.train[train - 1]).toBe(ids[train - 1]);
  });

  it('rejects a bad fraction', () => {
    expect(() => splitIds(ramp(10), 0)).toThrowError(ConfigError);
    expect(() => splitIds(ramp(10), 1.5)).toThrow('trainFraction: expected a number in (0, 1], got 1.5');
  });
});

describe('checkCorpusLength', () => {
  it('accepts exactly the minimum and names what is missing below it', () => {
    const min = minCorpusLength(64); // both splits need 65 ids at 0.9
    expect(min).toBe(641); // floor(0.9 * 641) = 576 train, 65 validation
    expect(() => checkCorpusLength({ ids: ramp(min) }, 64)).not.toThrow();
    expect(() => checkCorpusLength({ ids: ramp(min - 1) }, 64)).toThrowError(DataError);
    expect(() => checkCorpusLength({ ids: ramp(300) }, 64)).toThrow(
      'corpus has 300 characters; need at least 641 for --seq-len 64 (the validation split has 30, one window needs 65)',
    );
    expect(() => checkCorpusLength({ ids: ramp(50) }, 64)).toThrow('the training split has 45');
    expect(minCorpusLength(8, 1)).toBe(9);
  });
});

describe('LMBatcher', () => {
  const ids = ramp(1000);

  it('draws windows whose targets are the inputs shifted by one, starts in [0, n - T - 1]', () => {
    const b = new LMBatcher(ids, { seqLen: 16, batchSize: 8, seed: 1 });
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const batch = b.next();
      expect(batch.batchSize).toBe(8);
      expect(batch.seqLen).toBe(16);
      for (const s of expectWindows(ids, batch)) seen.add(s);
    }
    expect(b.batches).toBe(200);
    expect(Math.min(...seen)).toBe(0); // both ends reachable: 1600 draws over 984 starts
    expect(Math.max(...seen)).toBe(1000 - 16 - 1);
  });

  it('reaches the last target id with the shortest possible corpus', () => {
    const short = ramp(5);
    const batch = new LMBatcher(short, { seqLen: 4, batchSize: 3 }).next();
    expect(Array.from(batch.inputs)).toEqual([0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3]);
    expect(Array.from(batch.targets)).toEqual([1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4]);
  });

  it('is deterministic under a seed and differs across seeds', () => {
    const a = new LMBatcher(ids, { seqLen: 8, batchSize: 4, seed: 42 });
    const b = new LMBatcher(ids, { seqLen: 8, batchSize: 4, seed: 42 });
    const c = new LMBatcher(ids, { seqLen: 8, batchSize: 4, seed: 43 });
    const xa = a.next().inputs;
    expect(b.next().inputs).toEqual(xa);
    expect(c.next().inputs).not.toEqual(xa);
  });

  it('restores its state exactly, through JSON', () => {
    const a = new LMBatcher(ids, { seqLen: 8, batchSize: 4, seed: 7 });
    for (let i = 0; i < 13; i++) a.next();
    const saved = JSON.parse(JSON.stringify(a.state()));
    expect(saved.batches).toBe(13);
    expect(saved.rng.every((w: number) => w >= 0 && w < 2 ** 32)).toBe(true);
    const resumed = new LMBatcher(ids, { seqLen: 8, batchSize: 4, seed: 999 });
    resumed.setState(saved);
    expect(resumed.batches).toBe(13);
    for (let i = 0; i < 5; i++) {
      const x = a.next();
      const y = resumed.next();
      expect(y.inputs).toEqual(x.inputs);
      expect(y.targets).toEqual(x.targets);
    }
    expect(() => resumed.setState({ rng: [1, 2, 3], batches: 0 } as never)).toThrowError(DataError);
    expect(() => resumed.setState({ rng: [1, 2, 3, 2 ** 32], batches: 0 } as never)).toThrow('LMBatcher.setState: expected');
  });

  it('rejects bad options and a corpus shorter than one window', () => {
    expect(() => new LMBatcher(ids, { seqLen: 0, batchSize: 4 })).toThrow('LMBatcher seqLen: expected an integer ≥ 1, got 0');
    expect(() => new LMBatcher(ids, { seqLen: 8 } as never)).toThrow('LMBatcher batchSize: expected an integer ≥ 1, got undefined');
    expect(() => new LMBatcher(ids, { seqLen: 8, batchSize: 2, sed: 1 } as never)).toThrow('unknown option "sed"');
    expect(() => new LMBatcher(ramp(8), { seqLen: 8, batchSize: 2 })).toThrow(
      'LMBatcher: 8 ids are too few for one window of seqLen + 1 = 9',
    );
  });
});

describe('sequentialBatches', () => {
  it('covers the split in order with non-overlapping windows', () => {
    const ids = ramp(103); // (103 - 1) / 10 = 10 windows → batches of 4, 4, 2
    const opts = { seqLen: 10, batchSize: 4 };
    const batches = [...sequentialBatches(ids, opts)];
    expect(batches.map((b) => b.batchSize)).toEqual([4, 4, 2]);
    expect(sequentialBatchCount(ids.length, opts)).toBe(3);
    const starts = batches.flatMap((b) => expectWindows(ids, b));
    expect(starts).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
    expect(batches[2]!.targets.at(-1)).toBe(100);
  });

  it('stops at maxBatches', () => {
    const ids = ramp(1000);
    const opts = { seqLen: 10, batchSize: 4, maxBatches: 2 };
    expect([...sequentialBatches(ids, opts)].length).toBe(2);
    expect(sequentialBatchCount(ids.length, opts)).toBe(2);
    expect(() => [...sequentialBatches(ramp(10), { seqLen: 10, batchSize: 1 })]).toThrowError(DataError);
  });
});
