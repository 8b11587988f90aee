// Byte-level BPE tokenizer, as in GPT-2 (Radford et al. 2019, "Language Models are Unsupervised
// Multitask Learners"; openai/gpt-2 `encoder.py`) on top of byte-pair encoding for words (Sennrich
// et al. 2016, "Neural Machine Translation of Rare Words with Subword Units"):
//   text → pieces (GPT-2's pre-tokenization regex) → UTF-8 bytes → one symbol per byte (GPT-2's
//   byte-to-unicode map) → merges applied by rank.
// Every byte has a token, so any text encodes without [UNK] and decodes back to itself.
// Training follows Sennrich's greedy loop with the bookkeeping of Hugging Face tokenizers'
// `BpeTrainer`: pair counts are updated incrementally from the words each merge touches, and a
// max-heap with lazy re-insertion picks the next pair, so a merge costs time in the words it
// changes, not in the corpus.
//
// Ids: [PAD] [BOS] [EOS] [UNK] at 0..3, then the extra `specials` (if any), then the 256 byte
// symbols in byte order, then one token per merge in merge order.
import { ConfigError, DataError, assertInt } from '@attend/core/base';
import { readBool, readHeader, readVocab, show } from './json.js';
import { SPECIALS, SPECIAL_TOKENS, checkId, checkOptionKeys, type Specials } from './specials.js';
import type { BPETokenizerJSON, DecodeOptions, EncodeOptions, Tokenizer } from './tokenizer.js';

/** Options for `BPETokenizer.train`. */
export interface BPETrainOptions {
  /** Ids in the trained tokenizer, specials and the 256 byte symbols included (at most; training stops early when no pair reaches `minFrequency`). */
  vocabSize: number;
  /** Only merge pairs seen at least this often (default 2: a pair seen once teaches nothing about unseen text). */
  minFrequency?: number;
  /** Lower-case text before splitting, when training and when encoding (default false; `decode` then returns lower-cased text). */
  lowercase?: boolean;
  /**
   * Extra special tokens such as `<|endoftext|>` or `[SEP]`, given ids right after `[PAD] [BOS] [EOS] [UNK]`
   * (which every tokenizer has at ids 0..3 and need not be listed; listing them changes nothing).
   * Unlike the fixed four, an extra special written in the text is encoded as its own id and is never merged.
   */
  specials?: readonly string[];
}

export const DEFAULT_BPE_TRAIN_OPTIONS: Readonly<Required<Omit<BPETrainOptions, 'vocabSize'>>> = Object.freeze({
  minFrequency: 2,
  lowercase: false,
  specials: Object.freeze([]) as readonly string[],
});

/** The number of byte symbols: every byte value 0..255 has a token. */
export const BYTE_TOKENS = 256;
/** The largest vocabulary a BPE tokenizer may have (token ids are packed into pair keys below 2^40). */
export const MAX_BPE_VOCAB = 1 << 20;

/**
 * GPT-2's `bytes_to_unicode`: byte `b` → a printable character. Bytes that are printable Latin-1
 * (`!`..`~`, `¡`..`¬`, `®`..`ÿ`) stand for themselves; the other 68 (controls, space, soft hyphen)
 * are shifted to U+0100.. in byte order, so space is `Ġ` (U+0120) and newline `Ċ` (U+010A).
 */
export const BYTE_TO_UNICODE: readonly string[] = Object.freeze(
  (() => {
    const chars = new Array<string>(BYTE_TOKENS);
    const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    let n = 0;
    for (let b = 0; b < BYTE_TOKENS; b++) chars[b] = String.fromCharCode(printable(b) ? b : 0x100 + n++);
    return chars;
  })(),
);

/**
 * GPT-2's pre-tokenization pattern: English contractions, then a letter run, a number run or a
 * punctuation run, each with at most one leading space, then whitespace (a run of spaces gives up
 * its last space to the word after it). One change: combining marks (`\p{M}`) count as letters, as
 * in OpenAI's o200k pattern, so "é" written as e + U+0301, Devanagari or Thai stay whole words.
 */
