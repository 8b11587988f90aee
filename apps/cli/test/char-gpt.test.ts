// The char-gpt CLI end to end (train → sample → eval → resume) on a tiny Transformer, and the
// inputs it must refuse; the trainer is shared with char-rnn (char-rnn.test.ts covers the data errors).
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { attend, generatedText, tempDir } from './helpers.js';

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** A GPT small enough to train a few steps in a second or two on the cpu backend. */
const TINY_GPT = ['--backend', 'cpu', '--layers', '1', '--d-model', '16', '--heads', '2', '--seq-len', '16', '--batch', '4', '--eval-every', '3', '--eval-batches', '2', '--sample-at', '3', '--sample-length', '20'];

let work: string;
let corpus: string;
let model: string;

beforeAll(() => {
  work = tempDir('gpt');
  corpus = join(work, 'corpus.txt');
  writeFileSync(corpus, generatedText(20_000));
  model = join(work, 'model');
  const r = attend(['train', 'char-gpt', '--corpus', corpus, '--steps', '6', '--out', model, ...TINY_GPT]);
  expect(r.stderr + r.stdout).toContain('done at step 6');
  expect(r.code).toBe(0);
}, 120_000);

describe('attend train char-gpt', () => {
  it('prints the backend, the model and its parameter count, samples and validation loss', () => {
    const r = attend(['train', 'char-gpt', '--corpus', corpus, '--steps', '3', '--out', join(work, 'fresh'), ...TINY_GPT]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('backend: cpu');
    expect(r.stdout).toMatch(/model: GPT, 1 layers × 2 heads, d 16, context 16, pre-LN: [\d,]+ parameters; batch 4 × 16 characters; backend cpu/);
    expect(r.stderr).toContain('--- sample at step 3');
    expect(r.stdout).toMatch(/validation \d+\.\d+ nats\/char/);
    const config = JSON.parse(readFileSync(join(work, 'fresh', 'config.json'), 'utf8')) as { model: { kind: string; contextLength: number; dModel: number } };
    expect(config.model).toMatchObject({ kind: 'char-gpt', contextLength: 16, dModel: 16 });
  });

  it('learns: the loss falls well below the uniform ln(V) in 60 steps', () => {
    const r = attend(['train', 'char-gpt', '--corpus', corpus, '--steps', '60', '--lr', '0.01', '--out', join(work, 'learn'), ...TINY_GPT, '--eval-every', '60', '--sample-at', 'none']);
    expect(r.code).toBe(0);
    const val = Number(/validation (\d+\.\d+) nats\/char/.exec(r.stdout)?.[1]);
    const vocab = Number(/vocabulary (\d+) \+ 4 specials/.exec(r.stdout)?.[1]) + 4;
    expect(val).toBeLessThan(Math.log(vocab) - 0.8);
  });

  it('--resume continues to the same weights as an uninterrupted run (cpu, same seed)', () => {
    const full = join(work, 'full');
    expect(attend(['train', 'char-gpt', '--corpus', corpus, '--steps', '12', '--out', full, ...TINY_GPT]).code).toBe(0);
    const part = join(work, 'part');
    expect(attend(['train', 'char-gpt', '--corpus', corpus, '--steps', '12', '--time', '0.01s', '--out', part, ...TINY_GPT]).code).toBe(0);
    const r = attend(['train', 'char-gpt', '--corpus', corpus, '--steps', '12', '--out', part, '--resume', ...TINY_GPT]);
    expect(r.stdout).toContain('done at step 12');
    expect(sha(join(part, 'weights.bin'))).toBe(sha(join(full, 'weights.bin')));
  });

  it('samples from a GPT checkpoint reproducibly, and eval reports bits per character', () => {
    const a = attend(['sample', '--model', model, '--length', '30', '--seed', '3', '--prime', 'the ', '--backend', 'cpu']);
    const b = attend(['sample', '--model', model, '--length', '30', '--seed', '3', '--prime', 'the ', '--backend', 'cpu']);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout.startsWith('the ')).toBe(true);
    expect([...a.stdout.trimEnd()].length).toBeGreaterThanOrEqual(4 + 25); // 30 drawn characters (a few may be newlines)
    const e = attend(['eval', '--model', model, '--corpus', corpus, '--max-batches', '3', '--backend', 'cpu']);
    expect(e.code).toBe(0);
    expect(e.stdout).toMatch(/loss: \d+\.\d+ nats\/char = \d+\.\d+ bits\/char/);
  });

  it('refuses: --d-model not a multiple of --heads, eval windows longer than the context, resuming a char-rnn as a GPT', () => {
    const bad = attend(['train', 'char-gpt', '--corpus', corpus, '--out', join(work, 'bad'), ...TINY_GPT, '--d-model', '18', '--heads', '4']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--d-model must be a multiple of --heads, got --d-model 18 and --heads 4');
    const long = attend(['eval', '--model', model, '--corpus', corpus, '--seq-len', '64', '--backend', 'cpu']);
    expect(long.code).not.toBe(0);
    expect(long.stderr).toContain("--seq-len 64 exceeds this GPT's context length 16");
    const rnn = join(work, 'rnn');
    expect(attend(['train', 'char-rnn', '--corpus', corpus, '--steps', '2', '--out', rnn, '--backend', 'cpu', '--hidden', '8', '--embed', '4', '--layers', '1', '--seq-len', '16', '--batch', '2', '--eval-every', '2', '--eval-batches', '1', '--sample-at', 'none', '--sample-length', '5']).code).toBe(0);
    const wrong = attend(['train', 'char-gpt', '--corpus', corpus, '--out', rnn, '--resume', ...TINY_GPT]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain('holds a "char-rnn" model');
    const flag = attend(['train', 'char-gpt', '--hidden', '8']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("Unknown option '--hidden'");
  });
});
