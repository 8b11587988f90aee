// Corpus and sentence BLEU against the real sacrebleu package: fixtures/bleu.json holds sacrebleu's
// numbers (score, precisions, bp, lengths, counts, totals) for hand-picked cases — sacreBLEU's README
// example, perfect match, no overlap, multi-reference clipping, brevity penalty, French with accents
// and apostrophes, empty hypotheses, every smoothing — plus seeded random corpora, and its 13a
// tokenizer's output for hand-picked and random lines (see fixtures/make_bleu_fixtures.py). The
// hand-written tests below check the same properties without the fixture.
import { readFileSync } from 'node:fs';
import { ConfigError, DataError } from '@attend/core';
import { describe, expect, it } from 'vitest';
import { corpusBleu, sentenceBleu, tokenize13a, type BleuOptions, type BleuScore } from '../src/index.js';

/** The fixture's expected values: the same fields as a BleuScore. */
type Expected = BleuScore;
interface Fixture {
  meta: { sacrebleu: string };
  corpus: { name: string; hypotheses: string[]; references: string[][]; options: BleuOptions; expected: Expected }[];
  sentence: { name: string; hypothesis: string; references: string[]; options: BleuOptions; expected: Expected }[];
  tokenize13a: { input: string; output: string }[];
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/bleu.json', import.meta.url), 'utf8')) as Fixture;

function expectScore(actual: BleuScore, expected: Expected): void {
  expect(actual.score).toBeCloseTo(expected.score, 9);
  expect(actual.bp).toBeCloseTo(expected.bp, 12);
  expect(actual.sysLen).toBe(expected.sysLen);
  expect(actual.refLen).toBe(expected.refLen);
  expect(actual.counts).toEqual(expected.counts);
  expect(actual.totals).toEqual(expected.totals);
  expect(actual.precisions).toHaveLength(4);
  actual.precisions.forEach((p, i) => expect(p).toBeCloseTo(expected.precisions[i]!, 9));
}

describe(`corpusBleu matches sacrebleu ${fixture.meta.sacrebleu}`, () => {
  it.each(fixture.corpus.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expectScore(corpusBleu(c.hypotheses, c.references, c.options), c.expected);
  });
});

describe(`sentenceBleu matches sacrebleu.sentence_bleu ${fixture.meta.sacrebleu}`, () => {
  it.each(fixture.sentence.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expectScore(sentenceBleu(c.hypothesis, c.references, c.options), c.expected);
  });
});

describe('tokenize13a matches sacrebleu Tokenizer13a', () => {
  it(`on ${fixture.tokenize13a.length} lines`, () => {
    for (const { input, output } of fixture.tokenize13a) expect(tokenize13a(input), JSON.stringify(input)).toBe(output);
  });

  it('keeps apostrophes, accents and numbers; splits punctuation; unescapes entities', () => {
    expect(tokenize13a("L'homme, c'est mon frère.")).toBe("L'homme , c'est mon frère .");
    expect(tokenize13a('Où est-ce que tu vas ?')).toBe('Où est-ce que tu vas ?');
    expect(tokenize13a('It costs $3.14, or 1,000 yen.')).toBe('It costs $ 3.14 , or 1,000 yen .');
    expect(tokenize13a('5-3 &quot;ok&quot; &amp;')).toBe('5 - 3 " ok " &');
  });
});

describe('corpusBleu: known values', () => {
  it("sacreBLEU's README example: 48.53 82.4/50.0/45.5/37.5 (BP = 0.943, hyp_len = 17, ref_len = 18)", () => {
    const r = corpusBleu(
      ['The dog bit the man.', "It wasn't surprising.", 'The man had just bitten him.'],
      [
        ['The dog bit the man.', 'The dog had bit the man.'],
        ['It was not unexpected.', 'No one was surprised.'],
        ['The man bit him first.', 'The man had bitten the dog.'],
      ],
    );
    expect(r.score.toFixed(2)).toBe('48.53');
    expect(r.precisions.map((p) => p.toFixed(1))).toEqual(['82.4', '50.0', '45.5', '37.5']);
    expect(r.bp.toFixed(3)).toBe('0.943');
    expect([r.sysLen, r.refLen]).toEqual([17, 18]);
  });

  it('perfect match = 100, no overlap = 0', () => {
    const hyps = ['the cat sat on the mat', 'a b c d e'];
    expect(corpusBleu(hyps, hyps.map((h) => [h])).score).toBeCloseTo(100, 10);
    const none = corpusBleu(['w x y z'], [['a b c d']], { smooth: 'none' });
    expect(none.score).toBe(0);
    expect(none.counts).toEqual([0, 0, 0, 0]);
  });

  it('clips each n-gram to its max count over the references (Papineni et al. 2002: "the" ×7 → 2/7)', () => {
    const r = corpusBleu(['the the the the the the the'], [['the cat is on the mat', 'there is a cat on the mat']], { smooth: 'none' });
    expect(r.counts[0]).toBe(2);
    expect(r.totals[0]).toBe(7);
    expect(r.precisions[0]).toBeCloseTo((100 * 2) / 7, 12);
  });

  it('brevity penalty exp(1 − r/c) with the closest reference (ties → shorter), 1 when longer', () => {
    const r = corpusBleu(['the cat'], [['the cat is on the mat']]);
    expect(r.bp).toBeCloseTo(Math.exp(1 - 6 / 2), 12);
    expect(corpusBleu(['a b c d e'], [['a b c d', 'a b c d e f']]).refLen).toBe(4);
    expect(corpusBleu(['a b c d e f g'], [['a b c d e f']]).bp).toBe(1);
  });

  it('empty hypothesis: score 0, bp 0', () => {
    const r = corpusBleu([''], [['the cat']]);
    expect(r).toMatchObject({ score: 0, bp: 0, sysLen: 0, refLen: 2, totals: [0, 0, 0, 0] });
  });

  it('rejects bad options and mismatched inputs', () => {
    expect(() => corpusBleu(['a'], [['a']], { smooth: 'add-one' as never })).toThrow(ConfigError);
    expect(() => corpusBleu(['a'], [['a']], { tokenize: 'intl' as never })).toThrow('tokenize expected one of "13a", "none", got "intl"');
    expect(() => corpusBleu(['a'], [['a']], { lowercase: 'yes' as never })).toThrow(ConfigError);
    expect(() => corpusBleu(['a'], [['a']], { smoothing: 'exp' } as never)).toThrow(/unknown option "smoothing"/);
    expect(() => corpusBleu(['a', 'b'], [['a']])).toThrow(DataError);
    expect(() => corpusBleu(['a', 'b'], [['a']])).toThrow('expected one list of references per hypothesis, got 2 hypotheses and 1 reference lists');
    expect(() => corpusBleu(['a'], [[]])).toThrow('references[0] expected a non-empty array of strings');
    expect(() => sentenceBleu('a', 'a' as never)).toThrow(DataError);
  });
});
