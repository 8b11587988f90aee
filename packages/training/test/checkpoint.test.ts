// Checkpoint files: round trip, atomic replacement (a failure mid-save leaves the old checkpoint; a crash
// between the renames leaves DIR.old-*, which loads), and clear errors for every kind of damage.
import { mkdir, mkdtemp, readFile, readdir, rename, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataError } from '@attend/core';
import { selectBackend } from '@attend/core/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { train, type TrainState } from '../src/index.js';
import { assertCompatible, loadCheckpoint, saveCheckpoint, type Checkpoint } from '../src/node.js';
import { Batcher, TinyMlp } from './helpers.js';

let root: string;
let stateA: TrainState; // after 3 steps
let stateB: TrainState; // after 6 steps
const config = { model: { cell: 'gru', hidden: 256, layers: 2 }, training: { lr: 0.002, batch: 16 } };
const tokenizer = { type: 'char', vocab: ['a', 'b', '\n'] };
const ckptOf = (state: TrainState): Checkpoint => ({ config, tokenizer, state });

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
  root = await mkdtemp(join(tmpdir(), 'attend-ckpt-'));
  const model = new TinyMlp(1);
  const data = new Batcher(2);
  const opts = { model, nextBatch: () => data.next(), getDataState: () => data.state(), setDataState: (s: unknown) => data.setState(s), evalEvery: 2, sampleAt: [] };
  stateA = (await train({ ...opts, steps: 3 })).state;
  stateB = (await train({ ...opts, steps: 6, startState: stateA })).state;
  model.dispose();
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let n = 0;
async function fresh(state = stateA): Promise<string> {
  const dir = join(root, `c${n++}`, 'run');
  await saveCheckpoint(dir, ckptOf(state));
  return dir;
}

