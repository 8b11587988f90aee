// Flags of `attend train translate`, their defaults, and how they become typed settings. Two
// architectures: `rnn` (the default; the recurrent encoder–decoder with attention of Luong et al.
// 2015 / Bahdanau et al. 2015) and `transformer` (Vaswani et al. 2017, with its warm-up schedule,
// §5.3, and label smoothing, §5.4). Each has its own model flags; the other's are a usage error.
import { SEQ2SEQ_ATTENTIONS, SEQ2SEQ_CELLS, type Seq2SeqAttention, type Seq2SeqCell } from '@attend/attention';
import { NORM_PLACEMENTS, type NormPlacement } from '@attend/transformer';
import { choiceFlag, durationFlag, intFlag, numFlag, UsageError, type Options, type Values } from '../args.js';
import { BACKEND_FLAG, BACKEND_HELP } from '../lib/backend.js';

export const TOKEN_KINDS = ['word', 'char', 'bpe'] as const;
export type TokenKind = (typeof TOKEN_KINDS)[number];

/** Where checkpoints go without --out. */
export const DEFAULT_TRANSLATE_OUT = 'runs/translate';

export const ARCHS = ['rnn', 'transformer'] as const;
export type Arch = (typeof ARCHS)[number];

/** Model flags of one architecture only. */
const RNN_FLAGS = ['attention', 'cell', 'embed', 'hidden'] as const;
const TRANSFORMER_FLAGS = ['d-model', 'heads', 'ff', 'norm', 'label-smoothing'] as const;

/**
 * The Transformer's defaults on the command line: small enough to learn the date task in minutes on
 * a CPU, with a short warm-up to a high peak rate and no regularisation, for runs too short to
 * overfit. Exact match after 90 s on 2 cores (tensorflow backend): dropout 0.1 → 0 took post-LN
 * from 78.7% to 92.8% (pre-LN 79.2% → 92.7%: a tie, so the paper's post-LN stays); label smoothing
 * 0.1 → 0 94.5% (pre-LN); lr 5e-3 92.4%, batch 128 87.1%, d = 128 90.2%. The library's defaults
 * (DEFAULT_TRANSFORMER) are larger and the paper's.
 */
export const TRANSFORMER_DEFAULTS = { dModel: 64, heads: 4, layers: 2, norm: 'post', dropout: 0, labelSmoothing: 0, lr: 3e-3, warmup: 150 } as const;

export const TRANSLATE_FLAGS = {
  pairs: { type: 'string' },
  'skip-bad': { type: 'boolean' },
  lowercase: { type: 'boolean' },
  reverse: { type: 'boolean' },
  tokens: { type: 'string' },
  'min-frequency': { type: 'string' },
  'bpe-vocab': { type: 'string' },
  'max-length': { type: 'string' },
  arch: { type: 'string' },
  attention: { type: 'string' },
  cell: { type: 'string' },
  embed: { type: 'string' },
  hidden: { type: 'string' },
  layers: { type: 'string' },
  dropout: { type: 'string' },
  'd-model': { type: 'string' },
  heads: { type: 'string' },
  ff: { type: 'string' },
  norm: { type: 'string' },
  'label-smoothing': { type: 'string' },
  batch: { type: 'string' },
  lr: { type: 'string' },
  warmup: { type: 'string' },
  clip: { type: 'string' },
  steps: { type: 'string' },
  time: { type: 'string' },
  'eval-every': { type: 'string' },
  'eval-sentences': { type: 'string' },
  seed: { type: 'string' },
  out: { type: 'string' },
  resume: { type: 'boolean' },
  config: { type: 'string' },
  ...BACKEND_FLAG,
} as const satisfies Options;

