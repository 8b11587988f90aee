// `pnpm bench transformer`: training throughput (tokens/s) of @attend/transformer on every backend
// that loads here, with PyTorch measured first in the same run as the baseline (CPU, 2 threads; or
// `--device cuda`), from python/transformer_baseline.py.
//   --model block (default): forward + backward of one pre-LN Transformer block — causal
//     self-attention, GELU (tanh), d_ff = 4·d — on a fixed random input [B, T, d]; loss = mean of the
//     block's output; gradients of every weight, no optimiser step. The issue's shape: batch 16,
//     128 tokens, d = 128, 4 heads, d_ff 512.
//   --model gpt: one full training step (forward, cross-entropy, backward, Adam) of a character GPT
//     on random token windows. Default: nanoGPT's CPU shape (README "I only have a macbook"): 4 layers,
//     d = 128, 4 heads, context 64, batch 12, vocab 65, dropout 0.
// Timing: the median of --steps steps after --warmup warm-ups, the backend synchronised by reading
// the loss back (on webgpu that waits for everything queued before it, the backward pass included).
// The pure-JS cpu backend runs at most CPU_BACKEND_STEPS steps after one warm-up (seconds per step).
import * as tf from '@tensorflow/tfjs-core';
import { BACKEND_NAMES, ConfigError, Rng } from '@attend/core';
import { GPT, TransformerDecoderLayer } from '@attend/transformer';
import { fusedAdam } from '@attend/training';
import { onEachBackend } from './backends.js';
import { runPytorch, TORCH_DEVICES, type TorchDevice } from './pytorch.js';
import { median, ratio, table } from './timing.js';

export type TransformerBenchModel = 'block' | 'gpt';
export const TRANSFORMER_BENCH_MODELS: readonly TransformerBenchModel[] = ['block', 'gpt'];

export interface TransformerBenchOptions {
  /** `block`: one block's forward+backward; `gpt`: one GPT training step with Adam. */
  model: TransformerBenchModel;
  /** B: sequences per step. */
  batch: number;
  /** T: tokens per sequence (the GPT's context length). */
  seq: number;
  /** d: model size. */
  dModel: number;
  /** h: attention heads (dividing d). */
  heads: number;
  /** d_ff: feed-forward inner size (default 4·d). */
  dFF: number;
  /** N: blocks (gpt only; block: 1). */
  layers: number;
  /** V: tokens in the vocabulary (gpt only). */
  vocab: number;
  /** Dropout rate while training (default 0). */
  dropout: number;
  /** Timed steps (the median is reported). */
  steps: number;
  /** Untimed steps first. */
  warmup: number;
  /** Only these tfjs backends (default: every one that loads). */
  backends?: string[];
  /** Python with torch for the baseline (default ATTEND_BENCH_PYTHON, else python3). */
  python?: string;
  /** Where the PyTorch baseline runs. */
  device: TorchDevice;
  /** PyTorch CPU threads. */
  threads: number;
}

const COMMON = { dropout: 0, steps: 10, warmup: 3, device: 'cpu', threads: 2 } as const;

export const DEFAULT_TRANSFORMER_BENCH: Readonly<Record<TransformerBenchModel, TransformerBenchOptions>> = {
  block: { ...COMMON, model: 'block', batch: 16, seq: 128, dModel: 128, heads: 4, dFF: 512, layers: 1, vocab: 65 },
  gpt: { ...COMMON, model: 'gpt', batch: 12, seq: 64, dModel: 128, heads: 4, dFF: 512, layers: 4, vocab: 65 },
};

/** The pure-JS backend is ~50× slower than wasm: it runs at most this many timed steps, after one warm-up. */
export const CPU_BACKEND_STEPS = 2;

export interface TransformerBenchRow {
  impl: string;
  /** tfjs backend, or the PyTorch device. */
  backend: string;
  /** Timed steps behind the median. */
  steps: number;
  /** Median seconds per step. */
  seconds: number;
  tokensPerSecond: number;
}