describe('saveCheckpoint / loadCheckpoint', () => {
  it('round-trips every part exactly, with the documented files', async () => {
    const dir = await fresh(stateB);
    expect((await readdir(dir)).sort()).toEqual(
      ['config.json', 'optimizer.bin', 'optimizer.json', 'state.json', 'tokenizer.json', 'weights.bin', 'weights.json'],
    );
    const c = await loadCheckpoint(dir);
    expect(c.dir).toBe(dir);
    expect(c.config).toEqual(config);
    expect(c.tokenizer).toEqual(tokenizer);
    expect(c.state).toEqual(stateB); // typed arrays compared by value
    const manifest = JSON.parse(await readFile(join(dir, 'weights.json'), 'utf8'));
    expect(manifest.tensors[0]).toEqual({ name: 'w1', shape: [4, 8], dtype: 'float32', offset: 0, byteLength: 128 });
    const state = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8'));
    expect(state).toMatchObject({ formatVersion: 1, step: 6, files: { 'weights.bin': { bytes: manifest.byteLength } } });
    expect(state.files['weights.bin'].sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'))).toEqual({ formatVersion: 1, ...config });
  });

  it('replaces an existing checkpoint and leaves no temp or old directories', async () => {
    const dir = await fresh(stateA);
    await saveCheckpoint(dir, ckptOf(stateB));
    expect((await loadCheckpoint(dir)).state.step).toBe(6);
    expect(await readdir(join(dir, '..'))).toEqual(['run']);
  });

  it('a failure mid-save leaves the previous checkpoint intact and loadable', async () => {
    const dir = await fresh(stateA);
    for (const failAfter of ['weights.bin', 'optimizer.json', 'state.json']) {
      const save = saveCheckpoint(dir, ckptOf(stateB), {
        onFileWritten: (f) => {
          if (f === failAfter) throw new Error(`ENOSPC: no space left on device (after ${f})`);
        },
      });
      await expect(save).rejects.toThrow(/ENOSPC/);
      const c = await loadCheckpoint(dir);
      expect(c.state).toEqual(stateA);
      expect(await readdir(join(dir, '..'))).toEqual(['run']); // the temp dir was removed
    }
  });

  it('a crash between the two renames leaves DIR.old-*, which loads; the next save cleans up', async () => {
    const dir = await fresh(stateA);
    const old = `${dir}.old-999999-0badf00d`;
    await rename(dir, old); // as if the process died right after moving the old checkpoint aside
    await mkdir(`${dir}.tmp-999999-deadbeef`); // and its half-written temp dir (pid 999999 is not running)
    const c = await loadCheckpoint(dir);
    expect(c.dir).toBe(old);
    expect(c.state).toEqual(stateA);
    await saveCheckpoint(dir, ckptOf(stateB));
    expect(await readdir(join(dir, '..'))).toEqual(['run']);
    expect((await loadCheckpoint(dir)).state.step).toBe(6);
  });

  it('a flipped byte in weights.bin fails the checksum', async () => {
    const dir = await fresh();
    const bytes = await readFile(join(dir, 'weights.bin'));
    bytes[17] ^= 0x40;
    await writeFile(join(dir, 'weights.bin'), bytes);
    await expect(loadCheckpoint(dir)).rejects.toThrow(
      new RegExp(`^checkpoint ${dir} is corrupt: weights.bin does not match its sha256 checksum`),
    );
  });

  it('a truncated file, a missing file, bad JSON and a bad manifest are clear errors', async () => {
    const corrupt = (dir: string, why: string) => new RegExp(`checkpoint ${dir} is corrupt: ${why}`);
    let dir = await fresh();
    await truncate(join(dir, 'optimizer.bin'), 10);
    await expect(loadCheckpoint(dir)).rejects.toThrow(corrupt(dir, 'optimizer.bin has 10 bytes, expected \\d+ \\(truncated\\)'));

    dir = await fresh();
    await unlink(join(dir, 'tokenizer.json'));
    await expect(loadCheckpoint(dir)).rejects.toThrow(corrupt(dir, 'tokenizer.json is missing'));

    dir = await fresh();
    const s = await readFile(join(dir, 'state.json'), 'utf8');
    await writeFile(join(dir, 'state.json'), s.slice(0, s.length / 2));
    await expect(loadCheckpoint(dir)).rejects.toThrow(corrupt(dir, 'state.json is not valid JSON'));

    dir = await fresh();
    const m = JSON.parse(await readFile(join(dir, 'weights.json'), 'utf8'));
    m.tensors[1].shape = [9];
    await writeFile(join(dir, 'weights.json'), JSON.stringify(m));
    await expect(loadCheckpoint(dir)).rejects.toThrow(corrupt(dir, 'weights.json: entry 1 .* is malformed'));

    dir = await fresh();
    const cfg = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...cfg, formatVersion: 2 }));
    await expect(loadCheckpoint(dir)).rejects.toThrow(/config.json has format version 2; this @attend\/training reads version 1/);
  });

  it('a missing or empty directory is "no checkpoint"; a foreign directory is never overwritten', async () => {
    await expect(loadCheckpoint(join(root, 'nope'))).rejects.toThrow(new DataError(`no checkpoint in ${join(root, 'nope')} (the directory does not exist)`));
    await mkdir(join(root, 'empty'));
    await expect(loadCheckpoint(join(root, 'empty'))).rejects.toThrow(/no checkpoint in .*empty \(the directory is empty\)/);
    const mine = join(root, 'my-documents');
    await mkdir(mine);
    await writeFile(join(mine, 'thesis.tex'), 'precious');
    await expect(saveCheckpoint(mine, ckptOf(stateA))).rejects.toThrow(/refusing to overwrite .*my-documents: it is not a checkpoint directory \(it holds thesis.tex\)/);
    expect(await readFile(join(mine, 'thesis.tex'), 'utf8')).toBe('precious');
    await expect(loadCheckpoint(mine)).rejects.toThrow(/no checkpoint in .*my-documents \(none of config.json, .*\); give the --out directory of a training run/);
    const dir = await fresh();
    await writeFile(join(dir, 'notes.txt'), 'mine');
    await expect(saveCheckpoint(dir, ckptOf(stateB))).rejects.toThrow(/it also holds notes.txt, which replacing it would delete/);
    expect((await loadCheckpoint(dir)).state.step).toBe(3);
  });
});

describe('assertCompatible', () => {
  it('passes on matching keys and names every differing key', async () => {
    const dir = await fresh();
    const c = await loadCheckpoint(dir);
    expect(() => assertCompatible(c, { cell: 'gru', hidden: 256 })).not.toThrow();
    expect(() => assertCompatible(c, { cell: 'gru', hidden: undefined })).not.toThrow();
    expect(() => assertCompatible(c, { cell: 'lstm', hidden: 128, layers: 2 })).toThrow(
      new DataError(
        `checkpoint ${dir} was trained with cell=gru, hidden=256; you asked for cell=lstm, hidden=128. ` +
          "Leave those options out to continue with the checkpoint's, or train a new model in another directory.",
      ),
    );
    expect(() => assertCompatible(c, { dropout: 0.1 })).toThrow(/trained with dropout=\(unset\); you asked for dropout=0.1/);
  });
});
