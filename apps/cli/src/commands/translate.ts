// `attend translate --model DIR "sentence" …`: translations by a model of `attend train translate`
// (beam search, GNMT length penalty), warnings for words the model never saw ([UNK]), and with
// --attention-map the alignment heatmap of the (first) sentence as an SVG: the recurrent model's
// one attention, or one Transformer decoder layer's cross-attention (--layer), one head (--head) or
// the mean of its heads.
import { writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { DataError } from '@attend/core';
import { BPETokenizer, SPECIALS, WordTokenizer } from '@attend/tokenizers';
import { Transformer } from '@attend/transformer';
import type { Command } from './command.js';
import { intFlag, parse, UsageError } from '../args.js';
import { BACKEND_FLAG, BACKEND_HELP, useBackend } from '../lib/backend.js';
import { detokenize, tokenLabel, type PairTokenizer } from '../translate/data.js';
import { crossAttentionMap, loadTranslator, prepareSource } from '../translate/model.js';
import { attentionSvg } from '../translate/svg.js';

const FLAGS = {
  model: { type: 'string' },
  beam: { type: 'string' },
  'attention-map': { type: 'string' },
  layer: { type: 'string' },
  head: { type: 'string' },
  ...BACKEND_FLAG,
} as const;

const HELP = `Usage: attend translate --model DIR [options] "sentence" ["sentence" …]

Translates each sentence with a model trained by \`attend train translate\` and prints one
translation per line.

  --model DIR            the checkpoint directory (the --out of training)
  --beam K               beam size; 1 = greedy (default 5)
  --attention-map FILE   write the attention weights of the first sentence as an SVG heatmap
                         (source tokens across, output tokens down)
  --layer L              Transformer models: the decoder layer whose cross-attention to draw,
                         1 = first (default: the last)
  --head H               Transformer models: the attention head to draw, 1 = first (default: the
                         average of all heads)
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
    const picked = ['layer', 'head'].filter((k) => values[k] !== undefined);
    if (picked.length > 0 && values['attention-map'] === undefined) {
      throw new UsageError(`--${picked[0]} chooses what --attention-map draws; add --attention-map FILE.svg`);
    }
    const map = values['attention-map'];
    if (map !== undefined && !/\.svg$/i.test(String(map))) {
      // Only SVG is written: never SVG bytes under another format's name.
      throw new UsageError(`--attention-map writes an SVG: expected a file name ending in .svg, got "${String(map)}" (for a PNG, convert it, e.g. rsvg-convert map.svg -o map.png)`);
    }
    const layerFlag = values.layer === undefined ? undefined : intFlag('layer', values.layer, 1);
    const headFlag = values.head === undefined ? undefined : intFlag('head', values.head, 1);
    await useBackend(values.backend);
    const { model, src, tgt, settings } = await loadTranslator(String(values.model));
    try {
      // Which attention to draw: checked before translating anything.
      let layer = 0;
      if (model instanceof Transformer) {
        const { decoderLayers, heads } = model.config;
        if (layerFlag !== undefined && layerFlag > decoderLayers) throw new UsageError(`--layer: this model has ${decoderLayers} decoder layers; expected 1 to ${decoderLayers}, got ${layerFlag}`);
        if (headFlag !== undefined && headFlag > heads) throw new UsageError(`--head: this model has ${heads} heads; expected 1 to ${heads}, got ${headFlag}`);
        layer = (layerFlag ?? decoderLayers) - 1;
      } else if (picked.length > 0) {
        throw new UsageError(`--${picked[0]} applies to Transformer models (trained with --arch transformer); this recurrent model has one attention, drawn by --attention-map alone`);
      }
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
            const out = result.ids.map((id) => tokenLabel(tgt, id));
            let title = text;
            let weights = result.weights;
            if (model instanceof Transformer) {
              const what = `decoder layer ${layer + 1}/${model.config.decoderLayers}, ${headFlag === undefined ? `mean of ${model.config.heads} heads` : `head ${headFlag}/${model.config.heads}`}`;
              title = `${text} — cross-attention, ${what}`;
              weights = crossAttentionMap(model, ids, result.ids, layer, headFlag === undefined ? undefined : headFlag - 1);
            }
            writeFileSync(file, attentionSvg({ title, source: tokensOf(src, prepared), output: out, weights }));
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
  if (tok instanceof BPETokenizer) return tok.encode(text).map((id) => tokenLabel(tok, id));
  return tok instanceof WordTokenizer ? tok.tokenize(text) : [...text];
}
