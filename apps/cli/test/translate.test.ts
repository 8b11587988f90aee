// The translation CLI end to end (train on the date task → translate with an attention map; train on
// a tiny generated pairs file → eval BLEU), every bad input of the issue, and the batching helper:
// padding never changes a sentence's loss. Runs the real `attend` entry (src/main.ts).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Seq2Seq } from '@attend/attention';
import { selectBackend } from '@attend/core/node';
import { beforeAll, describe, expect, it } from 'vitest';
import { PairBatcher, padBatch, toTensors, disposeBatch, type Example } from '../src/translate/batches.js';
import { CLI_DIR, TINY as CHAR_RNN_TINY, attend as attendMain, generatedText, tempDir } from './helpers.js';

const ENTRY = join(CLI_DIR, 'src', 'main.ts');
function attend(args: string[]) {
  const r = spawnSync(process.execPath, ['--conditions=@attend/source', '--import', 'tsx', ENTRY, ...args], {
    cwd: CLI_DIR,
    encoding: 'utf8',
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' },
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, all: r.stdout + r.stderr };
}

const TINY = ['--backend', 'cpu', '--hidden', '16', '--embed', '8', '--batch', '8', '--eval-every', '3', '--eval-sentences', '10'];

/** A tiny deterministic "language pair": word-for-word with a fixed reordering (no corpus committed). */
function generatedPairs(n: number): string {
  const subj = [['the cat', 'le chat'], ['the dog', 'le chien'], ['a bird', 'un oiseau'], ['my friend', 'mon ami']];
  const verb = [['sees', 'voit'], ['likes', 'aime'], ['eats', 'mange']];
  const obj = [['bread', 'du pain'], ['the ball', 'la balle'], ['water', "de l'eau"], ['a fish', 'un poisson']];
  const adv = [['today', "aujourd'hui"], ['often', 'souvent'], ['now', 'maintenant'], ['again', 'encore'], ['', '']];
  const lines: string[] = [];
  let x = 11;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const [s, v, o, a] = [subj[x % 4]!, verb[(x >> 4) % 3]!, obj[(x >> 8) % 4]!, adv[(x >> 12) % 5]!];
    lines.push(`${s[0]} ${v[0]} ${o[0]} ${a[0]} .\t${s[1]} ${v[1]} ${o[1]} ${a[1]} .`.replace(/ {2}/g, ' '));
  }
  return lines.join('\n') + '\n';
}

/** The same generator for English→Russian (Cyrillic, mixed case: --lowercase folds it). */
function generatedRussianPairs(n: number): string {
  const subj = [['The cat', 'Кошка'], ['The dog', 'Собака'], ['My friend', 'Мой друг'], ['Anna', 'Анна']];
  const verb = [['sees', 'видит'], ['likes', 'любит'], ['eats', 'ест']];
  const obj = [['bread', 'хлеб'], ['fish', 'рыбу'], ['soup', 'суп'], ['an apple', 'яблоко']];
  const adv = [['today', 'сегодня'], ['again', 'снова'], ['', '']];
  const lines: string[] = [];
  let x = 7;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const [s, v, o, a] = [subj[(x >> 16) % 4]!, verb[(x >> 20) % 3]!, obj[(x >> 24) % 4]!, adv[(x >> 12) % 3]!];
    lines.push(`${s[0]} ${v[0]} ${o[0]} ${a[0]}.\t${s[1]} ${a[1]} ${v[1]} ${o[1]}.`.replace(/ {2,}/g, ' ').replace(/ \./g, '.'));
  }
  return lines.join('\n') + '\n';
}

let work: string;
let dates: string;
let pairsFile: string;
let words: string;
let wordsLog: string;

beforeAll(() => {
  work = tempDir('translate');
  dates = join(work, 'dates');
  const r = attend(['train', 'translate', '--steps', '4', '--out', dates, ...TINY]);
  expect(r.all).toContain('done at step 4');
  expect(r.code).toBe(0);
  pairsFile = join(work, 'pairs.tsv');
  writeFileSync(pairsFile, generatedPairs(300));
  words = join(work, 'words');
  const w = attend(['train', 'translate', '--pairs', pairsFile, '--steps', '4', '--out', words, ...TINY]);
  expect(w.all).toContain('done at step 4');
  expect(w.code).toBe(0);
  wordsLog = w.stdout;
}, 120_000);