const PRETOKENIZE_RE = /'(?:[sdmt]|ll|ve|re)| ?[\p{L}\p{M}]+| ?\p{N}+| ?[^\s\p{L}\p{M}\p{N}]+|\s+(?!\S)|\s+/gu;

/** Splits text into the pieces BPE merges within (GPT-2's pre-tokenization); the pieces join back to `text`. */
export function pretokenize(text: string): string[] {
  const pieces: string[] = [];
  let end = 0;
  for (const m of text.matchAll(PRETOKENIZE_RE)) {
    // The alternatives cover every code point; this only guards the round trip should one slip through.
    if (m.index! > end) pieces.push(text.slice(end, m.index));
    pieces.push(m[0]);
    end = m.index! + m[0].length;
  }
  if (end < text.length) pieces.push(text.slice(end));
  return pieces;
}

const encoder = new TextEncoder();
/** `ignoreBOM` keeps a leading U+FEFF (the default drops it); invalid UTF-8 becomes U+FFFD. */
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
/** Pair keys: `left * PAIR + right` (exact in a double: < 2^40). */
const PAIR = MAX_BPE_VOCAB;
/** Encode's heap entries: `rank * POS + position`. */
const POS = 2 ** 32;
/** Encode caches the ids of up to this many distinct pieces (then starts over), pieces up to `CACHE_MAX_PIECE` long. */
const CACHE_SIZE = 100_000;
const CACHE_MAX_PIECE = 256;

/** Strings as given, or one string as one text (a string is iterable too, but char by char). */
function* eachText(texts: string | Iterable<string>, where: string): Generator<string> {
  if (typeof texts === 'string') {
    yield texts;
    return;
  }
  if (texts === null || typeof texts !== 'object' || typeof (texts as Iterable<string>)[Symbol.iterator] !== 'function') {
    throw new ConfigError(`${where}: expected texts to be a string or an iterable of strings (lines, documents), got ${show(texts)}`);
  }
  let i = 0;
  for (const t of texts) {
    if (typeof t !== 'string') throw new ConfigError(`${where}: expected texts[${i}] to be a string, got ${show(t)}`);
    yield t;
    i++;
  }
}

/** The extra specials, checked: unique non-empty strings; the fixed four are dropped. */
function resolveExtraSpecials(specials: unknown, where: string, err: (m: string) => Error): string[] {
  if (!Array.isArray(specials)) throw err(`${where}: expected specials to be an array of strings, got ${show(specials)}`);
  const extras: string[] = [];
  for (const s of specials as unknown[]) {
    if (typeof s !== 'string' || s.length === 0) throw err(`${where}: expected each special to be a non-empty string, got ${show(s)}`);
    if ((SPECIAL_TOKENS as readonly string[]).includes(s)) continue;
    if (extras.includes(s)) throw err(`${where}: special ${show(s)} is listed twice; each special needs one id`);
    if (BYTE_TO_UNICODE.includes(s)) {
      throw err(`${where}: special ${show(s)} is also the symbol of byte ${BYTE_TO_UNICODE.indexOf(s)}; choose a longer name such as "<|${s}|>"`);
    }
    extras.push(s);
  }
  return extras;
}

/** A regex that finds the extra specials in text, longest first, with a capture group for `split`. */
function specialsPattern(extras: readonly string[]): RegExp | undefined {
  if (extras.length === 0) return undefined;
  const alts = [...extras].sort((a, b) => b.length - a.length).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`(${alts.join('|')})`, 'u');
}

/** A binary max-heap of (count, pair key): larger count first, then smaller key, i.e. smaller left id, then smaller right id. */
class PairHeap {
  private readonly counts: number[] = [];
  private readonly keys: number[] = [];

  get size(): number {
    return this.keys.length;
  }

  private before(i: number, j: number): boolean {
    const ci = this.counts[i]!;
    const cj = this.counts[j]!;
    return ci > cj || (ci === cj && this.keys[i]! < this.keys[j]!);
  }

