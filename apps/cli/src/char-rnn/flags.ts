// Flags of `attend train char-rnn`, their defaults, and how they become typed configs. The data,
// training and output flags are shared with `attend train char-gpt` (COMMON_TRAIN_FLAGS, commonSettings).
import { CELL_KINDS, ACTIVATIONS, type RNNLanguageModelConfig } from '@attend/recurrent';
import { choiceFlag, durationFlag, intFlag, numFlag, UsageError, type Options, type Values } from '../args.js';
import { BACKEND_FLAG, BACKEND_HELP } from '../lib/backend.js';

/** Data, training and output flags of every character language model. */
export const COMMON_TRAIN_FLAGS = {
  corpus: { type: 'string', multiple: true },
  include: { type: 'string', multiple: true },
  'allow-binary': { type: 'boolean' },
  'seq-len': { type: 'string' },
  batch: { type: 'string' },
  lr: { type: 'string' },
  'min-lr': { type: 'string' },
  warmup: { type: 'string' },
  steps: { type: 'string' },
  time: { type: 'string' },
  clip: { type: 'string' },
  'eval-every': { type: 'string' },
  'eval-batches': { type: 'string' },
  'sample-at': { type: 'string' },
  'sample-length': { type: 'string' },
  temperature: { type: 'string' },
  seed: { type: 'string' },
  out: { type: 'string' },
  resume: { type: 'boolean' },
  config: { type: 'string' },
  preset: { type: 'string' },
  ...BACKEND_FLAG,
} as const satisfies Options;

export const TRAIN_FLAGS = {
  ...COMMON_TRAIN_FLAGS,
  cell: { type: 'string' },
  activation: { type: 'string' },
  layers: { type: 'string' },
  hidden: { type: 'string' },
  embed: { type: 'string' },
  dropout: { type: 'string' },
} as const satisfies Options;

/**
 * Named flag sets, under the flags given (which win). `quick` is the README's one-minute first run:
 * a model small enough to learn visibly in a minute on two CPU cores with the wasm backend.
 */
export const TRAIN_PRESETS: Record<string, Values> = {
  quick: { layers: '1', hidden: '128', 'seq-len': '64', time: '1m', 'eval-every': '100', 'sample-at': '50,100,200,300' },
};

/** What differs in the help text of the character-model trainers. */
export interface TrainHelpParts {
  command: string;
  intro: string;
  model: string;
  defaults: { seqLen: number; batch: number; lr: string; minLr: string; steps: number; out: string };
  presets: string;
  examples: string;
}

/** The help text of `attend train char-rnn` / `char-gpt`: their model flags around the shared ones. */
export function trainHelp(p: TrainHelpParts): string {
  const d = p.defaults;
  return `Usage: attend train ${p.command} [options]

${p.intro}

Data
  --corpus PATH      a text file or a directory (repeatable; default: the embedded Moby-Dick)
  --include GLOB     with directories: which files, e.g. "**/*.c" (repeatable; default: all)
  --allow-binary     train on files with NUL bytes or invalid UTF-8 instead of refusing them
Model
${p.model}
Training
  --seq-len T        characters per training window (default ${d.seqLen})
  --batch B          windows per step (default ${d.batch})
  --lr X             peak learning rate, Adam (default ${d.lr})
  --min-lr X         final learning rate of the cosine decay (default ${d.minLr})
  --warmup N         linear warm-up steps (default 100)
  --steps N          total optimisation steps (default ${d.steps} unless --time is given)
  --time D           stop after a duration, e.g. 90s, 10m, 1h (with --steps: whichever comes first;
                     alone, the cosine decay runs over the duration)
  --clip X           global gradient-norm clipping threshold; 0 turns it off (default 1)
  --eval-every N     validation (and checkpoint) every N steps (default 250)
  --eval-batches N   validation batches per evaluation (default 20)
  --sample-at LIST   steps after which to print a sample (default 100,300,500,700,1200,2000; also at the
                     end; "none" for only the end)
  --sample-length N  characters per sample (default 200)
  --temperature T    sampling temperature of those samples (default 0.8)
  --seed N           seed of initial weights, batches and samples (default 1337)
Output
  --out DIR          checkpoint directory (default ${d.out})
  --resume           continue the checkpoint in --out (same model, same data)
  --config FILE      a JSON object of these flags, e.g. {"seq-len": 128}; command-line flags win
  --preset NAME      a named set of flags under the ones given: ${p.presets}
${BACKEND_HELP}

Examples
${p.examples}`;
}