const OPTION_HELP = '--model block|gpt --batch --seq --d-model --heads --d-ff --layers --vocab --dropout --steps --warmup --backends --python --device cpu|cuda --threads';

/** Parses `pnpm bench transformer` flags; unknown flags and bad values throw a ConfigError saying what was expected. */
export function parseTransformerArgs(argv: readonly string[]): TransformerBenchOptions {
  const fail = (msg: string): never => {
    throw new ConfigError(`bench transformer: ${msg}`);
  };
  const pairs: [string, string][] = [];
  for (let i = 0; i < argv.length; i += 2) {
    const a = argv[i]!;
    if (!a.startsWith('--')) fail(`unexpected argument "${a}"; options are ${OPTION_HELP}`);
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) fail(`${a} needs a value`);
    pairs.push([a, v!]);
  }
  const model = [...pairs].reverse().find(([a]) => a === '--model')?.[1] ?? 'block';
  if (!(TRANSFORMER_BENCH_MODELS as readonly string[]).includes(model)) fail(`--model expects ${TRANSFORMER_BENCH_MODELS.join(' or ')}, got ${model}`);
  const o: TransformerBenchOptions = { ...DEFAULT_TRANSFORMER_BENCH[model as TransformerBenchModel] };
  const ints = { '--batch': 'batch', '--seq': 'seq', '--d-model': 'dModel', '--heads': 'heads', '--d-ff': 'dFF', '--layers': 'layers', '--vocab': 'vocab', '--steps': 'steps', '--warmup': 'warmup', '--threads': 'threads' } as const;
  let dFFGiven = false;
  for (const [a, v] of pairs) {
    if (a === '--model') continue;
    if (a === '--backends') {
      o.backends = v.split(',').filter(Boolean);
      if (o.backends.length === 0) fail(`--backends expects a comma-separated list of ${BACKEND_NAMES.join(', ')}, got "${v}"`);
      for (const b of o.backends) if (!(BACKEND_NAMES as readonly string[]).includes(b)) fail(`--backends: unknown backend "${b}"; expected a comma-separated list of ${BACKEND_NAMES.join(', ')}`);
    } else if (a === '--python') o.python = v;
    else if (a === '--device') {
      if (!(TORCH_DEVICES as readonly string[]).includes(v)) fail(`--device expects ${TORCH_DEVICES.join(' or ')} (where the PyTorch baseline runs), got ${v}`);
      o.device = v as TorchDevice;
    } else if (a === '--dropout') {
      const p = Number(v);
      if (!(p >= 0 && p < 1)) fail(`--dropout expects a number in [0, 1), got ${v}`);
      o.dropout = p;
    } else if (a in ints) {
      const key = ints[a as keyof typeof ints];
      if (model === 'block' && (key === 'layers' || key === 'vocab')) fail(`${a} applies to --model gpt only (a block has one layer and no vocabulary)`);
      const n = Number(v);
      if (!Number.isInteger(n) || n < (key === 'warmup' ? 0 : 1)) fail(`${a} expects a ${key === 'warmup' ? 'non-negative' : 'positive'} integer, got ${v}`);
      o[key] = n;
      if (key === 'dFF') dFFGiven = true;
    } else fail(`unknown option ${a}; options are ${OPTION_HELP}`);
  }
  if (!dFFGiven) o.dFF = 4 * o.dModel;
  if (o.dModel % o.heads !== 0) fail(`--d-model must be a multiple of --heads, got d-model ${o.dModel} and heads ${o.heads}`);
  return o;
}

/** The result file's name: `transformer-block.json`, or with the shape when it is not the default one. */
export function transformerResultFile(o: TransformerBenchOptions): string {
  const d = DEFAULT_TRANSFORMER_BENCH[o.model];
  const same = (['batch', 'seq', 'dModel', 'heads', 'dFF', 'layers', 'vocab', 'dropout'] as const).every((k) => o[k] === d[k]);
  const shape = o.model === 'gpt' ? `L${o.layers}-d${o.dModel}-h${o.heads}-T${o.seq}-B${o.batch}` : `d${o.dModel}-h${o.heads}-T${o.seq}-B${o.batch}`;
  return `transformer-${o.model}${same ? '' : `-${shape}`}${o.device === 'cuda' ? '-cuda' : ''}.json`;
}

