// `pnpm bench char-rnn`: the char-RNN quality benchmark. Trains a vanilla RNN, a GRU and an LSTM
// (same sizes, same time budget each, the CLI's defaults otherwise) on tinyshakespeare with the
// standard 90/10 split, on the default backend of this machine, and reports validation loss
// (nats/char over the whole validation split) and training throughput. The runs go through the
// `attend train char-rnn` command itself, so what is measured is what users run.
// Target (issue "Character language models end to end"): the 2-layer LSTM ≤ 1.60 nats/char within
// 15 minutes on a 2-core CPU; the gated cells beat the vanilla RNN. nanoGPT's GPU Transformer: 1.47.
// `--cells gpt` (or `pnpm bench char-gpt`) trains `attend train char-gpt` the same way (Transformer
// issue: ≤ 1.88 nats/char within 5 minutes on a 2-core CPU, as nanoGPT's CPU configuration).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@attend/core';
import { requireDataFile } from '@attend/datasets/node';
import { table } from './timing.js';

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'src', 'main.ts');

export interface CharRnnOptions {
  cells: string[];
  /** A time budget (`15m`) per cell; ignored when `steps` is given. */
  budget: string;
  /** A step budget per cell instead: the same number of updates for every cell (loss is then independent of speed). */
  steps?: number;
  backend?: string;
  extra: string[];
}

export interface CharRnnResult {
  cell: string;
  steps: number;
  seconds: number;
  charsPerSecond: number;
  valLoss: number;
  backend: string;
  params: string;
  /** Training flags given after `--`, the same for every cell (e.g. `--lr 0.004`). */
  extra: string[];
}

export function parseCharRnnArgs(argv: string[]): CharRnnOptions {
  const o: CharRnnOptions = { cells: ['rnn', 'gru', 'lstm'], budget: '15m', extra: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = () => {
      const x = argv[++i];
      if (x === undefined) throw new ConfigError(`bench char-rnn: ${a} needs a value`);
      return x;
    };
    if (a === '--cells') {
      o.cells = v().split(',');
      const bad = o.cells.find((c) => !['rnn', 'gru', 'lstm', 'gpt'].includes(c));
      if (bad) throw new ConfigError(`bench char-rnn: --cells expects a list of rnn, gru, lstm, gpt; got "${bad}"`);
    }
    else if (a === '--budget') o.budget = v();
    else if (a === '--steps') {
      const n = Number(v());
      if (!Number.isInteger(n) || n < 1) throw new ConfigError(`bench char-rnn: --steps expects a positive integer`);
      o.steps = n;
    }
    else if (a === '--backend') o.backend = v();
    else if (a === '--') o.extra = argv.slice(i + 1), (i = argv.length);
    else throw new ConfigError(`bench char-rnn: unknown option ${a}; expected --cells rnn,gru,lstm,gpt --budget 15m | --steps N, --backend NAME [-- extra train flags]`);
  }
  return o;
}

export async function benchCharRnn(o: CharRnnOptions): Promise<{ text: string; json: CharRnnResult[] }> {
  const corpus = requireDataFile('tinyshakespeare.txt');
  const results: CharRnnResult[] = [];
  for (const cell of o.cells) {
    const out = mkdtempSync(join(tmpdir(), `attend-bench-${cell}-`));
    try {
      const args = [
        '--conditions=@attend/source', '--import', 'tsx', CLI, 'train', ...(cell === 'gpt' ? ['char-gpt'] : ['char-rnn', '--cell', cell]),
        '--corpus', corpus, ...(o.steps ? ['--steps', `${o.steps}`] : ['--time', o.budget]),
        '--eval-every', '500', '--eval-batches', '1000', '--sample-at', 'none',
        '--out', join(out, 'run'), ...(o.backend ? ['--backend', o.backend] : []), ...o.extra,
      ];
      console.log(`bench char-rnn: training ${cell} for ${o.steps ? `${o.steps} steps` : o.budget} …`);
      const r = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' }, stdio: ['ignore', 'pipe', 'pipe'] });
      if (r.status !== 0) throw new Error(`training ${cell} failed (exit ${r.status}):\n${r.stderr.slice(-2000)}`);
      const state = JSON.parse(readFileSync(join(out, 'run', 'state.json'), 'utf8')) as {
        step: number;
        elapsedSeconds: number;
        metrics: { history: { step: number; valLoss?: number }[] };
      };
      const config = JSON.parse(readFileSync(join(out, 'run', 'config.json'), 'utf8')) as { training: { batch: number; seqLen: number; backend: string } };
      const last = [...state.metrics.history].reverse().find((h) => h.valLoss !== undefined);
      const params = /: ([\d,]+) parameters/.exec(r.stdout)?.[1] ?? '?';
      console.log(r.stdout.split('\n').find((l) => l.startsWith('model:')) ?? '');
      results.push({
        cell,
        steps: state.step,
        seconds: state.elapsedSeconds,
        charsPerSecond: (state.step * config.training.batch * config.training.seqLen) / state.elapsedSeconds,
        valLoss: last?.valLoss ?? NaN,
        backend: config.training.backend,
        params,
        extra: o.extra,
      });
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }
  const text = table([
    ['cell (rnn/gru/lstm: 2 layers, 256 units)', 'parameters', 'backend', 'steps', 'chars/s', `val loss (nats/char) after ${o.steps ? `${o.steps} steps` : o.budget}`, 'bits/char'],
    ...results.map((r) => [r.cell, r.params, r.backend, String(r.steps), r.charsPerSecond.toFixed(0), r.valLoss.toFixed(4), (r.valLoss / Math.LN2).toFixed(3)]),
  ]);
  const lstm = results.find((r) => r.cell === 'lstm');
  const gpt = results.find((r) => r.cell === 'gpt');
  const rnn = results.find((r) => r.cell === 'rnn');
  const verdict = [
    lstm && !o.steps ? `LSTM ${lstm.valLoss.toFixed(3)} nats/char: target ≤ 1.60 within 15m ${lstm.valLoss <= 1.6 ? 'met' : 'NOT met'} (budget ${o.budget})` : '',
    gpt && !o.steps ? `GPT ${gpt.valLoss.toFixed(3)} nats/char: target ≤ 1.88 within 5m ${gpt.valLoss <= 1.88 ? 'met' : 'NOT met'} (budget ${o.budget}; nanoGPT's CPU run: 1.88)` : '',
    rnn ? results.filter((r) => r.cell !== 'rnn').map((r) => `${r.cell} ${r.valLoss < rnn.valLoss ? 'beats' : 'does not beat'} the vanilla RNN by ${(rnn.valLoss - r.valLoss).toFixed(3)}`).join('; ') : '',
  ].filter(Boolean).join('\n');
  const flags = o.extra.length ? `\ntraining flags for every cell: ${o.extra.join(' ')}` : '';
  return { text: `${text}${flags}\n${verdict}`, json: results };
}