export const TRANSLATE_HELP = `Usage: attend train translate [options]

Trains an encoder–decoder with teacher forcing: by default a recurrent one with attention (Luong et
al. 2015; Bahdanau et al. 2015), with --arch transformer the Transformer (Vaswani et al. 2017). With
no --pairs it learns the embedded date task: human-written dates ("Sunday 3 May 1998", "3/5/98", …)
→ ISO dates (1998-05-03), character tokens, 20,000 training / 1,000 validation pairs.

Data
  --pairs FILE       a tab-separated file of "source<TAB>target" lines (e.g. eng-fra.txt); split
                     by a hash of the source, 10% validation
  --skip-bad         skip (and count) lines without a tab, with an empty side or invalid UTF-8
                     instead of stopping at the first
  --lowercase        lower-case both sides of --pairs (default: keep case)
  --reverse          train target → source
  --tokens KIND      word | char | bpe (default word with --pairs; char for the date task); bpe: a
                     byte-level BPE per side trained on the training pairs (GPT-2's; no [UNK])
  --bpe-vocab N      BPE vocabulary size per side, 260 + merges (default 4000)
  --min-frequency N  words seen fewer times in the training pairs become [UNK] (default 1)
  --max-length N     drop pairs with a side longer than N tokens (default 10 words; 50 characters)
Model
  --arch KIND        rnn (default): a bidirectional recurrent encoder and an attentional recurrent
                     decoder; transformer: the Transformer (sinusoidal positions)
  --layers N         encoder and decoder layers (default 1; transformer ${TRANSFORMER_DEFAULTS.layers} each)
  --dropout P        dropout in [0, 1) (default 0; transformer ${TRANSFORMER_DEFAULTS.dropout})
Model, --arch rnn
  --attention KIND   dot | general | additive | none (default general)
  --cell KIND        lstm | gru (default lstm)
  --embed N          embedding size (default 64)
  --hidden N         hidden units, even (default 128)
Model, --arch transformer
  --d-model N        model width d; embeddings are scaled by √d (default ${TRANSFORMER_DEFAULTS.dModel})
  --heads N          attention heads, dividing d (default ${TRANSFORMER_DEFAULTS.heads})
  --ff N             feed-forward inner size (default 4·d)
  --norm WHERE       post: layer norm after each residual sum (the paper's); pre: before each
                     sub-layer, plus a final one (GPT-2's) (default ${TRANSFORMER_DEFAULTS.norm})
  --label-smoothing E
                     label smoothing ε in [0, 1) of the training loss (default ${TRANSFORMER_DEFAULTS.labelSmoothing})
Training
  --batch B          sentence pairs per step (default 64)
  --lr X             peak learning rate, Adam (default 0.002; transformer ${TRANSFORMER_DEFAULTS.lr}, Adam β2 0.98)
  --warmup N         linear warm-up steps (default 100), then cosine decay; transformer: the
                     paper's schedule lr·min(s/N, √(N/s)), s = step (default ${TRANSFORMER_DEFAULTS.warmup})
  --clip X           global gradient-norm clipping; 0 turns it off (default 1)
  --steps N          optimisation steps (default 2000 unless --time is given)
  --time D           stop after a duration, e.g. 90s, 3m, 1h
  --eval-every N     validation loss, sample translations and a checkpoint every N steps (default 200)
  --eval-sentences N validation sentences for the final exact-match / BLEU score (default 1000)
  --seed N           seed of weights, data and batches (default 1337)
Output
  --out DIR          checkpoint directory (default runs/translate)
  --resume           continue the checkpoint in --out (same model, same data)
  --config FILE      a JSON object of these flags, e.g. {"hidden": 256}; command-line flags win
${BACKEND_HELP}

Examples
  attend train translate --time 3m
  attend train translate --arch transformer --time 3m --out runs/translate-transformer
  attend train translate --pairs ../shared/data/eng-fra.txt --lowercase --max-length 8 --out runs/fra
  attend train translate --pairs ../shared/data/eng-fra.txt --lowercase --tokens bpe --bpe-vocab 8000 \\
      --hidden 256 --lr 0.005 --time 60m --out runs/fra-bpe     (30.3 BLEU, beam 5, in an hour on one core)
  attend eval translate --model runs/fra-bpe --split validation --beam 5
  attend translate --model runs/translate --attention-map map.svg "Sunday 3 May 1998"
  attend translate --model runs/translate-transformer --attention-map map.svg --layer 1 --head 2 "3/5/98"`;

export interface TranslateSettings {
  pairs?: string;
  skipBad: boolean;
  lowercase: boolean;
  reverse: boolean;
  tokens: TokenKind;
  minFrequency: number;
  /** Vocabulary size of each side's BPE (with --tokens bpe). */
  bpeVocab: number;
  maxLength: number;
  model: ModelSettings;
  /** ε of the training loss (the Transformer's; 0 for rnn). */
  labelSmoothing: number;
  batch: number;
  lr: number;
  warmup: number;
  clip: number;
  steps?: number;
  timeSeconds?: number;
  evalEvery: number;
  evalSentences: number;
  seed: number;
  out: string;
}

export interface RnnModelSettings {
  arch: 'rnn';
  attention: Seq2SeqAttention;
  cell: Seq2SeqCell;
  embed: number;
  hidden: number;
  layers: number;
  dropout: number;
  seed: number;
}

export interface TransformerModelSettings {
  arch: 'transformer';
  dModel: number;
  heads: number;
  /** Encoder layers and decoder layers (each). */
  layers: number;
  /** d_ff. */
  ff: number;
  /** Layer-norm placement. */
  norm: NormPlacement;
  dropout: number;
  seed: number;
}

export type ModelSettings = RnnModelSettings | TransformerModelSettings;

/** Settings as saved by any version: checkpoints written before --arch hold an rnn without `arch`, before --norm a post-LN Transformer without `norm`. */
export function normalizeSettings(saved: TranslateSettings): TranslateSettings {
  const m = saved.model as ModelSettings | Omit<RnnModelSettings, 'arch'>;
  const model: ModelSettings = !('arch' in m) ? { ...m, arch: 'rnn' } : m.arch === 'transformer' ? { ...m, norm: m.norm ?? 'post' } : m;
  return { ...saved, model, labelSmoothing: saved.labelSmoothing ?? 0 };
}

