// Flags of `attend train char-gpt`: the char-rnn trainer's data, training and output flags, with
// nanoGPT's CPU configuration for Shakespeare as defaults (Karpathy, nanoGPT README: block 64,
// batch 12, 4 layers, 4 heads, d 128, 2000 iterations, lr 1e-3 → 1e-4, β2 0.99, weight decay 0.1,
// dropout 0), and the Transformer's model flags.
import { DEFAULT_GPT, NORM_PLACEMENTS, POSITIONAL_KINDS, FEED_FORWARD_ACTIVATIONS, type GPTConfig } from '@attend/transformer';
import { choiceFlag, intFlag, numFlag, UsageError, type Options, type Values } from '../args.js';
import { COMMON_TRAIN_FLAGS, commonSettings, trainHelp, type CommonTrainSettings } from '../char-rnn/flags.js';

export const GPT_TRAIN_FLAGS = {
  ...COMMON_TRAIN_FLAGS,
  layers: { type: 'string' },
  heads: { type: 'string' },
  'd-model': { type: 'string' },
  ff: { type: 'string' },
  dropout: { type: 'string' },
  activation: { type: 'string' },
  norm: { type: 'string' },
  positional: { type: 'string' },
  'tie-embeddings': { type: 'boolean' },
  'weight-decay': { type: 'string' },
  beta2: { type: 'string' },
} as const satisfies Options;

/** `quick`: a one-minute run that already prints words (2 layers × 64, context 64). */
export const GPT_PRESETS: Record<string, Values> = {
  quick: { layers: '2', 'd-model': '64', heads: '4', lr: '0.003', 'min-lr': '0.0003', time: '1m', 'eval-every': '100', 'sample-at': '50,100,200,300' },
};

export const GPT_DEFAULTS = { seqLen: 64, batch: 12, lr: 1e-3, minLr: 1e-4, steps: 2000, out: 'runs/char-gpt' };

export const GPT_TRAIN_HELP = trainHelp({
  command: 'char-gpt',
  intro: `Trains a character-level decoder-only Transformer (a small GPT, as nanoGPT's shakespeare_char) and
prints samples as it learns, generated with a key/value cache. With no --corpus it trains on the
embedded default: Moby-Dick (public domain). --seq-len is also the model's context length.`,
  model: `  --layers N         Transformer blocks (default ${DEFAULT_GPT.layers})
  --heads H          attention heads per block (default ${DEFAULT_GPT.heads})
  --d-model D        model width, a multiple of --heads (default ${DEFAULT_GPT.dModel})
  --ff N             feed-forward inner size (default 4 × d-model)
  --dropout P        residual and attention dropout, in [0, 1) (default 0)
  --activation F     gelu | relu (default gelu)
  --norm WHERE       pre | post layer norm (default pre, as GPT-2)
  --positional KIND  learned | sinusoidal positions (default learned)
  --tie-embeddings   share the embedding table with the output head
  --weight-decay X   decoupled weight decay (AdamW) on matrices (default 0.1)
  --beta2 X          Adam's β2 (default 0.99)`,
  defaults: { seqLen: GPT_DEFAULTS.seqLen, batch: GPT_DEFAULTS.batch, lr: '0.001', minLr: '0.0001', steps: GPT_DEFAULTS.steps, out: GPT_DEFAULTS.out },
  presets: `quick (2 layers × 64, lr 3e-3, --time 1m)`,
  examples: `  attend train char-gpt --preset quick
  attend train char-gpt --corpus ../shared/data/tinyshakespeare.txt --time 5m
  attend train char-gpt --layers 6 --d-model 384 --heads 6 --seq-len 256 --batch 64 --dropout 0.2
  attend sample --model runs/char-gpt --prime "ROMEO:"`,
});

export interface GPTTrainSettings extends CommonTrainSettings {
  model: Omit<GPTConfig, 'vocabSize'>;
  weightDecay: number;
  beta2: number;
}

export function gptSettings(v: Values): GPTTrainSettings {
  const common = commonSettings(v, GPT_DEFAULTS);
  const dModel = intFlag('d-model', v['d-model'], DEFAULT_GPT.dModel);
  const heads = intFlag('heads', v.heads, DEFAULT_GPT.heads);
  if (dModel % heads !== 0) throw new UsageError(`--d-model must be a multiple of --heads, got --d-model ${dModel} and --heads ${heads}`);
  const dropout = numFlag('dropout', v.dropout, 0, 0, 0.99);
  return {
    ...common,
    model: {
      ...DEFAULT_GPT,
      contextLength: common.seqLen,
      layers: intFlag('layers', v.layers, DEFAULT_GPT.layers),
      heads,
      dModel,
      dFF: v.ff === undefined ? undefined : intFlag('ff', v.ff, 4 * dModel),
      dropout,
      activation: choiceFlag('activation', v.activation, FEED_FORWARD_ACTIVATIONS, 'gelu'),
      norm: choiceFlag('norm', v.norm, NORM_PLACEMENTS, 'pre'),
      positional: choiceFlag('positional', v.positional, POSITIONAL_KINDS, 'learned'),
      tieEmbeddings: Boolean(v['tie-embeddings']),
      seed: common.seed,
    },
    weightDecay: numFlag('weight-decay', v['weight-decay'], 0.1, 0, 10),
    beta2: numFlag('beta2', v.beta2, 0.99, 0, 0.999999),
  };
}
