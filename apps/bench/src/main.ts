// apps/bench entry: `pnpm bench <name>`. Every benchmark prints ratios against a baseline measured
// in the same run (never a timed test), and writes its results as JSON under bench-results/.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@attend/core';
import { benchMatmul, formatMatmul } from './matmul.js';
import { benchCharRnn, parseCharRnnArgs } from './char-rnn.js';
import { benchRnn, parseRnnArgs } from './rnn.js';
import { benchGenerate, parseGenerateArgs } from './generate.js';
import { benchTransformer, parseTransformerArgs, transformerResultFile } from './transformer.js';

// `pnpm bench …` runs in the workspace root; relative paths are the user's (pnpm passes INIT_CWD).
if (process.env.npm_lifecycle_event === 'bench' && process.env.INIT_CWD) process.chdir(process.env.INIT_CWD);

const BENCHES: Record<string, { summary: string; run: (argv: string[]) => Promise<{ text: string; json: unknown; file?: string }> }> = {
  rnn: {
    summary: 'training chars/s: tf.layers vs Attend composite vs Attend default per backend, PyTorch baseline (--cell lstm|gru|rnn --backends wasm,tensorflow --device cpu|cuda)',
    run: async (argv) => {
      const o = parseRnnArgs(argv);
      return { ...(await benchRnn(o)), file: `rnn-${o.cell}.json` };
    },
  },
  transformer: {
    summary: 'training tokens/s of one Transformer block fwd+bwd (or --model gpt: a GPT step with Adam) per backend vs PyTorch (--batch --seq --d-model --heads --steps --backends --device)',
    run: async (argv) => {
      const o = parseTransformerArgs(argv);
      return { ...(await benchTransformer(o)), file: transformerResultFile(o) };
    },
  },
  generate: {
    summary: 'stateful sampling chars/s of a 2×512 LSTM per backend (--cell --layers --hidden --length --backends; results in generate.json, generate-<cell>.json for other cells)',
    run: async (argv) => {
      const o = parseGenerateArgs(argv);
      return { ...(await benchGenerate(o)), file: o.cell === 'lstm' ? 'generate.json' : `generate-${o.cell}.json` };
    },
  },
  'char-rnn': {
    summary: 'quality: RNN, GRU and LSTM trained with the same budget on tinyshakespeare (--budget 15m | --steps N, --cells rnn,gru,lstm)',
    run: async (argv) => {
      const o = parseCharRnnArgs(argv);
      return { ...(await benchCharRnn(o)), file: `char-rnn-${o.cells.join('-')}${o.steps ? `-${o.steps}steps` : ''}${o.extra.length ? `-${o.extra.join('').replace(/[^\w.]+/g, '')}` : ''}.json` };
    },
  },
  matmul: {
    summary: 'GFLOP/s of a float32 matMul on every backend that loads here (baseline: cpu)',
    async run() {
      const r = await benchMatmul();
      return { text: formatMatmul(r), json: r };
    },
  },
};

function usage(): string {
  return ['Usage: pnpm bench <name> [options]', '', 'Benchmarks:', ...Object.entries(BENCHES).map(([k, v]) => `  ${k.padEnd(11)} ${v.summary}`)].join('\n');
}

const name = process.argv[2];
if (!name || name === '--help' || name === '-h') {
  console.log(usage());
  process.exitCode = name ? 0 : 1;
} else if (!BENCHES[name]) {
  console.error(`bench: unknown benchmark "${name}"\n\n${usage()}`);
  process.exitCode = 2;
} else if (process.argv.slice(3).some((a) => a === '--help' || a === '-h')) {
  console.log(`Usage: pnpm bench ${name} [options]\n\n  ${BENCHES[name].summary}\n\nResults are printed and written to bench-results/ as JSON.`);
} else {
  let result: Awaited<ReturnType<(typeof BENCHES)[string]['run']>>;
  try {
    result = await BENCHES[name].run(process.argv.slice(3));
  } catch (err) {
    // A bad flag: its message says what was expected; no stack trace.
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    process.exit(2);
  }
  const { text, json, file: fileName } = result;
  console.log(text);
  const dir = join(process.cwd(), 'bench-results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, fileName ?? `${name}.json`);
  writeFileSync(file, `${JSON.stringify({ bench: name, date: new Date().toISOString(), node: process.version, results: json }, null, 2)}\n`);
  console.log(`\nwrote ${file}`);
}