  private swap(i: number, j: number): void {
    const c = this.counts[i]!;
    this.counts[i] = this.counts[j]!;
    this.counts[j] = c;
    const k = this.keys[i]!;
    this.keys[i] = this.keys[j]!;
    this.keys[j] = k;
  }

  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.keys.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** Removes the top entry; read it first with `topCount` / `topKey`. */
  pop(): void {
    const last = this.keys.length - 1;
    this.swap(0, last);
    this.counts.pop();
    this.keys.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < last && this.before(l, best)) best = l;
      if (r < last && this.before(r, best)) best = r;
      if (best === i) break;
      this.swap(i, best);
      i = best;
    }
  }

  topCount(): number {
    return this.counts[0]!;
  }

  topKey(): number {
    return this.keys[0]!;
  }
}

/** A binary min-heap of numbers (encode's `rank * POS + position` entries). */
function heapPush(h: number[], x: number): void {
  let i = h.length;
  h.push(x);
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (h[parent]! <= x) break;
    h[i] = h[parent]!;
    i = parent;
  }
  h[i] = x;
}

function heapPop(h: number[]): number {
  const top = h[0]!;
  const x = h.pop()!;
  const n = h.length;
  if (n > 0) {
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const c = l + 1 < n && h[l + 1]! < h[l]! ? l + 1 : l;
      if (h[c]! >= x) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = x;
  }
  return top;
}

/**
 * Learns merges greedily: each step merges the most frequent adjacent pair of tokens (counted over
 * distinct pieces times their frequency). Ties go to the pair whose left token has the smaller id,
 * then whose right token has the smaller id: byte tokens are numbered in byte order and merged
 * tokens in creation order, so the result depends only on the multiset of pieces, not on the order
 * of the texts. A pair whose concatenation is already a token (the same bytes reached by another
 * split) is skipped, so every token comes from exactly one merge.
 */
function learnMerges(
  pieceCounts: Map<string, number>,
  byteBase: number,
  vocab: string[],
  numMerges: number,
  minFrequency: number,
): [number, number][] {
  // Every distinct piece as a run of token ids in one buffer: word w is syms[start[w] .. start[w] + len[w]).
  const pieces = [...pieceCounts.keys()];
  const encoded = pieces.map((p) => encoder.encode(p));
  const total = encoded.reduce((n, b) => n + b.length, 0);
  const syms = new Int32Array(total);
  const start = new Int32Array(pieces.length);
  const len = new Int32Array(pieces.length);
  const freq = pieces.map((p) => pieceCounts.get(p)!);
  let at = 0;
  encoded.forEach((bytes, w) => {
    start[w] = at;
    len[w] = bytes.length;
    for (const b of bytes) syms[at++] = byteBase + b;
  });

  const counts = new Map<number, number>(); // pair key → occurrences in the corpus
  const where = new Map<number, number[]>(); // pair key → words that have (or had) it, each listed once in a row
  const note = (key: number, w: number) => {
    const list = where.get(key);
    if (list === undefined) where.set(key, [w]);
    else if (list[list.length - 1] !== w) list.push(w);
  };
  for (let w = 0; w < pieces.length; w++) {
    for (let i = start[w]!, end = start[w]! + len[w]! - 1; i < end; i++) {
      const key = syms[i]! * PAIR + syms[i + 1]!;
      counts.set(key, (counts.get(key) ?? 0) + freq[w]!);
      note(key, w);
    }
  }
  const heap = new PairHeap();
  for (const [key, c] of counts) heap.push(c, key);

  const ids = new Map(vocab.map((t, i) => [t, i]));
  const merges: [number, number][] = [];
  const touched = new Set<number>();
  const dec = (key: number, c: number) => {
    const v = (counts.get(key) ?? 0) - c;
    if (v > 0) counts.set(key, v);
    else counts.delete(key);
  };
  const inc = (key: number, c: number, w: number) => {
    counts.set(key, (counts.get(key) ?? 0) + c);
    note(key, w);
    touched.add(key);
  };

  while (merges.length < numMerges && heap.size > 0) {
    const key = heap.topKey();
    const count = heap.topCount();
    heap.pop();
    const current = counts.get(key) ?? 0;
    if (current !== count) {
      // Stale: the pair lost occurrences since this entry was pushed (counts only grow in the step that creates a pair).
      if (current > 0) heap.push(current, key);
      continue;
    }
    if (count < minFrequency) break; // the best pair left is too rare
    const a = Math.floor(key / PAIR);
    const b = key - a * PAIR;
    const token = vocab[a]! + vocab[b]!;
    if (ids.has(token)) continue; // the same bytes are already a token: skip this split for good
    const n = vocab.length;
    vocab.push(token);
    ids.set(token, n);
    merges.push([a, b]);

    // Merge a b → n in every word that has it, left to right, moving the counts of the neighbouring pairs.
    touched.clear();
    for (const w of where.get(key)!) {
      const s = start[w]!;
      const end = s + len[w]!;
      const c = freq[w]!;
      let j = s; // write position; syms[s..j) is the merged prefix
      let i = s;
      while (i < end) {
        if (syms[i] === a && i + 1 < end && syms[i + 1] === b) {
          if (j > s) {
            const prev = syms[j - 1]!; // already merged, may be n itself ("a b a b")
            dec(prev * PAIR + a, c);
            inc(prev * PAIR + n, c, w);
          }
          dec(key, c);
          if (i + 2 < end) {
            const next = syms[i + 2]!;
            dec(b * PAIR + next, c);
            inc(n * PAIR + next, c, w);
          }
          syms[j++] = n;
          i += 2;
        } else {
          syms[j++] = syms[i++]!;
        }
      }
      len[w] = j - s;
    }
    where.delete(key);
    for (const k of touched) {
      const c = counts.get(k);
      if (c !== undefined) heap.push(c, k);
    }
  }
  return merges;
}

