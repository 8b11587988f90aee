// A trained translation model on disk (a checkpoint of `attend train translate`) and the shared
// inference helpers: batched greedy translation, validation loss, exact match and corpus BLEU.
import * as tf from '@tensorflow/tfjs-core';
import { Seq2Seq, type Seq2SeqConfig, type Seq2SeqHypothesis } from '@attend/attention';
import { DataError } from '@attend/core';
import { groupReferences, normalizeSentence, type SentencePair } from '@attend/datasets';
import { tokenizerFromJSON } from '@attend/tokenizers';
import { corpusBleu, type BleuScore } from '@attend/training';
import { loadCheckpoint, type LoadedCheckpoint } from '@attend/training/node';
import { loadWeightsInto } from '../lib/model-dir.js';
import { disposeBatch, padBatch, sortedBatches, toTensors, type Example } from './batches.js';
import { detokenize, type PairTokenizer } from './data.js';
import type { TranslateSettings } from './flags.js';

/** The checkpoint's `config.model.kind`. */
export const TRANSLATE_KIND = 'translate';

export interface LoadedTranslator {
  model: Seq2Seq;
  src: PairTokenizer;
  tgt: PairTokenizer;
  settings: TranslateSettings;
  checkpoint: LoadedCheckpoint;
}

/** How `attend translate` prepares a sentence as the training pairs were: normalised for --pairs, raw for the date task. */
export function prepareSource(text: string, settings: Pick<TranslateSettings, 'pairs' | 'lowercase'>): string {
  return settings.pairs === undefined ? text.trim() : normalizeSentence(text, { lowercase: settings.lowercase });
}

/** Reads the tokenizers saved as `{ src, tgt }`. */
export function readTokenizers(json: unknown, dir: string): { src: PairTokenizer; tgt: PairTokenizer } {
  const t = json as { src?: unknown; tgt?: unknown } | null;
  try {
    if (!t || t.src === undefined || t.tgt === undefined) throw new Error('expected {"src": …, "tgt": …}');
    return { src: tokenizerFromJSON(t.src), tgt: tokenizerFromJSON(t.tgt) };
  } catch (err) {
    throw new DataError(`checkpoint ${dir} is corrupt: tokenizer.json: ${(err as Error).message}`);
  }
}

/** Rebuilds the model and tokenizers saved in `dir`; you own (and dispose) the model. */
export async function loadTranslator(dir: string): Promise<LoadedTranslator> {
  const checkpoint = await loadCheckpoint(dir);
  const { kind, ...config } = checkpoint.config.model as unknown as { kind?: string } & Seq2SeqConfig;
  if (kind !== TRANSLATE_KIND) {
    throw new DataError(`${dir} holds a "${String(kind)}" model; this command expects a translation model written by \`attend train translate\``);
  }
  const { src, tgt } = readTokenizers(checkpoint.tokenizer, dir);
  if (src.vocabSize !== config.srcVocab || tgt.vocabSize !== config.tgtVocab) {
    throw new DataError(`checkpoint ${dir} is inconsistent: its tokenizers have ${src.vocabSize}/${tgt.vocabSize} tokens but its model expects ${config.srcVocab}/${config.tgtVocab}`);
  }
  const model = loadWeightsInto(new Seq2Seq(config), checkpoint, dir);
  return { model, src, tgt, settings: checkpoint.config.training as unknown as TranslateSettings, checkpoint };
}

/** Greedy translations of `sources` (token ids), in their order, `batch` at a time. */
export function greedyTranslate(model: Seq2Seq, sources: readonly number[][], batch = 64): Seq2SeqHypothesis[] {
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
export function validationLoss(model: Seq2Seq, examples: readonly Example[], batchSize: number): number {
  let sum = 0;
  let tokens = 0;
  for (const b of sortedBatches(examples, batchSize)) {
    const t = toTensors(b);
    const loss = model.loss(t.src, t.srcLengths, t.tgtIn, t.tgtOut, t.tgtMask);
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
export function exactMatch(model: Seq2Seq, src: PairTokenizer, tgt: PairTokenizer, pairs: readonly SentencePair[], max: number): { accuracy: number; n: number } {
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
