// Translation pairs: normalisation, parsing (extra columns, CRLF, BOM, blank lines, reversal, the
// length filter), bad input (no tab, an empty side, invalid UTF-8) as DataErrors naming file and
// line or counted with skipBad, reference grouping, the split by source hash, and the real eng-fra.txt.
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataError } from '@attend/core/base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groupReferences, normalizeSentence, parsePairs, parsePairsBytes, splitPairs, type SentencePair } from '../src/index.js';
import { dataDir, loadPairs } from '../src/node.js';

describe('normalizeSentence', () => {
  it.each([
    ['Go.', 'go .'],
    ['Va !', 'va !'],
    ['Cours\u00a0!', 'cours !'], // no-break space
    ['Qui\u202f?', 'qui ?'], // narrow no-break space
    ['Hello,world.', 'hello , world .'],
    ["I don't know.", "i don't know ."],
    ["Aujourd'hui, c'est peut-être mardi.", "aujourd'hui , c'est peut-être mardi ."],
    ['It costs 3.5 euros (€).', 'it costs 3.5 euros ( € ) .'],
    ['«\u00a0Salut\u00a0»', '« salut »'],
    ['  a \t  b  ', 'a b'],
    ['zero\u200bwidth soft\u00adhyphen', 'zerowidth softhyphen'],
    ['Cafe\u0301', 'café'], // NFC
    ['ÉTÉ', 'été'],
    ['Wait...', 'wait . . .'],
  ])('%j → %j', (input, expected) => {
    expect(normalizeSentence(input)).toBe(expected);
  });

  it('keeps case and punctuation attached when asked', () => {
    expect(normalizeSentence('  Hello,   World! ', { lowercase: false, separatePunctuation: false })).toBe('Hello, World!');
    expect(normalizeSentence('Hello, World!', { lowercase: false })).toBe('Hello , World !');
    expect(normalizeSentence('Cafe\u0301\u00a0!', { separatePunctuation: false })).toBe('café !');
  });
});

describe('parsePairs', () => {
  it('reads source<TAB>target lines, ignoring further columns, CRLF, a BOM and blank lines', () => {
    const text = '\uFEFFGo.\tVa !\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272\r\n\nHi.\tSalut !\r\n  \nRun!\tCours !\n';
    const r = parsePairs(text, { file: 'x.tsv' });
    expect(r.pairs).toEqual([
      { source: 'go .', target: 'va !', line: 1 },
      { source: 'hi .', target: 'salut !', line: 3 },
      { source: 'run !', target: 'cours !', line: 5 },
    ]);
    expect(r).toMatchObject({ lines: 3, skipped: 0, tooLong: 0, badLines: [] });
    expect(parsePairs(text, { reverse: true }).pairs[0]).toEqual({ source: 'va !', target: 'go .', line: 1 });
  });

  it('filters by length in tokens, on both sides', () => {
    const text = 'a b c\tx\nd e\tv w x y\nf\tg\n';
    const r = parsePairs(text, { maxLength: 3 });
    expect(r.pairs.map((p) => p.line)).toEqual([1, 3]);
    expect(r.tooLong).toBe(1);
  });

  it.each([
    ['Go.\tVa !\nno tab here\nHi.\tSalut !\n', 2, 'expected "source<TAB>target", found no tab'],
    ['Go.\tVa !\n\t Salut\n', 2, 'the first column (source) is empty'],
    ['Go.\t  \t attribution\n', 1, 'the second column (target) is empty'],
    ['Go.\tVa !\nCaf\uFFFD\tcafé\n', 2, 'holds U+FFFD'],
  ])('bad input %j is a DataError naming file and line, or skipped with skipBad', (text, line, reason) => {
    const parse = () => parsePairs(text, { file: 'data/pairs.tsv' });
    expect(parse).toThrow(DataError);
    expect(parse).toThrow(`data/pairs.tsv:${line}: ${reason}`);
    expect(parse).toThrow(/pass skipBad: true/);
    const r = parsePairs(text, { skipBad: true });
    expect(r.skipped).toBe(1);
    expect(r.badLines).toEqual([{ line, reason: expect.stringContaining(reason) as string }]);
    expect(r.pairs.every((p) => p.line !== line)).toBe(true);
  });

  it('refuses invalid UTF-8 (a file in another encoding) naming the line, or skips those lines', () => {
    const latin1 = Uint8Array.from([...Buffer.from('Go.\tVa !\nCoffee.\tCaf'), 0xe9, ...Buffer.from(' !\nHi.\tSalut !\n')]);
    expect(() => parsePairsBytes(latin1, { file: 'fr.tsv' })).toThrow(DataError);
    expect(() => parsePairsBytes(latin1, { file: 'fr.tsv' })).toThrow(/^fr\.tsv:2: invalid UTF-8 at byte 20: .*iconv.*skipBad: true/);
    const r = parsePairsBytes(latin1, { skipBad: true });
    expect(r.pairs.map((p) => p.source)).toEqual(['go .', 'hi .']);
    expect(r.skipped).toBe(1);
    expect(r.badLines[0]!.line).toBe(2);
  });

  it('rejects unknown options', () => {
    expect(() => parsePairs('a\tb', { lower: true } as never)).toThrow(/unknown option "lower"/);
  });
});

