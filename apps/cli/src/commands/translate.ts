// `attend translate --model DIR "sentence" …`: translations by a model of `attend train translate`
// (beam search, GNMT length penalty), warnings for words the model never saw ([UNK]), and with
// --attention-map the alignment heatmap of the (first) sentence as an SVG.
import { writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { DataError } from '@attend/core';
import { SPECIALS, WordTokenizer } from '@attend/tokenizers';
import type { Command } from './command.js';
import { intFlag, parse } from '../args.js';
import { BACKEND_FLAG, BACKEND_HELP, useBackend } from '../lib/backend.js';
import { detokenize, type PairTokenizer } from '../translate/data.js';
import { loadTranslator, prepareSource } from '../translate/model.js';
import { attentionSvg } from '../translate/svg.js';

const FLAGS = {
  model: { type: 'string' },
  beam: { type: 'string' },
  'attention-map': { type: 'string' },
  ...BACKEND_FLAG,
} as const;

const HELP = `Usage: attend translate --model DIR [options] "sentence" ["sentence" …]

Translates each sentence with a model trained by \`attend train translate\` and prints one
translation per line.

  --model DIR            the checkpoint directory (the --out of training)
  --beam K               beam size; 1 = greedy (default 5)
  --attention-map FILE   write the attention weights of the first sentence as an SVG heatmap
                         (source tokens across, output tokens down)
${BACKEND_HELP}`;

export const translateCommand: Command = {
  name: 'translate',
  synopsis: 'translate --model DIR "sentence" …',
  summary: 'translate sentences with a trained encoder–decoder (and draw its attention)',
  async run(argv) {
    const { values, positionals } = parse(argv, FLAGS, HELP, true);
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    if (values.model === undefined) throw new DataError(`--model DIR is required: the directory a training run wrote (its --out)\n\n${HELP}`);
    if (positionals.length === 0) throw new DataError(`no sentence given: pass the text to translate in quotes, e.g. attend translate --model DIR "3 May 1998"`);
    const beam = intFlag('beam', values.beam, 5);
    await useBackend(values.backend);
    const { model, src, tgt, settings } = await loadTranslator(String(values.model));
    try {
      for (const [n, text] of positionals.entries()) {
        const prepared = prepareSource(text, settings);
        if (prepared.length === 0) throw new DataError(`sentence ${n + 1} is empty; give some text to translate`);
        const ids = src.encode(prepared);
        const unknown = [...new Set(tokensOf(src, prepared).filter((_, i) => ids[i] === SPECIALS.unk))];
        if (unknown.length > 0) {
          console.error(`warning: not in the model's source vocabulary, translated as [UNK]: ${unknown.map((w) => JSON.stringify(w)).join(', ')}`);
        }
        const input = tf.tensor1d(ids, 'int32');
        let result;
        try {
          result = model.beamSearch(input, { beam });
        } finally {
          input.dispose();
        }
        console.log(detokenize(tgt, result.ids));
        if (n === 0 && values['attention-map'] !== undefined) {
          const file = String(values['attention-map']);
          if (!result.weights) {
            console.error(`warning: this model has no attention (attention none); ${file} not written`);
          } else {
            const out = result.ids.map((id) => tgt.tokenOf(id));
            writeFileSync(file, attentionSvg({ title: text, source: tokensOf(src, prepared), output: out, weights: result.weights }));
            console.error(`attention map: ${file} (${out.length} output × ${ids.length} source tokens)`);
          }
        }
      }
      return 0;
    } finally {
      model.dispose();
    }
  },
};

/** The tokens `encode` sees, one per id. */
function tokensOf(tok: PairTokenizer, text: string): string[] {
  return tok instanceof WordTokenizer ? tok.tokenize(text) : [...text];
}