/** Median seconds per step of `step` after `warmup` untimed ones; each step's loss is read back (a sync; async, as webgpu in Node has no synchronous reads). */
async function timeSteps(steps: number, warmup: number, step: () => tf.Scalar): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    const loss = step();
    await loss.data();
    loss.dispose();
    if (i >= warmup) times.push((performance.now() - t0) / 1000);
  }
  return median(times);
}

function blockStep(o: TransformerBenchOptions): { step: () => tf.Scalar; dispose: () => void } {
  const layer = new TransformerDecoderLayer({ dModel: o.dModel, heads: o.heads, dFF: o.dFF, dropout: o.dropout, activation: 'gelu', norm: 'pre', crossAttention: false, seed: 0 });
  const rng = new Rng(0);
  const x = tf.tensor3d(Float32Array.from({ length: o.batch * o.seq * o.dModel }, () => rng.normal()), [o.batch, o.seq, o.dModel]); // [B, T, d]
  const vars = Object.values(layer.variables());
  return {
    step: () => {
      const { value, grads } = tf.variableGrads(() => tf.tidy(() => tf.mean(layer.apply(x, { training: true, weights: false, returnCache: false }).output) as tf.Scalar), vars);
      tf.dispose(grads);
      return value;
    },
    dispose: () => {
      layer.dispose();
      x.dispose();
    },
  };
}

function gptStep(o: TransformerBenchOptions): { step: () => tf.Scalar; dispose: () => void } {
  const model = new GPT({ vocabSize: o.vocab, contextLength: o.seq, layers: o.layers, dModel: o.dModel, heads: o.heads, dFF: o.dFF, dropout: o.dropout, activation: 'gelu', norm: 'pre', seed: 0 });
  const opt = fusedAdam(1e-3); // Attend's Adam (what `attend train char-gpt` uses)
  const rng = new Rng(0);
  const ids = () => tf.tensor2d(Int32Array.from({ length: o.batch * o.seq }, () => rng.int(o.vocab)), [o.batch, o.seq], 'int32'); // [B, T]
  const x = ids();
  const y = ids();
  const vars = Object.values(model.variables());
  return {
    step: () => opt.minimize(() => model.loss(x, y, { training: true }), true, vars)!,
    dispose: () => {
      model.dispose();
      opt.dispose();
      tf.dispose([x, y]);
    },
  };
}

/** One row for the active tfjs backend; throws if the step leaks tensors. */
export async function measureTransformer(o: TransformerBenchOptions): Promise<TransformerBenchRow> {
  const backend = tf.getBackend();
  const steps = backend === 'cpu' ? Math.min(o.steps, CPU_BACKEND_STEPS) : o.steps;
  const warmup = backend === 'cpu' ? Math.min(o.warmup, 1) : o.warmup;
  const before = tf.memory().numTensors;
  const s = o.model === 'block' ? blockStep(o) : gptStep(o);
  let seconds: number;
  try {
    seconds = await timeSteps(steps, warmup, s.step);
  } finally {
    s.dispose();
  }
  const after = tf.memory().numTensors;
  if (after > before) throw new Error(`bench transformer: ${after - before} tensors leaked on ${backend}`);
  const impl = o.model === 'block' ? 'Attend TransformerDecoderLayer (pre-LN, causal)' : 'Attend GPT + Attend Adam';
  return { impl, backend, steps, seconds, tokensPerSecond: (o.batch * o.seq) / seconds };
}