/** A byte-level BPE tokenizer with `[PAD] [BOS] [EOS] [UNK]` at ids 0..3; `[UNK]` is never needed for text. */
export class BPETokenizer implements Tokenizer {
  readonly type = 'bpe' as const;
  readonly specials: Specials = SPECIALS;
  /** Whether text is lower-cased before encoding. */
  readonly lowercase: boolean;
  /** The extra special tokens, at ids 4.. (empty unless given to `train`). */
  readonly extraSpecials: readonly string[];
  private readonly tokens: readonly string[];
  private readonly ids: Map<string, number>;
  /** `[left, right]` token ids of each merge, in rank order; merge r makes token `mergeBase + r`. */
  private readonly mergePairs: readonly (readonly [number, number])[];
  /** Pair key → merge rank. */
  private readonly ranks = new Map<number, number>();
  /** The UTF-8 bytes of each token (of its text, for specials). */
  private readonly tokenBytes: Uint8Array[];
  /** Id of the symbol of byte 0. */
  private readonly byteBase: number;
  /** Id of the token of the first merge. */
  private readonly mergeBase: number;
  private readonly specialsRe: RegExp | undefined;
  private readonly cache = new Map<string, number[]>();

  private constructor(vocab: readonly string[], merges: readonly (readonly [number, number])[], extras: readonly string[], lowercase: boolean) {
    this.tokens = Object.freeze([...vocab]);
    this.ids = new Map(vocab.map((t, i) => [t, i]));
    this.extraSpecials = Object.freeze([...extras]);
    this.lowercase = lowercase;
    this.byteBase = SPECIAL_TOKENS.length + extras.length;
    this.mergeBase = this.byteBase + BYTE_TOKENS;
    this.mergePairs = Object.freeze(merges.map(([a, b]) => Object.freeze([a, b] as const)));
    this.tokenBytes = new Array<Uint8Array>(vocab.length);
    for (let id = 0; id < this.byteBase; id++) this.tokenBytes[id] = encoder.encode(vocab[id]!);
    for (let b = 0; b < BYTE_TOKENS; b++) this.tokenBytes[this.byteBase + b] = Uint8Array.of(b);
    merges.forEach(([a, b], r) => {
      this.ranks.set(a * PAIR + b, r);
      const left = this.tokenBytes[a]!;
      const right = this.tokenBytes[b]!;
      const bytes = new Uint8Array(left.length + right.length);
      bytes.set(left);
      bytes.set(right, left.length);
      this.tokenBytes[this.mergeBase + r] = bytes;
    });
    this.specialsRe = specialsPattern(extras);
  }