describe('attend train translate', () => {
  it('trains on the date task: data, model, validation translations, exact match, checkpoint', () => {
    for (const f of ['config.json', 'tokenizer.json', 'weights.bin', 'state.json']) expect(existsSync(join(dates, f))).toBe(true);
    const config = JSON.parse(readFileSync(join(dates, 'config.json'), 'utf8')) as { model: { kind: string; attention: string } };
    expect(config.model.kind).toBe('translate');
    expect(config.model.attention).toBe('general');
    const tok = JSON.parse(readFileSync(join(dates, 'tokenizer.json'), 'utf8')) as { src: { type: string }; tgt: { type: string } };
    expect([tok.src.type, tok.tgt.type]).toEqual(['char', 'char']);
  });

  it('trains on a pairs file with word tokens and prints BLEU at the end', () => {
    const tok = JSON.parse(readFileSync(join(words, 'tokenizer.json'), 'utf8')) as { src: { type: string; vocab: string[] } };
    expect(tok.src.type).toBe('word');
    expect(tok.src.vocab).toContain('cat');
  });

  it('--tokens bpe: a byte-level BPE per side, trained on the pairs; translate, map and eval read it back', () => {
    const bpe = join(work, 'bpe');
    const r = attend(['train', 'translate', '--pairs', pairsFile, '--tokens', 'bpe', '--bpe-vocab', '300', '--steps', '4', '--out', bpe, ...TINY]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/vocabulary: source \d+ \+ 4 specials, target \d+ \+ 4 specials \(bpe tokens/);
    const tok = JSON.parse(readFileSync(join(bpe, 'tokenizer.json'), 'utf8')) as { src: { type: string; merges: unknown[] }; tgt: { type: string } };
    expect(tok.src.type).toBe('bpe');
    expect(tok.tgt.type).toBe('bpe');
    expect(tok.src.merges.length).toBeGreaterThan(0);
    expect(tok.src.merges.length).toBeLessThanOrEqual(300 - 260);
    const svg = join(work, 'bpe.svg');
    const t = attend(['translate', '--model', bpe, '--attention-map', svg, '--backend', 'cpu', 'the cat sees the dog .']);
    expect(t.code).toBe(0);
    expect(t.stderr).not.toContain('[UNK]'); // bytes cover any text
    expect(readFileSync(svg, 'utf8')).toContain('</svg>');
    const e = attend(['eval', 'translate', '--model', bpe, '--pairs', pairsFile, '--beam', '1', '--max', '10', '--backend', 'cpu']);
    expect(e.code).toBe(0);
    expect(e.stdout).toMatch(/BLEU/);
    const bad = attend(['train', 'translate', '--pairs', pairsFile, '--tokens', 'bpe', '--bpe-vocab', '100', '--out', join(work, 'bpe-bad'), ...TINY]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--bpe-vocab: expected an integer ≥ 261, got "100"');
  });

  it('English→Russian: Cyrillic words lower-cased and tokenized like Latin ones, both directions, BLEU on Cyrillic', () => {
    const ru = join(work, 'eng-rus.tsv');
    writeFileSync(ru, generatedRussianPairs(300));
    const out = join(work, 'rus');
    const r = attend(['train', 'translate', '--pairs', ru, '--lowercase', '--steps', '4', '--out', out, ...TINY]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/validation BLEU = [\d.]+ /);
    const tok = JSON.parse(readFileSync(join(out, 'tokenizer.json'), 'utf8')) as { tgt: { type: string; vocab: string[] } };
    expect(tok.tgt.type).toBe('word');
    expect(tok.tgt.vocab).toEqual(expect.arrayContaining(['кошка', 'видит', 'яблоко', 'мой', '.']));
    expect(tok.tgt.vocab).not.toContain('Кошка');
    // Russian → English: a Cyrillic source sentence, capitals folded as in training, has no unknown word.
    const back = join(work, 'rus-eng');
    const b = attend(['train', 'translate', '--pairs', ru, '--lowercase', '--reverse', '--steps', '4', '--out', back, ...TINY]);
    expect(b.code).toBe(0);
    const t = attend(['translate', '--model', back, '--backend', 'cpu', 'Кошка сегодня ест рыбу.']);
    expect(t.code).toBe(0);
    expect(t.stderr).not.toContain('[UNK]');
    const u = attend(['translate', '--model', back, '--backend', 'cpu', 'Кошка ест борщ.']);
    expect(u.code).toBe(0);
    expect(u.stderr).toContain('борщ'); // the unknown word is named
    const e = attend(['eval', 'translate', '--model', out, '--pairs', ru, '--beam', '1', '--max', '20', '--backend', 'cpu']);
    expect(e.code).toBe(0);
    expect(e.stdout).toMatch(/BLEU = [\d.]+ /);
  });

  it('resuming with another --attention is rejected; the same model continues', () => {
    const bad = attend(['train', 'translate', '--steps', '6', '--out', dates, '--resume', '--attention', 'dot', ...TINY]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/trained with attention=general; you asked for attention=dot/);
    const exists = attend(['train', 'translate', '--steps', '6', '--out', dates, ...TINY]);
    expect(exists.code).toBe(2);
    expect(exists.stderr).toContain('--resume');
    const ok = attend(['train', 'translate', '--steps', '6', '--out', dates, '--resume', ...TINY]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('done at step 6');
  });
});

describe('attend translate and eval translate', () => {
  it('translates, warns about unknown characters, and writes an SVG with one row per output token', () => {
    const svg = join(work, 'map.svg');
    const r = attend(['translate', '--model', dates, '--beam', '2', '--attention-map', svg, '--backend', 'cpu', 'May 3☃ 1998', '1/2/2003']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('[UNK]: "☃"');
    const lines = r.stdout.split('\n');
    expect(lines.length).toBe(3); // two translations and the final newline
    const text = readFileSync(svg, 'utf8');
    expect(text.startsWith('<?xml')).toBe(true);
    expect(text.trimEnd().endsWith('</svg>')).toBe(true);
    expect(text).toContain('May 3☃ 1998'); // the title
    expect(text.match(/<g class="row">/g)?.length ?? 0).toBe([...lines[0]!].length);
    expect(text.match(/<text class="src"/g)?.length).toBe([...'May 3☃ 1998'].length);
    expect(text.match(/<g /g)?.length ?? 0).toBe(text.match(/<\/g>/g)?.length ?? 0);
  });

  it('--attention-map refuses a file name that is not .svg (nothing written)', () => {
    const png = join(work, 'map.png');
    const r = attend(['translate', '--model', dates, '--attention-map', png, '--backend', 'cpu', '3/5/98']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--attention-map writes an SVG: expected a file name ending in .svg, got "${png}"`);
    expect(existsSync(png)).toBe(false);
  });

  it('empty input and no input are clear errors', () => {
    const r = attend(['translate', '--model', dates, '--backend', 'cpu', '   ']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('sentence 1 is empty');
    expect(attend(['translate', '--model', dates, '--backend', 'cpu']).stderr).toContain('no sentence given');
  });

  it('eval translate prints corpus BLEU, the 4 precisions, BP and lengths', () => {
    const r = attend(['eval', 'translate', '--model', words, '--pairs', pairsFile, '--beam', '1', '--max', '20', '--backend', 'cpu']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/BLEU = \d+\.\d\d [\d.]+\/[\d.]+\/[\d.]+\/[\d.]+ \(BP = [\d.]+ ratio = [\d.]+ hyp_len = \d+ ref_len = \d+\)/);
    expect(r.stdout).toContain('brevity penalty');
  });

  it('eval translate --split validation scores the checkpoint\'s held-out pairs: the trainer\'s final BLEU, reproduced', () => {
    const trained = /validation (BLEU = .*) on (\d+) sentences \(greedy\)/.exec(wordsLog);
    expect(trained).not.toBeNull();
    const r = attend(['eval', 'translate', '--model', words, '--split', 'validation', '--beam', '1', '--max', trained![2]!, '--backend', 'cpu']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`the validation split of ${pairsFile}`);
    expect(r.stdout).toContain(`${trained![2]} distinct sources translated`);
    expect(r.stdout).toContain(trained![1]!);
    const bad = attend(['eval', 'translate', '--model', words, '--split', 'test', '--backend', 'cpu']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--split: expected one of validation, training, got "test"');
    const none = attend(['eval', 'translate', '--model', words, '--backend', 'cpu']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('--pairs FILE or --split validation is required');
  });
});

describe('bad input', () => {
  it('a line without a tab: the DataError with file:line, or skipped with --skip-bad', () => {
    const bad = join(work, 'bad.tsv');
    writeFileSync(bad, generatedPairs(50) + 'no tab on this line\n' + generatedPairs(250) + 'the cat sees the dog and the bird and the fish .\tle chat voit le chien .\n');
    const r = attend(['train', 'translate', '--pairs', bad, '--steps', '1', '--out', join(work, 'bad-run'), ...TINY]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('bad.tsv:51: expected');
    const s = attend(['train', 'translate', '--pairs', bad, '--skip-bad', '--max-length', '7', '--steps', '1', '--out', join(work, 'skip-run'), ...TINY]);
    expect(s.code).toBe(0);
    expect(s.stdout).toContain('skipped 1 bad line');
    expect(s.stdout).toContain('filtered 1 pair longer than --max-length 7 tokens');
  });

  it('invalid UTF-8 is refused with its line', () => {
    const bin = join(work, 'latin1.tsv');
    writeFileSync(bin, Buffer.concat([Buffer.from('a cat\tun chat\n'), Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x09, 0x63, 0x61, 0x66, 0xe9, 0x0a])]));
    const r = attend(['train', 'translate', '--pairs', bin, '--steps', '1', '--out', join(work, 'bin-run'), ...TINY]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/latin1\.tsv:2\b/);
  });

  it('a checkpoint of another kind (char-rnn) is a clear error', () => {
    const corpus = join(work, 'corpus.txt');
    writeFileSync(corpus, generatedText(3000));
    const charRnn = join(work, 'char-rnn');
    expect(attendMain(['train', 'char-rnn', '--corpus', corpus, '--steps', '1', '--out', charRnn, ...CHAR_RNN_TINY]).code).toBe(0);
    const r = attend(['translate', '--model', charRnn, '--backend', 'cpu', 'hello']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('holds a "char-rnn" model');
  });

  it('unknown flags exit 2', () => {
    expect(attend(['train', 'translate', '--bogus']).code).toBe(2);
    expect(attend(['translate', '--model', dates, '--bogus', 'x']).code).toBe(2);
    expect(attend(['eval', 'translate', '--bogus']).code).toBe(2);
    expect(attend(['train', 'translate', '--attention', 'luong']).stderr).toContain('--attention: expected one of dot, general, additive, none');
  });
});

describe('batches', () => {
  beforeAll(async () => {
    await selectBackend({ prefer: 'cpu', log: false });
  });

  const examples: Example[] = [
    { src: [5, 6, 7, 8, 9], tgt: [4, 5] },
    { src: [6], tgt: [7, 8, 9, 4] },
    { src: [9, 8, 7], tgt: [6] },
  ];

  it('teacher forcing: tgtIn = [BOS] + target, tgtOut = target + [EOS], padded with 0 and masked', () => {
    const b = padBatch(examples);
    expect([b.srcLen, b.tgtLen]).toEqual([5, 5]);
    expect([...b.src.slice(5, 10)]).toEqual([6, 0, 0, 0, 0]);
    expect([...b.tgtIn.slice(0, 5)]).toEqual([1, 4, 5, 0, 0]);
    expect([...b.tgtOut.slice(0, 5)]).toEqual([4, 5, 2, 0, 0]);
    expect([...b.tgtMask.slice(0, 5)]).toEqual([1, 1, 1, 0, 0]);
    expect(b.srcLengths).toEqual([5, 1, 3]);
  });

  it('padding never changes the loss: each sentence in a padded batch scores as it does alone', () => {
    for (const attention of ['general', 'additive'] as const) {
      const model = new Seq2Seq({ srcVocab: 10, tgtVocab: 10, embed: 4, hidden: 6, attention, seed: 3 });
      const lossOf = (exs: Example[]) => {
        const t = toTensors(padBatch(exs));
        const nll = model.tokenLosses(t.src, t.srcLengths, t.tgtIn, t.tgtOut, t.tgtMask);
        const total = tf.sum(nll, 1);
        const sums = total.arraySync() as number[];
        total.dispose();
        nll.dispose();
        disposeBatch(t);
        return sums;
      };
      const batched = lossOf(examples);
      examples.forEach((e, i) => expect(batched[i]).toBeCloseTo(lossOf([e])[0]!, 5));
      model.dispose();
    }
    expect(tf.memory().numTensors).toBeLessThan(50);
  });

  it('the batcher is deterministic and resumes from its state', () => {
    const many: Example[] = Array.from({ length: 50 }, (_, i) => ({ src: Array.from({ length: 1 + (i % 7) }, () => 4 + (i % 5)), tgt: [4 + (i % 3)] }));
    const a = new PairBatcher(many, { batchSize: 4, seed: 1, window: 3 });
    for (let i = 0; i < 17; i++) a.next(); // into the second epoch (12 batches per epoch)
    const b = new PairBatcher(many, { batchSize: 4, seed: 1, window: 3 });
    b.setState(a.state());
    for (let i = 0; i < 10; i++) expect([...b.next().src]).toEqual([...a.next().src]);
    // Within a window the batches are sorted by source length: little padding.
    const c = new PairBatcher(many, { batchSize: 4, seed: 1, window: 3 });
    const first = c.next();
    expect(Math.max(...first.srcLengths) - Math.min(...first.srcLengths)).toBeLessThanOrEqual(6);
  });
});
