import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataError } from '@attend/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BPETokenizer, CharTokenizer, WordTokenizer, tokenizerFromJSON, type Tokenizer } from '../src/index.js';
import { loadTokenizer, saveTokenizer } from '../src/node.js';

describe('tokenizerFromJSON', () => {
  it('switches on type', () => {
    const c = CharTokenizer.fromText('Привет 👋🏽');
    const w = WordTokenizer.fromText('hello world, hello');
    const b = BPETokenizer.train(['hello world, hello'], { vocabSize: 270 });
    expect(tokenizerFromJSON(c.toJSON())).toBeInstanceOf(CharTokenizer);
    expect(tokenizerFromJSON(JSON.stringify(w.toJSON()))).toBeInstanceOf(WordTokenizer);
    expect(tokenizerFromJSON(JSON.stringify(b.toJSON()))).toBeInstanceOf(BPETokenizer);
    const tokens: Tokenizer[] = [c, w, b];
    for (const t of tokens) expect(tokenizerFromJSON(t.toJSON()).toJSON()).toEqual(t.toJSON());
  });

  it.each([
    { json: { type: 'unigram', version: 1 }, message: 'Unknown tokenizer type: unigram; expected one of char, word, bpe' },
    { json: { version: 1 }, message: 'Unknown tokenizer type: undefined; expected one of char, word, bpe' },
    { json: null, message: 'Tokenizer JSON: expected an object with a "type" of char, word or bpe, got null' },
    { json: { type: 'bpe', version: 2 }, message: 'bpe tokenizer JSON: expected "version": 1, got 2' },
    { json: '{nope', message: 'Tokenizer JSON is not valid JSON' },
  ])('rejects $json', ({ json, message }) => {
    expect(() => tokenizerFromJSON(json)).toThrowError(DataError);
    expect(() => tokenizerFromJSON(json)).toThrow(message);
  });
});

describe('saveTokenizer / loadTokenizer', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'attend-tok-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('saves atomically and loads back', async () => {
    const tok = CharTokenizer.fromText('你好 👋🏽 Привет');
    const path = join(dir, 'sub', 'tok.json');
    await saveTokenizer(path, tok);
    expect(await readdir(join(dir, 'sub'))).toEqual(['tok.json']); // no temp file left behind
    const back = await loadTokenizer(path);
    expect(back).toBeInstanceOf(CharTokenizer);
    expect(back.encode('你好 👋🏽')).toEqual(tok.encode('你好 👋🏽'));
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(tok.toJSON());
    const word = WordTokenizer.fromText('a b c');
    await saveTokenizer(path, word); // overwrite
    expect((await loadTokenizer(path)).type).toBe('word');
    const bpe = BPETokenizer.train(['low lower lowest', 'new newer newest'], { vocabSize: 280 });
    await saveTokenizer(path, bpe);
    const bpeBack = await loadTokenizer(path);
    expect(bpeBack).toBeInstanceOf(BPETokenizer);
    expect(bpeBack.toJSON()).toEqual(bpe.toJSON());
    expect(bpeBack.encode('slowest 你好 👋🏽')).toEqual(bpe.encode('slowest 你好 👋🏽'));
    expect(bpeBack.decode(bpeBack.encode('slowest 你好 👋🏽'))).toBe('slowest 你好 👋🏽');
  });

  it('says what is wrong with a missing, invalid or malformed file', async () => {
    await expect(loadTokenizer(join(dir, 'missing.json'))).rejects.toThrow(/missing\.json does not exist/);
    const garbage = join(dir, 'garbage.json');
    await writeFile(garbage, '{"type": "char", ');
    await expect(loadTokenizer(garbage)).rejects.toThrowError(DataError);
    await expect(loadTokenizer(garbage)).rejects.toThrow(/garbage\.json is not valid JSON/);
    const wrong = join(dir, 'wrong.json');
    await writeFile(wrong, '{"type": "char", "version": 9, "vocab": []}');
    await expect(loadTokenizer(wrong)).rejects.toThrow(/wrong\.json: char tokenizer JSON: expected "version": 1, got 9/);
    await expect(loadTokenizer(dir)).rejects.toThrow(/is a directory/);
  });
});
