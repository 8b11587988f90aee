// `attend eval translate --model DIR --pairs FILE`: corpus BLEU-4 (sacreBLEU's definition, 13a
// tokenisation, via corpusBleu) of a trained translation model on a pairs file, every target of the
// same (normalised) source a reference; beam search or greedy (--beam 1).
import * as tf from '@tensorflow/tfjs-core';
import { DataError } from '@attend/core';
import { loadPairs } from '@attend/datasets/node';
import { intFlag, parse } from '../args.js';
import { BACKEND_FLAG, BACKEND_HELP, useBackend } from '../lib/backend.js';
import { formatBleu, greedyTranslate, loadTranslator, pairsBleu } from './model.js';

const FLAGS = {
  model: { type: 'string' },
  pairs: { type: 'string' },
  beam: { type: 'string' },
  max: { type: 'string' },
  'skip-bad': { type: 'boolean' },
  ...BACKEND_FLAG,
} as const;

export const EVAL_TRANSLATE_HELP = `Usage: attend eval translate --model DIR --pairs FILE [options]

Prints corpus BLEU-4 (sacreBLEU: 13a tokens, exponential smoothing off, multi-reference: the targets
of equal sources grouped) of a model trained by \`attend train translate\`, with the 4 n-gram
precisions, the brevity penalty and the lengths. The pairs are normalised as the training pairs were.

  --model DIR        the checkpoint directory
  --pairs FILE       a tab-separated "source<TAB>target" file
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
  if (values.pairs === undefined) throw new DataError(`--pairs FILE is required: the sentence pairs to score on\n\n${EVAL_TRANSLATE_HELP}`);
  const beam = intFlag('beam', values.beam, 5);
  const max = values.max === undefined ? Infinity : intFlag('max', values.max, 1);
  await useBackend(values.backend);
  const { model, src, tgt, settings } = await loadTranslator(String(values.model));
  try {
    const r = await loadPairs(String(values.pairs), { lowercase: settings.lowercase, reverse: settings.reverse, skipBad: Boolean(values['skip-bad']) });
    if (r.skipped > 0) console.log(`skipped ${r.skipped} bad line${r.skipped === 1 ? '' : 's'} (--skip-bad)`);
    if (r.pairs.length === 0) throw new DataError(`${r.file} holds no sentence pairs`);
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
    const { bleu, n } = pairsBleu(translate, src, tgt, r.pairs, max);
    const seconds = (performance.now() - t0) / 1000;
    console.log(`pairs: ${r.file}, ${r.pairs.length} pairs, ${n} distinct sources translated (${beam === 1 ? 'greedy' : `beam ${beam}`}, ${seconds.toFixed(1)} s)`);
    console.log(formatBleu(bleu));
    console.log(`precisions (1–4-grams): ${bleu.precisions.map((p) => p.toFixed(2)).join(', ')}; brevity penalty ${bleu.bp.toFixed(4)}; hypothesis length ${bleu.sysLen}, reference length ${bleu.refLen}`);
    return 0;
  } finally {
    model.dispose();
  }
}
