// `pnpm bench generate`: stateful sampling speed (characters/s) of a trained-size char LSTM —
// 2 layers × 512 units, vocab 65 — one character at a time through the O(1) step API, on every
// backend that loads here. Target (issue "Fast recurrent nets"): ≥ 1,000 chars/s on CPU.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '@attend/core';
import { RNNLanguageModel, type CellKind } from '@attend/recurrent';
import { onEachBackend } from './backends.js';
import { table } from './timing.js';

export interface GenerateOptions {
  cell: CellKind;
  layers: number;
  hidden: number;
  vocab: number;
  length: number;
  backends?: string[];
}

export const DEFAULT_GENERATE: GenerateOptions = { cell: 'lstm', layers: 2, hidden: 512, vocab: 65, length: 500 };

export async function benchGenerate(o: GenerateOptions): Promise<{ text: string; json: unknown }> {
  const rows: { backend: string; charsPerSecond: number; seconds: number }[] = [];
  const skipped = await onEachBackend(o.backends, (c) => {
    const model = new RNNLanguageModel({ cell: o.cell, vocabSize: o.vocab, hidden: o.hidden, layers: o.layers, seed: 0 });
    try {
      const n = c.name === 'cpu' ? Math.min(o.length, 50) : o.length;
      model.sample({ prime: [1, 2, 3], length: 20, seed: 0 }); // warm-up
      const t0 = performance.now();
      model.sample({ prime: [1, 2, 3], length: n, seed: 1, temperature: 0.8 });
      const seconds = (performance.now() - t0) / 1000;
      rows.push({ backend: c.name, seconds, charsPerSecond: n / seconds });
      console.log(`  ${c.name}: ${(n / seconds).toFixed(0)} chars/s`);
    } finally {
      model.dispose();
    }
    if (tf.memory().numTensors > 1000) throw new Error(`bench generate: ${tf.memory().numTensors} tensors alive: a leak`);
  });
  const text = [
    `stateful sampling, ${o.layers}×${o.hidden} ${o.cell.toUpperCase()}, vocab ${o.vocab}, one character per step (target ≥ 1,000 chars/s on CPU)`,
    table([["backend", "chars/s", "ms/char"], ...rows.map((r) => [r.backend, r.charsPerSecond.toFixed(0), (1000 / r.charsPerSecond).toFixed(2)])]),
    ...skipped.map((s) => `skipped: ${s}`),
  ].join('\n');
  return { text, json: { options: o, rows, skipped } };
}

export function parseGenerateArgs(argv: string[]): GenerateOptions {
  const o: GenerateOptions = { ...DEFAULT_GENERATE };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[++i];
    if (v === undefined) throw new ConfigError(`bench generate: ${a} needs a value`);
    if (a === '--cell') o.cell = v as CellKind;
    else if (a === '--backends') o.backends = v.split(',');
    else if (a === '--layers' || a === '--hidden' || a === '--length' || a === '--vocab') {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new ConfigError(`bench generate: ${a} expects a positive integer, got ${v}`);
      o[a.slice(2) as 'layers' | 'hidden' | 'length' | 'vocab'] = n;
    } else throw new ConfigError(`bench generate: unknown option ${a}; expected --cell --layers --hidden --vocab --length --backends`);
  }
  return o;
}