describe('groupReferences and splitPairs', () => {
  const pairs: SentencePair[] = parsePairs('Run!\tCours !\nRun!\tCourez !\nWow!\tÇa alors !\nRun!\tCours !\nHi.\tSalut.\n').pairs;

  it('groups the distinct references of each source, in order of first appearance', () => {
    expect(groupReferences(pairs)).toEqual([
      { source: 'run !', references: ['cours !', 'courez !'], lines: [1, 2] },
      { source: 'wow !', references: ['ça alors !'], lines: [3] },
      { source: 'hi .', references: ['salut .'], lines: [5] },
    ]);
  });

  it('splits deterministically by source, about valFraction of the sources to validation, none on both sides', () => {
    const many: SentencePair[] = [];
    for (let i = 0; i < 4000; i++) for (let r = 0; r < 1 + (i % 3); r++) many.push({ source: `sentence number ${i} .`, target: `phrase ${i} ${r}`, line: many.length + 1 });
    const { train, val } = splitPairs(many);
    expect(train.length + val.length).toBe(many.length);
    const trainSources = new Set(train.map((p) => p.source));
    expect(val.some((p) => trainSources.has(p.source))).toBe(false);
    const valSources = new Set(val.map((p) => p.source)).size;
    expect(valSources / 4000).toBeGreaterThan(0.085);
    expect(valSources / 4000).toBeLessThan(0.115);
    // The same on a shuffled copy, and on the grouped references; another seed draws others.
    const again = splitPairs([...many].reverse());
    expect(new Set(again.val.map((p) => p.source))).toEqual(new Set(val.map((p) => p.source)));
    const groups = splitPairs(groupReferences(many));
    expect(groups.val.map((g) => g.source).sort()).toEqual([...new Set(val.map((p) => p.source))].sort());
    const other = splitPairs(many, { seed: 1 });
    expect(new Set(other.val.map((p) => p.source))).not.toEqual(new Set(val.map((p) => p.source)));
    expect(splitPairs(many, { valFraction: 0.3 }).val.length).toBeGreaterThan(val.length);
    expect(splitPairs(many, { valFraction: 0 }).val).toEqual([]);
    expect(() => splitPairs(many, { valFraction: 2 })).toThrow(/valFraction: expected a number in \[0, 1\]/);
  });
});

describe('loadPairs', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'attend-pairs-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a file, naming it in errors', async () => {
    const path = join(dir, 'p.tsv');
    await writeFile(path, 'Go.\tVa !\nbad line\n');
    await expect(loadPairs(path)).rejects.toThrow(`${path}:2: expected "source<TAB>target", found no tab`);
    const r = await loadPairs(path, { skipBad: true });
    expect(r).toMatchObject({ file: path, bytes: 18, skipped: 1, pairs: [{ source: 'go .', target: 'va !', line: 1 }] });
    await expect(loadPairs(join(dir, 'missing.tsv'))).rejects.toThrow(/missing\.tsv does not exist/);
  });

  const data = dataDir();
  const engFra = data && join(data, 'eng-fra.txt');
  it.skipIf(!engFra || !existsSync(engFra))('loads the real eng-fra.txt (139,824 pairs) in under 5 s', async () => {
    const start = performance.now();
    const r = await loadPairs(engFra!);
    const seconds = (performance.now() - start) / 1000;
    expect(r.pairs).toHaveLength(139_824);
    expect(r.skipped).toBe(0);
    expect(r.pairs[0]).toEqual({ source: 'go .', target: 'va !', line: 1 });
    expect(seconds).toBeLessThan(5);
    const { train, val } = splitPairs(r.pairs);
    const trainSources = new Set(train.map((p) => p.source));
    expect(val.some((p) => trainSources.has(p.source))).toBe(false);
    const groups = groupReferences(r.pairs);
    const valShare = splitPairs(groups).val.length / groups.length;
    expect(valShare).toBeGreaterThan(0.09);
    expect(valShare).toBeLessThan(0.11);
    const short = await loadPairs(engFra!, { maxLength: 10 });
    expect(short.pairs.length + short.tooLong).toBe(139_824);
  });
});