/** PyTorch in the same run (python/transformer_baseline.py), or the reason it was skipped. */
export function benchTransformerPytorch(o: TransformerBenchOptions): TransformerBenchRow | string {
  const args = ['--model', o.model, '--batch', `${o.batch}`, '--seq', `${o.seq}`, '--d-model', `${o.dModel}`, '--heads', `${o.heads}`, '--d-ff', `${o.dFF}`,
    '--layers', `${o.layers}`, '--vocab', `${o.vocab}`, '--dropout', `${o.dropout}`, '--steps', `${Math.max(o.steps, 5)}`, '--warmup', `${Math.max(o.warmup, 1)}`, '--threads', `${o.threads}`];
  const j = runPytorch<{ torch: string; device_name: string; steps: number; seconds: number; tokens_per_second: number }>('transformer_baseline.py', args, o);
  if (typeof j === 'string') return j;
  const where = o.device === 'cuda' ? `fp32 on ${j.device_name}` : `${o.threads} threads`;
  const what = o.model === 'block' ? 'block, F.scaled_dot_product_attention' : 'GPT (SDPA) + Adam';
  return { impl: `PyTorch ${j.torch} ${what}, ${where}`, backend: o.device, steps: j.steps, seconds: j.seconds, tokensPerSecond: j.tokens_per_second };
}

export function describeTransformerBench(o: TransformerBenchOptions): string {
  const drop = o.dropout ? `, dropout ${o.dropout}` : '';
  return o.model === 'block'
    ? `one pre-LN Transformer block (causal self-attention, GELU, d_ff ${o.dFF}${drop}) forward+backward, loss = mean of its output: batch ${o.batch} × ${o.seq} tokens, d ${o.dModel}, ${o.heads} heads`
    : `char GPT training step (forward, cross-entropy, backward, Adam): ${o.layers} layer${o.layers === 1 ? '' : 's'}, d ${o.dModel}, ${o.heads} heads, d_ff ${o.dFF}, context ${o.seq}, batch ${o.batch}, vocab ${o.vocab}${drop}`;
}

export async function benchTransformer(o: TransformerBenchOptions): Promise<{ text: string; json: unknown }> {
  const rows: TransformerBenchRow[] = [];
  const failed: string[] = [];
  // PyTorch first, before any tfjs backend has started thread pools of its own (see bench rnn).
  const torch = benchTransformerPytorch(o);
  const skipped = await onEachBackend(o.backends, async (c) => {
    try {
      const row = await measureTransformer(o);
      rows.push(row);
      console.log(`  ${c.name.padEnd(10)} ${row.tokensPerSecond.toFixed(0)} tokens/s (${(row.seconds * 1000).toFixed(0)} ms/step, ${row.steps} steps)`);
    } catch (err) {
      failed.push(`${c.name}: failed: ${(err as Error).message.split('\n')[0]}`);
    }
  });
  skipped.push(...failed);
  if (typeof torch === 'string') skipped.push(`PyTorch: ${torch}`);
  else rows.unshift(torch);
  const base = typeof torch === 'string' ? undefined : torch.tokensPerSecond;
  const text = [
    `${describeTransformerBench(o)}; median of ${o.steps} step${o.steps === 1 ? '' : 's'} after ${o.warmup} warm-up${o.warmup === 1 ? '' : 's'}${rows.some((r) => r.backend === 'cpu' && !r.impl.startsWith('PyTorch')) ? ` (cpu backend: at most ${CPU_BACKEND_STEPS} after 1)` : ''}`,
    table([
      ['implementation', 'backend', 'steps', 'ms/step', 'tokens/s', 'vs PyTorch'],
      ...rows.map((r) => [r.impl, r.backend, `${r.steps}`, (r.seconds * 1000).toFixed(1), r.tokensPerSecond.toFixed(0), r.impl.startsWith('PyTorch') ? '–' : ratio(r.tokensPerSecond, base)]),
    ]),
    ...skipped.map((s) => `skipped: ${s}`),
  ].join('\n');
  return { text, json: { options: o, loss: o.model === 'block' ? 'mean of the block output (no optimiser step)' : 'mean cross-entropy, Adam step', rows, skipped } };
}