/**
 * Flag values → typed settings; every bad value is a UsageError naming the flag, and so is a model
 * flag of the other architecture. `defaultArch`: the architecture when --arch is absent (a resumed
 * checkpoint's).
 */
export function translateSettings(v: Values, defaultArch: Arch = 'rnn'): TranslateSettings {
  const arch = choiceFlag('arch', v.arch, ARCHS, defaultArch);
  const foreign = (arch === 'transformer' ? RNN_FLAGS : TRANSFORMER_FLAGS).filter((k) => v[k] !== undefined).map((k) => `--${k}`);
  if (foreign.length > 0) {
    const list = `${foreign.join(', ')} ${foreign.length === 1 ? 'applies' : 'apply'}`;
    throw new UsageError(
      arch === 'transformer'
        ? `${list} to --arch rnn only; a Transformer has no recurrent cell or separate embedding size: size it with --d-model, --heads, --layers and --ff`
        : `${list} to --arch transformer only; add --arch transformer, or size the recurrent model with --embed, --hidden and --layers`,
    );
  }
  const pairs = v.pairs === undefined ? undefined : String(v.pairs);
  const tokens = choiceFlag('tokens', v.tokens, TOKEN_KINDS, pairs === undefined ? 'char' : 'word');
  if (pairs === undefined && tokens !== 'char') throw new UsageError('--tokens: the date task uses character tokens; give --pairs FILE to train on words');
  const seed = intFlag('seed', v.seed, 1337, 0);
  const transformer = arch === 'transformer';
  const lr = numFlag('lr', v.lr, transformer ? TRANSFORMER_DEFAULTS.lr : 2e-3, 0, 10);
  if (lr === 0) throw new UsageError('--lr: expected a number > 0, got "0"');
  const timeSeconds = durationFlag('time', v.time);
  return {
    pairs,
    skipBad: Boolean(v['skip-bad']),
    lowercase: Boolean(v.lowercase),
    reverse: Boolean(v.reverse),
    tokens,
    minFrequency: intFlag('min-frequency', v['min-frequency'], 1),
    bpeVocab: intFlag('bpe-vocab', v['bpe-vocab'], 4000, 261),
    maxLength: intFlag('max-length', v['max-length'], tokens === 'char' ? 50 : 10),
    model: transformer ? transformerModel(v, seed) : rnnModel(v, seed),
    labelSmoothing: transformer ? numFlag('label-smoothing', v['label-smoothing'], TRANSFORMER_DEFAULTS.labelSmoothing, 0, 0.99) : 0,
    batch: intFlag('batch', v.batch, 64),
    lr,
    warmup: transformer ? intFlag('warmup', v.warmup, TRANSFORMER_DEFAULTS.warmup, 1) : intFlag('warmup', v.warmup, 100, 0),
    clip: numFlag('clip', v.clip, 1, 0),
    steps: v.steps === undefined && timeSeconds !== undefined ? undefined : intFlag('steps', v.steps, 2000),
    timeSeconds,
    evalEvery: intFlag('eval-every', v['eval-every'], 200),
    evalSentences: intFlag('eval-sentences', v['eval-sentences'], 1000),
    seed,
    out: v.out === undefined ? DEFAULT_TRANSLATE_OUT : String(v.out),
  };
}

function rnnModel(v: Values, seed: number): RnnModelSettings {
  const hidden = intFlag('hidden', v.hidden, 128);
  if (hidden % 2 !== 0) throw new UsageError(`--hidden: the bidirectional encoder gives each direction hidden/2 units, so it must be even, got ${hidden}`);
  return {
    arch: 'rnn',
    attention: choiceFlag('attention', v.attention, SEQ2SEQ_ATTENTIONS, 'general'),
    cell: choiceFlag('cell', v.cell, SEQ2SEQ_CELLS, 'lstm'),
    embed: intFlag('embed', v.embed, 64),
    hidden,
    layers: intFlag('layers', v.layers, 1),
    dropout: numFlag('dropout', v.dropout, 0, 0, 0.99),
    seed,
  };
}

function transformerModel(v: Values, seed: number): TransformerModelSettings {
  const dModel = intFlag('d-model', v['d-model'], TRANSFORMER_DEFAULTS.dModel);
  const heads = intFlag('heads', v.heads, TRANSFORMER_DEFAULTS.heads);
  if (dModel % heads !== 0) {
    throw new UsageError(`--d-model ${dModel} is not a multiple of --heads ${heads}: each head gets d-model/heads dimensions; try --d-model ${Math.ceil(dModel / heads) * heads}`);
  }
  return {
    arch: 'transformer',
    dModel,
    heads,
    layers: intFlag('layers', v.layers, TRANSFORMER_DEFAULTS.layers),
    ff: intFlag('ff', v.ff, 4 * dModel),
    norm: choiceFlag('norm', v.norm, NORM_PLACEMENTS, TRANSFORMER_DEFAULTS.norm),
    dropout: numFlag('dropout', v.dropout, TRANSFORMER_DEFAULTS.dropout, 0, 0.99),
    seed,
  };
}
