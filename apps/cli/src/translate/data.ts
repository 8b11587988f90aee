// The data of `attend train translate`: the embedded date task (generateDatePairs, character
// tokens) or a pairs file (loadPairs: normalised, split by a hash of the source, length-filtered),
// the source and target tokenizers built from the TRAINING pairs only, and the encoded examples.
import { DataError } from '@attend/core';
import { generateDatePairs, splitPairs, type SentencePair } from '@attend/datasets';
import { loadPairs } from '@attend/datasets/node';
import { BPETokenizer, CharTokenizer, WordTokenizer } from '@attend/tokenizers';
import type { Example } from './batches.js';
import type { TokenKind, TranslateSettings } from './flags.js';

export type PairTokenizer = CharTokenizer | WordTokenizer | BPETokenizer;

/** The date task's sizes. */
export const DATE_TRAIN = 20_000;
export const DATE_VAL = 1_000;

export interface TranslateData {
  /** What was loaded, in words. */
  description: string;
  train: SentencePair[];
  val: SentencePair[];
  src: PairTokenizer;
  tgt: PairTokenizer;
  trainExamples: Example[];
  valExamples: Example[];
  /** Whether the task is the date task (scored by exact match; BLEU otherwise). */
  dates: boolean;
}

export function buildTokenizer(kind: TokenKind, texts: string[], minFrequency: number, bpeVocab = 4000): PairTokenizer {
  if (kind === 'bpe') return BPETokenizer.train(texts, { vocabSize: bpeVocab, minFrequency: Math.max(2, minFrequency) });
  return kind === 'char' ? CharTokenizer.fromText(texts) : WordTokenizer.fromText(texts, { lowercase: false, minFrequency });
}

/** Output ids → text: words joined by spaces (the normalised form of the pairs), characters and BPE pieces as they are. */
export function detokenize(tok: PairTokenizer, ids: readonly number[]): string {
  if (tok instanceof BPETokenizer) return tok.decode(ids as number[]);
  const parts = ids.map((id) => tok.tokenOf(id));
  return tok instanceof CharTokenizer ? parts.join('') : parts.join(' ');
}

/** A token's text for display (heatmap labels): a BPE piece decoded to its characters. */
export function tokenLabel(tok: PairTokenizer, id: number): string {
  return tok instanceof BPETokenizer ? tok.decode([id]) : tok.tokenOf(id);
}

export function encodeExamples(pairs: readonly SentencePair[], src: PairTokenizer, tgt: PairTokenizer): Example[] {
  return pairs.map((p) => ({ src: src.encode(p.source), tgt: tgt.encode(p.target) }));
}

/** Loads the data of `s`; with `tokenizers` (a resumed run) the saved ones are used instead of new ones. */
export async function loadTranslateData(
  s: TranslateSettings,
  tokenizers?: { src: PairTokenizer; tgt: PairTokenizer },
  log: (line: string) => void = console.log,
): Promise<TranslateData> {
  const { description, train, val } = await loadTranslatePairs(s, log);
  const src = tokenizers?.src ?? buildTokenizer(s.tokens, train.map((p) => p.source), s.minFrequency, s.bpeVocab);
  const tgt = tokenizers?.tgt ?? buildTokenizer(s.tokens, train.map((p) => p.target), s.minFrequency, s.bpeVocab);
  return { description, train, val, src, tgt, trainExamples: encodeExamples(train, src, tgt), valExamples: encodeExamples(val, src, tgt), dates: s.pairs === undefined };
}

/** The sentence pairs of `s`, normalised, length-filtered and split as training uses them (no tokenizers, nothing encoded). */
export async function loadTranslatePairs(
  s: TranslateSettings,
  log: (line: string) => void = console.log,
): Promise<{ description: string; train: SentencePair[]; val: SentencePair[] }> {
  let train: SentencePair[];
  let val: SentencePair[];
  let description: string;
  if (s.pairs === undefined) {
    const all = generateDatePairs(DATE_TRAIN + DATE_VAL, s.seed).map((p, i) => {
      const pair = { source: p.source, target: p.target, line: i + 1 };
      return s.reverse ? { ...pair, source: p.target, target: p.source } : pair;
    });
    train = all.slice(0, DATE_TRAIN);
    val = all.slice(DATE_TRAIN);
    description = `the date task (human-written dates → ISO${s.reverse ? ', reversed' : ''}): ${train.length.toLocaleString('en-US')} training, ${val.length.toLocaleString('en-US')} validation pairs`;
  } else {
    const r = await loadPairs(s.pairs, {
      lowercase: s.lowercase,
      reverse: s.reverse,
      skipBad: s.skipBad,
      maxLength: s.tokens === 'char' ? Infinity : s.maxLength, // words, for word and BPE tokens
    });
    let pairs = r.pairs;
    let tooLong = r.tooLong;
    if (s.tokens === 'char') {
      const keep = pairs.filter((p) => [...p.source].length <= s.maxLength && [...p.target].length <= s.maxLength);
      tooLong += pairs.length - keep.length;
      pairs = keep;
    }
    if (r.skipped > 0) {
      const first = r.badLines.slice(0, 3).map((b) => `line ${b.line}: ${b.reason}`).join('; ');
      log(`skipped ${r.skipped} bad line${r.skipped === 1 ? '' : 's'} of ${r.file} (--skip-bad)${first ? `: ${first}${r.skipped > 3 ? '; …' : ''}` : ''}`);
    }
    if (tooLong > 0) log(`filtered ${tooLong} pair${tooLong === 1 ? '' : 's'} longer than --max-length ${s.maxLength} ${s.tokens === 'char' ? 'characters' : s.tokens === 'bpe' ? 'word tokens' : 'tokens'}`);
    if (pairs.length === 0) throw new DataError(`${r.file}: no pairs left (${r.lines} lines, ${tooLong} too long, ${r.skipped} bad); use a larger --max-length`);
    ({ train, val } = splitPairs(pairs, { valFraction: 0.1, seed: 0 }));
    if (train.length === 0 || val.length === 0) {
      throw new DataError(`${r.file}: ${pairs.length} pairs give ${train.length} training and ${val.length} validation pairs (split by source); need more distinct sentences`);
    }
    description = `${r.file}: ${pairs.length.toLocaleString('en-US')} pairs → ${train.length.toLocaleString('en-US')} training, ${val.length.toLocaleString('en-US')} validation (split by source)`;
  }
  return { description, train, val };
}
