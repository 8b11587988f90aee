// A trained translation model on disk (a checkpoint of `attend train translate`) and the shared
// inference helpers: batched greedy translation, validation loss, exact match and corpus BLEU, and
// the Transformer's cross-attention of one layer and head for heatmaps. Both architectures — the
// recurrent Seq2Seq (@attend/attention) and the Transformer (@attend/transformer) — decode through
// the same greedyDecode / beamSearch; the checkpoint's `config.model.arch` says which to rebuild.
import * as tf from '@tensorflow/tfjs-core';
import { Seq2Seq, type Seq2SeqConfig, type Seq2SeqHypothesis } from '@attend/attention';
import { DataError } from '@attend/core';
import { groupReferences, normalizeSentence, type SentencePair } from '@attend/datasets';
import { BPETokenizer, CharTokenizer, SPECIALS, tokenizerFromJSON, WordTokenizer } from '@attend/tokenizers';
import { corpusBleu, type BleuScore } from '@attend/training';
import { loadCheckpoint, type LoadedCheckpoint } from '@attend/training/node';
import { Transformer, type TransformerConfig } from '@attend/transformer';
import { loadWeightsInto } from '../lib/model-dir.js';
import { disposeBatch, padBatch, sortedBatches, toTensors, type Example, type TensorBatch } from './batches.js';
import { detokenize, type PairTokenizer } from './data.js';
import { normalizeSettings, type Arch, type ModelSettings, type TranslateSettings } from './flags.js';

/** The checkpoint's `config.model.kind`. */
export const TRANSLATE_KIND = 'translate';

/** A translation model of either architecture. */
export type TranslationModel = Seq2Seq | Transformer;

/** The architecture of a model. */
export function archOf(model: TranslationModel): Arch {
  return model instanceof Transformer ? 'transformer' : 'rnn';
}

/** The Transformer's position table: the default 256, or longer when --max-length allows longer pairs (the target adds [BOS]). */
export function transformerMaxLength(maxLength: number): number {
  return Math.max(256, maxLength + 1);
}

/** Builds the model `settings` describe (fresh weights). */
export function buildTranslationModel(settings: ModelSettings, srcVocab: number, tgtVocab: number, maxLength: number): TranslationModel {
  if (settings.arch === 'transformer') {
    const { dModel, heads, layers, ff, norm, dropout, seed } = settings;
    return new Transformer({ srcVocab, tgtVocab, dModel, heads, encoderLayers: layers, decoderLayers: layers, dFF: ff, norm, dropout, maxLength: transformerMaxLength(maxLength), seed });
  }
  const { arch, ...config } = settings;
  return new Seq2Seq({ ...config, srcVocab, tgtVocab });
}

/** What a checkpoint's `config.model` records: the kind, the architecture and the model's own config. */
export function checkpointModelConfig(model: TranslationModel): Record<string, unknown> {
  return { kind: TRANSLATE_KIND, arch: archOf(model), ...model.config };
}

/** The mean loss (nats per target token) of a padded batch; `labelSmoothing` applies to the Transformer only. */
export function batchLoss(model: TranslationModel, b: TensorBatch, options: { training?: boolean; labelSmoothing?: number } = {}): tf.Scalar {
  const { training = false, labelSmoothing = 0 } = options;
  return model instanceof Transformer
    ? model.loss(b.src, b.tgtIn, b.tgtOut, { srcMask: b.srcLengths, tgtMask: b.tgtMask }, { training, labelSmoothing })
    : model.loss(b.src, b.srcLengths, b.tgtIn, b.tgtOut, b.tgtMask, { training });
}

export interface LoadedTranslator {
  model: TranslationModel;
  src: PairTokenizer;
  tgt: PairTokenizer;
  settings: TranslateSettings;
  checkpoint: LoadedCheckpoint;
}

/** How `attend translate` prepares a sentence as the training pairs were: normalised for --pairs, raw for the date task. */
export function prepareSource(text: string, settings: Pick<TranslateSettings, 'pairs' | 'lowercase'>): string {
  return settings.pairs === undefined ? text.trim() : normalizeSentence(text, { lowercase: settings.lowercase });
}

/** A saved tokenizer that translation can use (character or word). */
function pairTokenizer(side: string, json: unknown): PairTokenizer {
  const tok = tokenizerFromJSON(json);
  if (!(tok instanceof CharTokenizer || tok instanceof WordTokenizer || tok instanceof BPETokenizer)) throw new Error(`${side}: expected a char, word or BPE tokenizer`);
  return tok;
}

/** Reads the tokenizers saved as `{ src, tgt }`. */
export function readTokenizers(json: unknown, dir: string): { src: PairTokenizer; tgt: PairTokenizer } {
  const t = json as { src?: unknown; tgt?: unknown } | null;
  try {
    if (!t || t.src === undefined || t.tgt === undefined) throw new Error('expected {"src": …, "tgt": …}');
    return { src: pairTokenizer('src', t.src), tgt: pairTokenizer('tgt', t.tgt) };
  } catch (err) {
    throw new DataError(`checkpoint ${dir} is corrupt: tokenizer.json: ${(err as Error).message}`);
  }
}

