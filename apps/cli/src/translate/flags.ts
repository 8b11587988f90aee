// Flags of `attend train translate`, their defaults, and how they become typed settings.
import { SEQ2SEQ_ATTENTIONS, SEQ2SEQ_CELLS, type Seq2SeqAttention, type Seq2SeqCell } from '@attend/attention';
import { choiceFlag, durationFlag, intFlag, numFlag, UsageError, type Options, type Values } from '../args.js';
import { BACKEND_FLAG, BACKEND_HELP } from '../lib/backend.js';

export const TOKEN_KINDS = ['word', 'char'] as const;
export type TokenKind = (typeof TOKEN_KINDS)[number];

export const TRANSLATE_FLAGS = {
  pairs: { type: 'string' },
  'skip-bad': { type: 'boolean' },
  lowercase: { type: 'boolean' },
  reverse: { type: 'boolean' },
  tokens: { type: 'string' },
  'min-frequency': { type: 'string' },
  'max-length': { type: 'string' },
  attention: { type: 'string' },
  cell: { type: 'string' },
  embed: { type: 'string' },
  hidden: { type: 'string' },
  layers: { type: 'string' },
  dropout: { type: 'string' },
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

Trains an attention-based encoder–decoder (Luong et al. 2015; Bahdanau et al. 2015) with teacher
forcing. With no --pairs it learns the embedded date task: human-written dates ("Sunday 3 May 1998",
"3/5/98", …) → ISO dates (1998-05-03), character tokens, 20,000 training / 1,000 validation pairs.

Data
  --pairs FILE       a tab-separated file of "source<TAB>target" lines (e.g. eng-fra.txt); split
                     by a hash of the source, 10% validation
  --skip-bad         skip (and count) lines without a tab, with an empty side or invalid UTF-8
                     instead of stopping at the first
  --lowercase        lower-case both sides of --pairs (default: keep case)
  --reverse          train target → source
  --tokens KIND      word | char (default word with --pairs; char for the date task)
  --min-frequency N  words seen fewer times in the training pairs become [UNK] (default 1)
  --max-length N     drop pairs with a side longer than N tokens (default 10 words; 50 characters)
Model
  --attention KIND   dot | general | additive | none (default general)
  --cell KIND        lstm | gru (default lstm)
  --embed N          embedding size (default 64)
  --hidden N         hidden units, even (default 128)
  --layers N         encoder and decoder layers (default 1)
  --dropout P        dropout in [0, 1) (default 0)
Training
  --batch B          sentence pairs per step (default 64)
  --lr X             peak learning rate, Adam (default 0.002)
  --warmup N         linear warm-up steps (default 100)
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
  attend train translate --pairs ../shared/data/eng-fra.txt --lowercase --max-length 8 --out runs/fra
  attend translate --model runs/translate --attention-map map.svg "Sunday 3 May 1998"`;

export interface TranslateSettings {
  pairs?: string;
  skipBad: boolean;
  lowercase: boolean;
  reverse: boolean;
  tokens: TokenKind;
  minFrequency: number;
  maxLength: number;
  model: { attention: Seq2SeqAttention; cell: Seq2SeqCell; embed: number; hidden: number; layers: number; dropout: number; seed: number };
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

/** Flag values → typed settings; every bad value is a UsageError naming the flag. */
export function translateSettings(v: Values): TranslateSettings {
  const pairs = v.pairs === undefined ? undefined : String(v.pairs);
  const tokens = choiceFlag('tokens', v.tokens, TOKEN_KINDS, pairs === undefined ? 'char' : 'word');
  if (pairs === undefined && tokens !== 'char') throw new UsageError('--tokens: the date task uses character tokens; give --pairs FILE to train on words');
  const seed = intFlag('seed', v.seed, 1337, 0);
  const lr = numFlag('lr', v.lr, 2e-3, 0, 10);
  if (lr === 0) throw new UsageError('--lr: expected a number > 0, got "0"');
  const timeSeconds = durationFlag('time', v.time);
  const hidden = intFlag('hidden', v.hidden, 128);
  if (hidden % 2 !== 0) throw new UsageError(`--hidden: the bidirectional encoder gives each direction hidden/2 units, so it must be even, got ${hidden}`);
  return {
    pairs,
    skipBad: Boolean(v['skip-bad']),
    lowercase: Boolean(v.lowercase),
    reverse: Boolean(v.reverse),
    tokens,
    minFrequency: intFlag('min-frequency', v['min-frequency'], 1),
    maxLength: intFlag('max-length', v['max-length'], tokens === 'char' ? 50 : 10),
    model: {
      attention: choiceFlag('attention', v.attention, SEQ2SEQ_ATTENTIONS, 'general'),
      cell: choiceFlag('cell', v.cell, SEQ2SEQ_CELLS, 'lstm'),
      embed: intFlag('embed', v.embed, 64),
      hidden,
      layers: intFlag('layers', v.layers, 1),
      dropout: numFlag('dropout', v.dropout, 0, 0, 0.99),
      seed,
    },
    batch: intFlag('batch', v.batch, 64),
    lr,
    warmup: intFlag('warmup', v.warmup, 100, 0),
    clip: numFlag('clip', v.clip, 1, 0),
    steps: v.steps === undefined && timeSeconds !== undefined ? undefined : intFlag('steps', v.steps, 2000),
    timeSeconds,
    evalEvery: intFlag('eval-every', v['eval-every'], 200),
    evalSentences: intFlag('eval-sentences', v['eval-sentences'], 1000),
    seed,
    out: v.out === undefined ? 'runs/translate' : String(v.out),
  };
}
