import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, DataError } from '@attend/core';
import { CharTokenizer } from '@attend/tokenizers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCorpus } from '../src/node.js';

let root = '';
const p = (...parts: string[]) => join(root, ...parts);

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'attend-corpus-'));
  // tree/
  //   b.txt  a.txt  notes.md  main.c  .hidden.txt
  //   sub/c.txt  sub/util.c  .git/x.txt  node_modules/y.txt
  await mkdir(p('tree', 'sub'), { recursive: true });
  await mkdir(p('tree', '.git'), { recursive: true });
  await mkdir(p('tree', 'node_modules'), { recursive: true });
  await mkdir(p('empty-dir'), { recursive: true });
  const files: Record<string, string | Uint8Array> = {
    'tree/b.txt': 'BBB\n',
    'tree/a.txt': 'AAA\n',
    'tree/notes.md': '# notes\n',
    'tree/main.c': 'int main;\n',
    'tree/.hidden.txt': 'hidden\n',
    'tree/sub/c.txt': 'CCC\n',
    'tree/sub/util.c': 'void f;\n',
    'tree/.git/x.txt': 'git\n',
    'tree/node_modules/y.txt': 'dep\n',
    'empty.txt': '',
    'emoji.txt': 'hi 👋🏽 Привет 你好 😀\n',
    'nul.bin': new Uint8Array([0x68, 0x69, 0x0a, 0x00, 0x01]),
    'latin1.txt': new Uint8Array([0x63, 0x61, 0x66, 0xe9, 0x21]), // "café!" in Latin-1: 0xE9 is not UTF-8
    'truncated.txt': new Uint8Array([0x61, 0x62, 0xe4, 0xbd]), // "ab" + the first 2 bytes of 你
    'bom.txt': new Uint8Array([0xef, 0xbb, 0xbf, 0x78, 0x79]),
  };
  for (const [name, data] of Object.entries(files)) await writeFile(p(name), data);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('loadCorpus: files and directories', () => {
  it('concatenates the files of a directory in sorted path order, skipping dot-files and node_modules', async () => {
    const lines: string[] = [];
    const c = await loadCorpus({ paths: [p('tree')], log: (l) => lines.push(l) });
    expect(c.files).toEqual(['a.txt', 'b.txt', 'main.c', 'notes.md', 'sub/c.txt', 'sub/util.c'].map((f) => p('tree', f)));
    const text = 'AAA\nBBB\nint main;\n# notes\nCCC\nvoid f;\n';
    expect(c.tokenizer.decode(c.ids)).toBe(text);
    expect(c.chars).toBe(text.length);
    expect(c.ids.length).toBe(c.chars);
    expect(c.bytes).toBe(text.length);
    expect(c.ids).toBeInstanceOf(Uint16Array);
    expect(lines[0]).toBe('corpus: 6 files, 0.0 MiB');
    expect(lines.some((l) => l.startsWith('vocabulary: '))).toBe(true);
  });

  it('sorts files named directly too, and drops duplicates', async () => {
    const c = await loadCorpus({ paths: [p('tree', 'b.txt'), p('tree', 'a.txt'), p('tree', 'a.txt')] });
    expect(c.files).toEqual([p('tree', 'a.txt'), p('tree', 'b.txt')]);
    expect(c.tokenizer.decode(c.ids)).toBe('AAA\nBBB\n');
  });

  it.each([
    { include: ['**/*.txt'], files: ['a.txt', 'b.txt', 'sub/c.txt'] },
    { include: ['*.c'], files: ['main.c', 'sub/util.c'] },
    { include: ['*.c', '*.md'], files: ['main.c', 'notes.md', 'sub/util.c'] },
    { include: ['sub/*'], files: ['sub/c.txt', 'sub/util.c'] },
  ])('include $include', async ({ include, files }) => {
    const c = await loadCorpus({ paths: [p('tree')], include });
    expect(c.files).toEqual(files.map((f) => p('tree', f)));
  });

  it('reads a file named directly even if include would not match it', async () => {
    const c = await loadCorpus({ paths: [p('tree', 'notes.md'), p('tree', 'sub')], include: ['*.c'] });
    expect(c.files).toEqual([p('tree', 'notes.md'), p('tree', 'sub', 'util.c')]);
  });

  it('encodes with a given tokenizer, mapping unknown characters to [UNK]', async () => {
    const tokenizer = CharTokenizer.fromText('AB\n');
    const c = await loadCorpus({ paths: [p('tree', 'a.txt'), p('tree', 'sub', 'c.txt')], tokenizer });
    expect(c.tokenizer).toBe(tokenizer);
    expect(Array.from(c.ids)).toEqual([5, 5, 5, 4, 3, 3, 3, 4]);
  });

  it('keeps Unicode characters whole (code points, not UTF-16 units)', async () => {
    const c = await loadCorpus({ paths: [p('emoji.txt')] });
    const text = 'hi 👋🏽 Привет 你好 😀\n';
    expect(c.chars).toBe([...text].length);
    expect(c.bytes).toBe(Buffer.byteLength(text));
    expect(c.tokenizer.decode(c.ids)).toBe(text);
    expect(c.tokenizer.has('👋')).toBe(true);
    expect(c.tokenizer.has('🏽')).toBe(true);
  });

  it('drops a UTF-8 byte-order mark', async () => {
    const c = await loadCorpus({ paths: [p('bom.txt')] });
    expect(c.tokenizer.decode(c.ids)).toBe('xy');
  });
});