  /**
   * Learns a tokenizer from `texts`: a string, or strings such as lines or documents. Each string is
   * split on its own, so a word is never joined across two strings (do not feed arbitrary chunks
   * of a file). Merges are learnt greedily by pair frequency; ties go to the smaller left id, then
   * the smaller right id (see `learnMerges`), so training is deterministic.
   */
  static train(texts: string | Iterable<string>, options: BPETrainOptions): BPETokenizer {
    const where = 'BPETokenizer.train';
    if (typeof options !== 'object' || options === null) {
      throw new ConfigError(`${where}: expected options like { vocabSize: 2000 }, got ${show(options)}`);
    }
    checkOptionKeys(where, options, ['vocabSize', ...Object.keys(DEFAULT_BPE_TRAIN_OPTIONS)]);
    const minFrequency = options.minFrequency ?? DEFAULT_BPE_TRAIN_OPTIONS.minFrequency;
    const lowercase = options.lowercase ?? DEFAULT_BPE_TRAIN_OPTIONS.lowercase;
    const extras = resolveExtraSpecials(options.specials ?? DEFAULT_BPE_TRAIN_OPTIONS.specials, where, (m) => new ConfigError(m));
    const base = SPECIAL_TOKENS.length + extras.length + BYTE_TOKENS;
    const { vocabSize } = options;
    if (typeof vocabSize !== 'number' || !Number.isInteger(vocabSize) || vocabSize < base || vocabSize > MAX_BPE_VOCAB) {
      const parts = `${SPECIAL_TOKENS.length} specials${extras.length ? ` + ${extras.length} extra specials` : ''} + ${BYTE_TOKENS} byte symbols`;
      throw new ConfigError(
        `${where}: expected vocabSize to be an integer in [${base}, ${MAX_BPE_VOCAB}] (${parts} = ${base}, plus one per merge), got ${show(vocabSize)}`,
      );
    }
    assertInt(`${where} minFrequency`, minFrequency, 1);
    if (typeof lowercase !== 'boolean') throw new ConfigError(`${where}: expected lowercase to be true or false, got ${show(lowercase)}`);

    const specialsRe = specialsPattern(extras);
    const pieceCounts = new Map<string, number>();
    for (const text of eachText(texts, where)) {
      const segments = specialsRe ? text.split(specialsRe) : [text];
      for (let s = 0; s < segments.length; s += 2) {
        // odd segments are the extra specials themselves: never merged
        const segment = lowercase ? segments[s]!.toLowerCase() : segments[s]!;
        for (const piece of pretokenize(segment)) pieceCounts.set(piece, (pieceCounts.get(piece) ?? 0) + 1);
      }
    }
    const vocab = [...SPECIAL_TOKENS, ...extras, ...BYTE_TO_UNICODE];
    const merges = learnMerges(pieceCounts, SPECIAL_TOKENS.length + extras.length, vocab, vocabSize - base, minFrequency);
    return new BPETokenizer(vocab, merges, extras, lowercase);
  }