/** Rebuilds the model and tokenizers saved in `dir`; you own (and dispose) the model. */
export async function loadTranslator(dir: string): Promise<LoadedTranslator> {
  const checkpoint = await loadCheckpoint(dir);
  // Checkpoints written before --arch existed have no `arch`: they are rnn models.
  const { kind, arch = 'rnn', ...config } = checkpoint.config.model as unknown as { kind?: string; arch?: string } & Seq2SeqConfig & TransformerConfig;
  if (kind !== TRANSLATE_KIND) {
    throw new DataError(`${dir} holds a "${String(kind)}" model; this command expects a translation model written by \`attend train translate\``);
  }
  if (arch !== 'rnn' && arch !== 'transformer') throw new DataError(`checkpoint ${dir} holds a translation model of unknown architecture "${String(arch)}"; expected rnn or transformer`);
  const { src, tgt } = readTokenizers(checkpoint.tokenizer, dir);
  if (src.vocabSize !== config.srcVocab || tgt.vocabSize !== config.tgtVocab) {
    throw new DataError(`checkpoint ${dir} is inconsistent: its tokenizers have ${src.vocabSize}/${tgt.vocabSize} tokens but its model expects ${config.srcVocab}/${config.tgtVocab}`);
  }
  let fresh: TranslationModel;
  try {
    fresh = arch === 'transformer' ? new Transformer(config) : new Seq2Seq(config);
  } catch (err) {
    throw new DataError(`checkpoint ${dir} is corrupt: config.json: ${(err as Error).message}`);
  }
  const model = loadWeightsInto(fresh, checkpoint, dir);
  return { model, src, tgt, settings: normalizeSettings(checkpoint.config.training as unknown as TranslateSettings), checkpoint };
}

/**
 * The cross-attention of a Transformer while it produced `output` from `source` (token ids): decoder
 * layer `layer` (0-based), head `head` (0-based) or the mean of all heads (undefined), as
 * `[output.length][source.length]` — recomputed by teacher forcing on [BOS] + output, which gives
 * the weights cached decoding used.
 */
export function crossAttentionMap(model: Transformer, source: readonly number[], output: readonly number[], layer: number, head?: number): number[][] {
  return tf.tidy(() => {
    const src = tf.tensor2d([source.length ? [...source] : [SPECIALS.pad]], undefined, 'int32'); // [1, S]
    const tgtIn = tf.tensor2d([[SPECIALS.bos, ...output]], undefined, 'int32'); // [1, T]
    const w = model.attentionWeights(src, tgtIn).cross[layer]!; // [1, h, T, S]
    const picked = head === undefined ? tf.mean(w, 1) : tf.squeeze(tf.slice(w, [0, head, 0, 0], [1, 1, -1, -1]), [1]); // [1, T, S]
    return (picked.arraySync() as number[][][])[0]!.slice(0, output.length);
  });
}

/** Greedy translations of `sources` (token ids), in their order, `batch` at a time. */
export function greedyTranslate(model: TranslationModel, sources: readonly number[][], batch = 64): Seq2SeqHypothesis[] {
  const out: Seq2SeqHypothesis[] = [];
  for (let i = 0; i < sources.length; i += batch) {
    const b = padBatch(sources.slice(i, i + batch).map((src) => ({ src: src.length ? src : [0], tgt: [] })));
    const src = tf.tensor2d(b.src, [b.batchSize, b.srcLen], 'int32');
    try {
      out.push(...model.greedyDecode(src, b.srcLengths));
    } finally {
      src.dispose();
    }
  }
  return out;
}

/** Mean cross-entropy (nats per target token, [EOS] included) over `examples`. */
export function validationLoss(model: TranslationModel, examples: readonly Example[], batchSize: number): number {
  let sum = 0;
  let tokens = 0;
  for (const b of sortedBatches(examples, batchSize)) {
    const t = toTensors(b);
    const loss = batchLoss(model, t); // plain cross-entropy, no label smoothing
    const n = b.tgtMask.reduce((a, x) => a + x, 0);
    sum += loss.dataSync()[0]! * n;
    tokens += n;
    loss.dispose();
    disposeBatch(t);
  }
  if (tokens === 0) throw new DataError('no validation pairs to evaluate');
  return sum / tokens;
}

/** Exact-match accuracy (in [0, 1]) of greedy translations of up to `max` pairs. */
export function exactMatch(model: TranslationModel, src: PairTokenizer, tgt: PairTokenizer, pairs: readonly SentencePair[], max: number): { accuracy: number; n: number } {
  const some = pairs.slice(0, max);
  const hyps = greedyTranslate(model, some.map((p) => src.encode(p.source)));
  const correct = hyps.filter((h, i) => detokenize(tgt, h.ids) === some[i]!.target).length;
  return { accuracy: correct / Math.max(1, some.length), n: some.length };
}

/** Corpus BLEU of translations of up to `max` distinct sources of `pairs`, every target of a source a reference. */
export function pairsBleu(
  translate: (sources: number[][]) => number[][],
  src: PairTokenizer,
  tgt: PairTokenizer,
  pairs: readonly SentencePair[],
  max: number,
): { bleu: BleuScore; n: number } {
  const groups = groupReferences(pairs).slice(0, max);
  const outputs = translate(groups.map((g) => src.encode(g.source)));
  const bleu = corpusBleu(outputs.map((ids) => detokenize(tgt, ids)), groups.map((g) => g.references));
  return { bleu, n: groups.length };
}

export function formatBleu(b: BleuScore): string {
  return `BLEU = ${b.score.toFixed(2)} ${b.precisions.map((p) => p.toFixed(1)).join('/')} (BP = ${b.bp.toFixed(3)} ratio = ${(b.sysLen / Math.max(1, b.refLen)).toFixed(3)} hyp_len = ${b.sysLen} ref_len = ${b.refLen})`;
}
