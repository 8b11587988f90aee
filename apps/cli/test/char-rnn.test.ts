// The char-rnn CLI end to end (train → sample → eval → resume) and every bad input of the issue:
// each gets a clear message, a non-zero exit, and nothing existing is overwritten.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, readdirSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { TINY, attend, attendAsync, generatedText, tempDir } from './helpers.js';

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const snapshot = (dir: string) => Object.fromEntries(readdirSync(dir).sort().map((f) => [f, sha(join(dir, f))]));

let work: string;
let corpus: string;
let model: string;

beforeAll(() => {
  work = tempDir('cli');
  corpus = join(work, 'corpus.txt');
  writeFileSync(corpus, generatedText(20_000));
  model = join(work, 'model');
  const r = attend(['train', 'char-rnn', '--corpus', corpus, '--steps', '6', '--out', model, ...TINY]);
  expect(r.stderr + r.stdout).toContain('done at step 6');
  expect(r.code).toBe(0);
}, 120_000);

describe('attend train char-rnn', () => {
  it('prints the backend, parameter count, samples and validation loss, and writes a checkpoint', () => {
    const r = attend(['train', 'char-rnn', '--corpus', corpus, '--steps', '3', '--out', join(work, 'fresh'), ...TINY]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('backend: cpu');
    expect(r.stdout).toMatch(/model: 1-layer LSTM, hidden 16, embedding 8: [\d,]+ parameters/);
    expect(r.stderr).toContain('--- sample at step 3');
    expect(r.stdout).toMatch(/validation \d+\.\d+ nats\/char = \d+\.\d+ bits\/char/);
    for (const f of ['config.json', 'tokenizer.json', 'weights.bin', 'weights.json', 'optimizer.bin', 'optimizer.json', 'state.json']) {
      expect(existsSync(join(work, 'fresh', f))).toBe(true);
    }
  });

  it('Ctrl-C saves a checkpoint and exits cleanly; --resume then ends with weights identical to an uninterrupted run (cpu, same seed)', async () => {
    const full = join(work, 'full');
    expect(attend(['train', 'char-rnn', '--corpus', corpus, '--steps', '40', '--out', full, ...TINY]).code).toBe(0);
    const part = join(work, 'interrupted');
    const child = attendAsync(['train', 'char-rnn', '--corpus', corpus, '--steps', '40', '--out', part, ...TINY]);
    let err = '';
    const code = await new Promise<number | null>((resolve) => {
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        if (/step \d+/.test(err) && !child.killed) child.kill('SIGINT');
      });
      child.on('exit', (c) => resolve(c));
    });
    expect(code).toBe(130);
    const state = JSON.parse(readFileSync(join(part, 'state.json'), 'utf8')) as { step: number };
    expect(state.step).toBeGreaterThan(0);
    expect(state.step).toBeLessThan(40); // really interrupted, so the resume below has work to do
    const r = attend(['train', 'char-rnn', '--corpus', corpus, '--steps', '40', '--out', part, '--resume', ...TINY]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('done at step 40');
    expect(sha(join(part, 'weights.bin'))).toBe(sha(join(full, 'weights.bin')));
    expect(sha(join(part, 'optimizer.bin'))).toBe(sha(join(full, 'optimizer.bin')));
  });
});

describe('attend sample and eval', () => {
  it('samples reproducibly under a seed, continuing the prime', () => {
    const a = attend(['sample', '--model', model, '--prime', 'the ', '--length', '40', '--seed', '3', '--backend', 'cpu']);
    const b = attend(['sample', '--model', model, '--prime', 'the ', '--length', '40', '--seed', '3', '--backend', 'cpu']);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout.startsWith('the ')).toBe(true);
    expect([...a.stdout.trimEnd()].length).toBeGreaterThanOrEqual(40);
  });

  it('greedy sampling (temperature 0) equals top-k 1', () => {
    const a = attend(['sample', '--model', model, '--length', '30', '--temperature', '0', '--backend', 'cpu']);
    const b = attend(['sample', '--model', model, '--length', '30', '--top-k', '1', '--seed', '9', '--backend', 'cpu']);
    expect(a.stdout).toBe(b.stdout);
  });

  it('eval prints loss and bits per character', () => {
    const r = attend(['eval', '--model', model, '--corpus', corpus, '--backend', 'cpu', '--max-batches', '2']);
    expect(r.code).toBe(0);
    const m = /loss: (\d+\.\d+) nats\/char = (\d+\.\d+) bits\/char/.exec(r.stdout);
    expect(m).not.toBeNull();
    expect(Number(m![2])).toBeCloseTo(Number(m![1]) / Math.LN2, 3);
  });
});