  /** Reads the output of `toJSON()` (an object, or its JSON text); malformed input is a `DataError`. */
  static fromJSON(json: unknown): BPETokenizer {
    const what = 'bpe tokenizer JSON';
    const rec = readHeader(json, 'bpe', 1);
    const vocab = readVocab(rec, 'bpe');
    const extras = resolveExtraSpecials(rec.specials ?? [], what, (m) => new DataError(m));
    if (extras.length !== ((rec.specials as unknown[] | undefined)?.length ?? 0)) {
      throw new DataError(`${what}: expected "specials" to list only extra specials, not ${SPECIAL_TOKENS.join(' ')} (they are always vocab[0..3])`);
    }
    const byteBase = SPECIAL_TOKENS.length + extras.length;
    const mergeBase = byteBase + BYTE_TOKENS;
    extras.forEach((s, i) => {
      if (vocab[SPECIAL_TOKENS.length + i] !== s) {
        throw new DataError(`${what}: expected vocab[${SPECIAL_TOKENS.length + i}] to be the extra special ${show(s)}, got ${show(vocab[SPECIAL_TOKENS.length + i])}`);
      }
    });
    if (vocab.length < mergeBase || vocab.length > MAX_BPE_VOCAB) {
      throw new DataError(
        `${what}: expected between ${mergeBase} and ${MAX_BPE_VOCAB} vocab entries (specials, then the ${BYTE_TOKENS} byte symbols, then merged tokens), got ${vocab.length}`,
      );
    }
    for (let b = 0; b < BYTE_TOKENS; b++) {
      if (vocab[byteBase + b] !== BYTE_TO_UNICODE[b]) {
        throw new DataError(
          `${what}: expected vocab[${byteBase + b}] to be ${show(BYTE_TO_UNICODE[b])}, the symbol of byte ${b} in GPT-2's byte-to-unicode map, got ${show(vocab[byteBase + b])}`,
        );
      }
    }
    const raw = rec.merges;
    if (!Array.isArray(raw)) throw new DataError(`${what}: expected "merges" to be an array of [left, right] token pairs, got ${show(raw)}`);
    if (raw.length !== vocab.length - mergeBase) {
      throw new DataError(
        `${what}: expected ${vocab.length - mergeBase} merges (one per vocab entry after the byte symbols, vocab[${mergeBase}..]), got ${raw.length}`,
      );
    }
    const ids = new Map(vocab.map((t, i) => [t, i]));
    const merges = raw.map((m: unknown, r): [number, number] => {
      const id = mergeBase + r;
      if (!Array.isArray(m) || m.length !== 2 || typeof m[0] !== 'string' || typeof m[1] !== 'string') {
        throw new DataError(`${what}: expected merges[${r}] to be a pair of tokens like ["Ġ", "t"], got ${show(m)}`);
      }
      const [left, right] = m as [string, string];
      const a = ids.get(left);
      const b = ids.get(right);
      for (const [tok, tid] of [[left, a], [right, b]] as const) {
        if (tid === undefined || tid < byteBase || tid >= id) {
          throw new DataError(
            `${what}: merges[${r}] uses ${show(tok)}, which ${tid === undefined ? 'is not in the vocab' : `has id ${tid}`}; ` +
              `expected a byte symbol or an earlier merged token (id in [${byteBase}, ${id - 1}])`,
          );
        }
      }
      if (vocab[id] !== left + right) {
        throw new DataError(`${what}: expected vocab[${id}] to be ${show(left + right)}, the token of merges[${r}], got ${show(vocab[id])}`);
      }
      return [a!, b!];
    });
    return new BPETokenizer(vocab, merges, extras, readBool(rec, 'lowercase', 'bpe', false));
  }

  /** Number of ids, specials included. */
  get vocabSize(): number {
    return this.tokens.length;
  }

  /** Every token, indexed by id: specials as written, the others in GPT-2's byte-to-unicode symbols (`Ġthe` is " the"). */
  get vocab(): readonly string[] {
    return this.tokens;
  }

  /** The merges in rank order, as `[left, right]` tokens: merge `r` makes token id `vocabSize - merges.length + r`. */
  get merges(): readonly (readonly [string, string])[] {
    return this.mergePairs.map(([a, b]) => [this.tokens[a]!, this.tokens[b]!] as const);
  }

  /** The id of a token (in byte-to-unicode symbols, e.g. `'Ġthe'`) or special, or `undefined`. */
  idOf(token: string): number | undefined {
    return this.ids.get(token);
  }

  /** The token of an id. Throws a `DataError` for an id out of range. */
  tokenOf(id: number): string {
    checkId(id, this.vocabSize, 'BPETokenizer.tokenOf');
    return this.tokens[id]!;
  }

  has(token: string): boolean {
    return this.ids.has(token);
  }

  /** The tokens `encode` produces (byte-to-unicode symbols; extra specials as written). */
  tokenize(text: string): string[] {
    return this.encode(text).map((id) => this.tokens[id]!);
  }