describe('loadCorpus: bad input', () => {
  const cases: { name: string; options: () => Parameters<typeof loadCorpus>[0]; message: RegExp }[] = [
    { name: 'missing path', options: () => ({ paths: [p('nope.txt')] }), message: /Corpus path .*nope\.txt does not exist/ },
    {
      name: 'directory without matching files',
      options: () => ({ paths: [p('tree')], include: ['*.py'] }),
      message: /Directory .*tree has no files matching "\*\.py" .*check the directory or the --include patterns/,
    },
    { name: 'empty directory', options: () => ({ paths: [p('empty-dir')] }), message: /Directory .*empty-dir has no files/ },
    { name: 'empty corpus', options: () => ({ paths: [p('empty.txt')] }), message: /Corpus is empty: 1 file .*empty\.txt.* hold 0 characters/ },
    {
      name: 'NUL byte',
      options: () => ({ paths: [p('nul.bin')] }),
      message: /nul\.bin looks binary \(NUL byte at offset 3\); pass --allow-binary to train on it anyway/,
    },
    {
      name: 'invalid UTF-8',
      options: () => ({ paths: [p('latin1.txt')] }),
      message: /latin1\.txt looks binary \(invalid UTF-8 at byte 3\); pass --allow-binary/,
    },
    { name: 'truncated UTF-8 at the end', options: () => ({ paths: [p('truncated.txt')] }), message: /invalid UTF-8 at byte 2\)/ },
  ];
  it.each(cases)('$name → DataError', async ({ options, message }) => {
    const err = await loadCorpus(options()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toMatch(message);
  });

  it('refuses a binary file even with a given tokenizer', async () => {
    await expect(loadCorpus({ paths: [p('nul.bin')], tokenizer: CharTokenizer.fromText('hi') })).rejects.toThrowError(DataError);
  });

  it('rejects bad options', async () => {
    await expect(loadCorpus({ paths: [] })).rejects.toThrowError(ConfigError);
    await expect(loadCorpus({ paths: [p('emoji.txt')], includes: ['*'] } as never)).rejects.toThrow('unknown option "includes"');
  });

  it('reads binary files with allowBinary, bad bytes as U+FFFD', async () => {
    const c = await loadCorpus({ paths: [p('latin1.txt'), p('nul.bin')], allowBinary: true });
    expect(c.tokenizer.decode(c.ids)).toBe('caf\uFFFD!hi\n\u0000\u0001');
  });
});