describe('bad input: clear message, non-zero exit, nothing overwritten', () => {
  const train = (...args: string[]) => attend(['train', 'char-rnn', ...TINY, '--steps', '2', ...args]);

  it('a missing corpus', () => {
    const r = train('--corpus', join(work, 'nope.txt'), '--out', join(work, 'o1'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/nope\.txt does not exist/);
  });

  it('an empty corpus', () => {
    const f = join(work, 'empty.txt');
    writeFileSync(f, '');
    const r = train('--corpus', f, '--out', join(work, 'o2'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/empty/i);
  });

  it('a binary corpus (NUL bytes) unless --allow-binary', () => {
    const f = join(work, 'binary.dat');
    writeFileSync(f, Buffer.concat([Buffer.from(generatedText(3000)), Buffer.from([0, 1, 2, 0]), Buffer.from(generatedText(3000))]));
    const r = train('--corpus', f, '--out', join(work, 'o3'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/looks binary \(NUL byte at offset \d+\); pass --allow-binary/);
    expect(train('--corpus', f, '--out', join(work, 'o3b'), '--allow-binary').code).toBe(0);
  });

  it('invalid UTF-8', () => {
    const f = join(work, 'latin1.txt');
    writeFileSync(f, Buffer.concat([Buffer.from(generatedText(3000)), Buffer.from([0xe9, 0x20, 0x61])]));
    const r = train('--corpus', f, '--out', join(work, 'o4'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/invalid UTF-8 at byte \d+/);
  });

  it('a corpus shorter than one window', () => {
    const f = join(work, 'short.txt');
    writeFileSync(f, 'to be or not to be');
    const r = train('--corpus', f, '--out', join(work, 'o5'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/characters; need at least \d+ for --seq-len 16/);
  });

  it('prime text outside the vocabulary', () => {
    const r = attend(['sample', '--model', model, '--prime', 'Ωmega', '--backend', 'cpu']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--prime: Unknown character "Ω" \(U\+03A9\) at position 0/);
  });

  it('resuming a checkpoint with another model shape', () => {
    const before = snapshot(model);
    const r = attend(['train', 'char-rnn', ...TINY, '--hidden', '32', '--corpus', corpus, '--out', model, '--resume', '--steps', '8']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/trained with hidden=16; you asked for hidden=32/);
    expect(snapshot(model)).toEqual(before);
  });

  it('a directory that is not a character-model checkpoint, a char-gpt config with char-rnn weights, and no checkpoint at all', () => {
    const other = join(work, 'other-kind');
    mkdirSync(other);
    for (const f of readdirSync(model)) writeFileSync(join(other, f), readFileSync(join(model, f)));
    const cfg = JSON.parse(readFileSync(join(other, 'config.json'), 'utf8'));
    cfg.model.kind = 'translate';
    writeFileSync(join(other, 'config.json'), JSON.stringify(cfg));
    const r = attend(['sample', '--model', other, '--backend', 'cpu']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/holds a "translate" model; this command expects a character model written by `attend train char-rnn` or `attend train char-gpt`/);
    cfg.model.kind = 'char-gpt';
    writeFileSync(join(other, 'config.json'), JSON.stringify(cfg));
    const g = attend(['sample', '--model', other, '--backend', 'cpu']);
    expect(g.code).toBe(1);
    expect(g.stderr).toMatch(/checkpoint .* is corrupt: its char-gpt model config is invalid: GPT: unknown option "cell"/);
    const none = attend(['sample', '--model', work, '--backend', 'cpu']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no checkpoint in/);
  });

  it('a checkpoint from another tokenizer (vocabulary size mismatch)', () => {
    const other = join(work, 'other-tok');
    mkdirSync(other);
    for (const f of readdirSync(model)) writeFileSync(join(other, f), readFileSync(join(model, f)));
    const tok = JSON.parse(readFileSync(join(other, 'tokenizer.json'), 'utf8'));
    tok.vocab.push('Ω');
    writeFileSync(join(other, 'tokenizer.json'), JSON.stringify(tok));
    const r = attend(['sample', '--model', other, '--backend', 'cpu']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/tokenizer has \d+ tokens but its model expects \d+/);
  });

  it('a corrupt checkpoint', () => {
    const bad = join(work, 'corrupt');
    mkdirSync(bad);
    for (const f of readdirSync(model)) writeFileSync(join(bad, f), readFileSync(join(model, f)));
    const w = readFileSync(join(bad, 'weights.bin'));
    w[10] ^= 0xff;
    writeFileSync(join(bad, 'weights.bin'), w);
    const r = attend(['sample', '--model', bad, '--backend', 'cpu']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is corrupt/);
  });

  it('unknown flags and commands', () => {
    const r = attend(['train', 'char-rnn', '--hiddn', '5']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Unknown option '--hiddn'/);
    expect(r.stderr).toContain('Usage: attend train char-rnn');
    const c = attend(['trian']);
    expect(c.code).toBe(2);
    expect(c.stderr).toContain('unknown command "trian"');
  });

  it('zero, negative and non-numeric sizes', () => {
    for (const [flag, value] of [['--hidden', '0'], ['--layers', '-1'], ['--batch', 'many'], ['--lr', '0'], ['--dropout', '1.5']] as const) {
      const r = attend(['train', 'char-rnn', `${flag}=${value}`, '--out', join(work, 'o6')]);
      expect(r.code, `${flag} ${value}`).toBe(2);
      expect(r.stderr).toContain(`${flag}: expected`);
    }
    // Written with a space, a negative number reads like a flag: Node's parser says so.
    const r = attend(['train', 'char-rnn', '--layers', '-1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Option '--layers' argument is ambiguous");
  });

  it('an existing run is never overwritten without --resume', () => {
    const before = snapshot(model);
    const r = train('--corpus', corpus, '--out', model);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/already holds a checkpoint; pass --resume to continue it, or choose another --out \(nothing was overwritten\)/);
    expect(snapshot(model)).toEqual(before);
  });

  it('--config with an unknown key', () => {
    const f = join(work, 'cfg.json');
    writeFileSync(f, JSON.stringify({ hidden: 16, hiden: 3 }));
    const r = attend(['train', 'char-rnn', '--config', f, '--out', join(work, 'o7')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--config: unknown key "hiden"');
  });
});