  /** The ids of `text`, optionally framed by `[BOS]` / `[EOS]`. Never `[UNK]`: every byte has a token (so `strict` changes nothing). */
  encode(text: string, options: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') throw new DataError(`BPETokenizer.encode: expected a string, got ${show(text)}`);
    const ids: number[] = options.addBos ? [SPECIALS.bos] : [];
    const segments = this.specialsRe ? text.split(this.specialsRe) : [text];
    for (let s = 0; s < segments.length; s++) {
      if (s % 2 === 1) {
        ids.push(this.ids.get(segments[s]!)!);
        continue;
      }
      const segment = this.lowercase ? segments[s]!.toLowerCase() : segments[s]!;
      for (const piece of pretokenize(segment)) {
        for (const id of this.encodePiece(piece)) ids.push(id);
      }
    }
    if (options.addEos) ids.push(SPECIALS.eos);
    return ids;
  }

  /**
   * The ids of one piece: its bytes, then merges by rank, lowest first, each over the whole piece
   * left to right (as GPT-2's `bpe()`). A min-heap of (rank, position) over a linked list keeps long
   * pieces (a paragraph of CJK, a run of spaces) at O(n log n). Results are cached per piece.
   */
  private encodePiece(piece: string): readonly number[] {
    const hit = this.cache.get(piece);
    if (hit !== undefined) return hit;
    const bytes = encoder.encode(piece);
    const n = bytes.length;
    const sym = new Int32Array(n);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      sym[i] = this.byteBase + bytes[i]!;
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const heap: number[] = [];
    const ranks = this.ranks;
    const queue = (i: number) => {
      const j = next[i]!;
      if (j < 0) return;
      const r = ranks.get(sym[i]! * PAIR + sym[j]!);
      if (r !== undefined) heapPush(heap, r * POS + i);
    };
    for (let i = 0; i + 1 < n; i++) queue(i);
    while (heap.length > 0) {
      const top = heapPop(heap);
      const r = Math.floor(top / POS);
      const i = top - r * POS;
      const j = next[i]!;
      // Skip entries made stale by an earlier merge: i absorbed, no right neighbour, or a different pair there now.
      if (sym[i]! < 0 || j < 0 || ranks.get(sym[i]! * PAIR + sym[j]!) !== r) continue;
      sym[i] = this.mergeBase + r;
      sym[j] = -1;
      next[i] = next[j]!;
      if (next[j]! >= 0) prev[next[j]!] = i;
      if (prev[i]! >= 0) queue(prev[i]!);
      queue(i);
    }
    const ids: number[] = [];
    for (let i = n > 0 ? 0 : -1; i >= 0; i = next[i]!) ids.push(sym[i]!); // position 0 is never absorbed
    if (piece.length <= CACHE_MAX_PIECE) {
      if (this.cache.size >= CACHE_SIZE) this.cache.clear();
      this.cache.set(piece, ids);
    }
    return ids;
  }

  /**
   * The text of `ids`: their bytes, decoded as UTF-8. Specials (extra ones too) are left out unless `skipSpecials: false`,
   * then written as `[BOS]` etc. with no spaces. Ids that cut a character's bytes apart decode to U+FFFD.
   * Throws a `DataError` on an id out of range.
   */
  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const skipSpecials = options.skipSpecials ?? true;
    const size = this.vocabSize;
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!(id >= this.byteBase && id < size && Number.isInteger(id))) {
        checkId(id, size, 'BPETokenizer.decode');
        if (skipSpecials) continue;
      }
      const bytes = this.tokenBytes[id]!;
      parts.push(bytes);
      total += bytes.length;
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return decoder.decode(out);
  }

  /** The versioned JSON form, read back by `BPETokenizer.fromJSON` or `tokenizerFromJSON`. */
  toJSON(): BPETokenizerJSON {
    return {
      type: 'bpe',
      version: 1,
      vocab: [...this.tokens],
      merges: this.mergePairs.map(([a, b]): [string, string] => [this.tokens[a]!, this.tokens[b]!]),
      specials: [...this.extraSpecials],
      lowercase: this.lowercase,
    };
  }
}