export const TRAIN_HELP = trainHelp({
  command: 'char-rnn',
  intro: `Trains a character-level recurrent language model (Karpathy's char-rnn) and prints samples as it
learns. With no --corpus it trains on the embedded default: Moby-Dick (public domain).`,
  model: `  --cell KIND        rnn | lstm | gru (default lstm)
  --activation F     tanh | relu, for --cell rnn (default tanh)
  --layers N         stacked recurrent layers (default 2)
  --hidden N         units per layer (default 256)
  --embed N          character embedding size (default 64)
  --dropout P        dropout between layers, in [0, 1) (default 0)`,
  defaults: { seqLen: 100, batch: 32, lr: '0.002', minLr: 'lr/10', steps: 2000, out: 'runs/char-rnn' },
  presets: `quick (1 layer × 128, --time 1m,
                     samples at steps 50, 100, 200, 300: the README's first run)`,
  examples: `  attend train char-rnn --preset quick
  attend train char-rnn --time 10m
  attend train char-rnn --corpus ../shared/data/tinyshakespeare.txt --cell gru --steps 3000
  attend train char-rnn --out runs/shakespeare --resume`,
});

/** What every character model's training needs besides its model config. */
export interface CommonTrainSettings {
  seqLen: number;
  batch: number;
  lr: number;
  minLr: number;
  warmup: number;
  steps?: number;
  timeSeconds?: number;
  clip: number;
  evalEvery: number;
  evalBatches: number;
  sampleAt: number[];
  sampleLength: number;
  temperature: number;
  seed: number;
  out: string;
}

export interface TrainSettings extends CommonTrainSettings {
  model: Omit<RNNLanguageModelConfig, 'vocabSize'>;
}

/** Defaults that differ between model families. */
export interface CommonDefaults {
  seqLen: number;
  batch: number;
  lr: number;
  minLr?: number;
  steps: number;
  out: string;
}

/** `values` over the named preset (if any); an unknown preset is a UsageError listing the known ones. */
export function withPreset(values: Values, presets: Record<string, Values> = TRAIN_PRESETS): Values {
  if (values.preset === undefined) return values;
  const preset = presets[String(values.preset)];
  if (!preset) throw new UsageError(`--preset: expected one of ${Object.keys(presets).join(', ')}, got "${String(values.preset)}"`);
  const out: Values = { ...preset };
  for (const [k, v] of Object.entries(values)) if (v !== undefined) out[k] = v;
  return out;
}

/** The shared data/training/output settings; every bad value is a UsageError naming the flag. */
export function commonSettings(v: Values, d: CommonDefaults): CommonTrainSettings {
  const seed = intFlag('seed', v.seed, 1337, 0);
  const lr = numFlag('lr', v.lr, d.lr, 0, 10);
  if (lr === 0) throw new UsageError('--lr: expected a number > 0, got "0"');
  const timeSeconds = durationFlag('time', v.time);
  const steps = v.steps === undefined && timeSeconds !== undefined ? undefined : intFlag('steps', v.steps, d.steps);
  const sampleAt = v['sample-at'] === undefined
    ? [100, 300, 500, 700, 1200, 2000]
    : v['sample-at'] === 'none'
      ? []
      : String(v['sample-at']).split(',').filter((s) => s.trim() !== '').map((s) => intFlag('sample-at', s.trim(), 0));
  return {
    seqLen: intFlag('seq-len', v['seq-len'], d.seqLen),
    batch: intFlag('batch', v.batch, d.batch),
    lr,
    minLr: numFlag('min-lr', v['min-lr'], d.minLr ?? lr / 10, 0, lr),
    warmup: intFlag('warmup', v.warmup, 100, 0),
    steps,
    timeSeconds,
    clip: numFlag('clip', v.clip, 1, 0),
    evalEvery: intFlag('eval-every', v['eval-every'], 250),
    evalBatches: intFlag('eval-batches', v['eval-batches'], 20),
    sampleAt,
    sampleLength: intFlag('sample-length', v['sample-length'], 200, 1),
    temperature: numFlag('temperature', v.temperature, 0.8, 0.01, 10),
    seed,
    out: v.out === undefined ? d.out : String(v.out),
  };
}

/** Turns the flag values into typed settings; every bad value is a UsageError naming the flag. */
export function trainSettings(v: Values): TrainSettings {
  const common = commonSettings(v, { seqLen: 100, batch: 32, lr: 2e-3, steps: 2000, out: 'runs/char-rnn' });
  const cell = choiceFlag('cell', v.cell, CELL_KINDS, 'lstm');
  const activation = choiceFlag('activation', v.activation, ACTIVATIONS, 'tanh');
  if (cell !== 'rnn' && v.activation !== undefined) throw new UsageError(`--activation applies to --cell rnn only, got --cell ${cell}`);
  return {
    ...common,
    model: {
      cell,
      activation,
      layers: intFlag('layers', v.layers, 2),
      hidden: intFlag('hidden', v.hidden, 256),
      embed: intFlag('embed', v.embed, 64),
      dropout: numFlag('dropout', v.dropout, 0, 0, 0.99),
      resetAfter: false,
      seed: common.seed,
    },
  };
}
