// `attend eval translate --model DIR --pairs FILE`: corpus BLEU-4 (sacreBLEU's definition, 13a
// tokenisation, via corpusBleu) of a trained translation model on a pairs file, every target of the
// same (normalised) source a reference; beam search or greedy (--beam 1). `--split validation`
// scores the checkpoint's own held-out pairs: its pairs file, length filter and split by source.
import * as tf from '@tensorflow/tfjs-core';
import { DataError } from '@attend/core';
import type { SentencePair } from '@attend/datasets';
import { loadPairs } from '@attend/datasets/node';
import { choiceFlag, intFlag, parse } from '../args.js';
import { BACKEND_FLAG, BACKEND_HELP, useBackend } from '../lib/backend.js';
import { loadTranslatePairs } from './data.js';
import { formatBleu, greedyTranslate, loadTranslator, pairsBleu } from './model.js';

const SPLITS = ['validation', 'training'] as const;

const FLAGS = {
  model: { type: 'string' },
  pairs: { type: 'string' },
  split: { type: 'string' },
  beam: { type: 'string' },
  max: { type: 'string' },
  'skip-bad': { type: 'boolean' },
  ...BACKEND_FLAG,
} as const;

export const EVAL_TRANSLATE_HELP = `Usage: attend eval translate --model DIR (--pairs FILE | --split validation) [options]

Prints corpus BLEU-4 (sacreBLEU: 13a tokens, exponential smoothing off, multi-reference: the targets
of equal sources grouped) of a model trained by \`attend train translate\`, with the 4 n-gram
precisions, the brevity penalty and the lengths. The pairs are normalised as the training pairs were.

  --model DIR        the checkpoint directory
  --pairs FILE       a tab-separated "source<TAB>target" file
  --split WHICH      validation | training: that part of the checkpoint's own data, split and
                     filtered as in training (its --pairs file, or this --pairs file; the date task
                     for a date model); without it, every pair of --pairs
  --beam K           beam size; 1 = greedy, batched (default 5)
  --max N            translate at most N distinct sources (default: all)
  --skip-bad         skip malformed lines instead of stopping at the first
${BACKEND_HELP}`;

export async function evalTranslate(argv: string[]): Promise<number> {
  const { values } = parse(argv, FLAGS, EVAL_TRANSLATE_HELP);
  if (values.help) {
    console.log(EVAL_TRANSLATE_HELP);
    return 0;
  }
  if (values.model === undefined) throw new DataError(`--model DIR is required\n\n${EVAL_TRANSLATE_HELP}`);
  const split = values.split === undefined ? undefined : choiceFlag('split', values.split, SPLITS, 'validation');
  if (values.pairs === undefined && split === undefined) {
    throw new DataError(`--pairs FILE or --split validation is required: the sentence pairs to score on\n\n${EVAL_TRANSLATE_HELP}`);
  }
  const beam = intFlag('beam', values.beam, 5);
  const max = values.max === undefined ? Infinity : intFlag('max', values.max, 1);
  await useBackend(values.backend);
  const { model, src, tgt, settings } = await loadTranslator(String(values.model));
  try {
    let pairs: readonly SentencePair[];
    let what: string;
    if (split) {
      const file = values.pairs === undefined ? settings.pairs : String(values.pairs);
      const data = await loadTranslatePairs({ ...settings, pairs: file, skipBad: settings.skipBad || Boolean(values['skip-bad']) }, () => {});
      pairs = split === 'validation' ? data.val : data.train;
      what = `the ${split} split of ${file ?? 'the date task'}, ${pairs.length} pairs`;
    } else {
      const r = await loadPairs(String(values.pairs), { lowercase: settings.lowercase, reverse: settings.reverse, skipBad: Boolean(values['skip-bad']) });
      if (r.skipped > 0) console.log(`skipped ${r.skipped} bad line${r.skipped === 1 ? '' : 's'} (--skip-bad)`);
      if (r.pairs.length === 0) throw new DataError(`${r.file} holds no sentence pairs`);
      pairs = r.pairs;
      what = `${r.file}, ${r.pairs.length} pairs`;
    }
    const translate = (sources: number[][]): number[][] =>
      beam === 1
        ? greedyTranslate(model, sources).map((h) => h.ids)
        : sources.map((ids) => {
            const input = tf.tensor1d(ids.length ? ids : [0], 'int32');
            try {
              return model.beamSearch(input, { beam }).ids;
            } finally {
              input.dispose();
            }
          });
    const t0 = performance.now();
    const { bleu, n } = pairsBleu(translate, src, tgt, pairs, max);
    const seconds = (performance.now() - t0) / 1000;
    console.log(`pairs: ${what}, ${n} distinct sources translated (${beam === 1 ? 'greedy' : `beam ${beam}`}, ${seconds.toFixed(1)} s)`);
    console.log(formatBleu(bleu));
    console.log(`precisions (1–4-grams): ${bleu.precisions.map((p) => p.toFixed(2)).join(', ')}; brevity penalty ${bleu.bp.toFixed(4)}; hypothesis length ${bleu.sysLen}, reference length ${bleu.refLen}`);
    return 0;
  } finally {
    model.dispose();
  }
}
