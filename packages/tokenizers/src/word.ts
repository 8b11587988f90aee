// Word-level tokenizer: words and punctuation marks as tokens, whitespace dropped. Words are runs
// of Unicode letters, digits and marks (`\p{L}\p{N}\p{M}`), keeping inner apostrophes ("don't");
// every other non-space character is a token of its own. The vocabulary keeps the most frequent
// words (ties: first appearance), after `[PAD] [BOS] [EOS] [UNK]` at ids 0..3, in the manner of
// Keras' `TextVectorization` (whose `max_tokens` also counts the special tokens).
import { ConfigError, DataError, assertInt } from '@attend/core/base';
import { readBool, readHeader, readVocab, show } from './json.js';
import { SPECIALS, SPECIAL_TOKENS, checkId, checkOptionKeys, type Specials } from './specials.js';
import type { DecodeOptions, EncodeOptions, Tokenizer, WordTokenizerJSON } from './tokenizer.js';

/** Options for building a `WordTokenizer`. */
export interface WordTokenizerOptions {
  /** Lower-case text before splitting, when building and when encoding (default true). */
  lowercase?: boolean;
  /** Keep only words seen at least this often (default 1). */
  minFrequency?: number;
  /** At most this many ids, the four specials included (default unlimited). Most frequent words win; ties go to the first seen. */
  maxVocab?: number;
  /** Throw a `DataError` on unknown words instead of mapping them to `[UNK]` (default false). */
  strict?: boolean;
}

export const DEFAULT_WORD_TOKENIZER_OPTIONS: Readonly<Required<WordTokenizerOptions>> = Object.freeze({
  lowercase: true,
  minFrequency: 1,
  maxVocab: Infinity,
  strict: false,
});

/** A word (letters/digits/marks, inner apostrophes kept) or any single other non-space character. */
const TOKEN_RE = /[\p{L}\p{N}\p{M}]+(?:['’][\p{L}\p{N}\p{M}]+)*|[^\s\p{L}\p{N}\p{M}]/gu;
/** `decode` writes these right after the previous token, without a space. */
const NO_SPACE_BEFORE = new Set(['.', ',', '!', '?', ';', ':', ')', ']', '}', '%', '…']);
/** `decode` writes the next token right after these, without a space. */
const NO_SPACE_AFTER = new Set(['(', '[', '{']);

function resolveOptions(options: WordTokenizerOptions): Required<WordTokenizerOptions> {
  checkOptionKeys('WordTokenizer', options, Object.keys(DEFAULT_WORD_TOKENIZER_OPTIONS));
  const o = { ...DEFAULT_WORD_TOKENIZER_OPTIONS };
  for (const [k, v] of Object.entries(options)) if (v !== undefined) (o as Record<string, unknown>)[k] = v;
  for (const key of ['lowercase', 'strict'] as const) {
    if (typeof o[key] !== 'boolean') throw new ConfigError(`WordTokenizer: expected ${key} to be true or false, got ${show(o[key])}`);
  }
  assertInt('WordTokenizer minFrequency', o.minFrequency, 1);
  if (o.maxVocab !== Infinity) assertInt('WordTokenizer maxVocab', o.maxVocab, SPECIAL_TOKENS.length + 1);
  return o;
}

/** Splits text into word and punctuation tokens (no lower-casing). */
export function splitWords(text: string): string[] {
  return text.match(TOKEN_RE) ?? [];
}

/** Counts the words of a corpus fed in chunks; `build()` makes the tokenizer. */
export class WordTokenizerBuilder {
  private readonly counts = new Map<string, number>();
  /** Text after the last whitespace of the previous chunk: possibly the start of a word. */
  private carry = '';
  private readonly options: Required<WordTokenizerOptions>;

  constructor(options: WordTokenizerOptions = {}) {
    this.options = resolveOptions(options);
  }

  /** Adds the words of `chunk`. A word split across two chunks is joined again. */
  add(chunk: string): this {
    const text = this.carry + chunk;
    let cut = text.length;
    while (cut > 0 && !/\s/.test(text[cut - 1]!)) cut--;
    this.carry = text.slice(cut);
    this.count(text.slice(0, cut));
    return this;
  }

  private count(text: string): void {
    const src = this.options.lowercase ? text.toLowerCase() : text;
    for (const w of splitWords(src)) this.counts.set(w, (this.counts.get(w) ?? 0) + 1);
  }

  /** The tokenizer: specials, then the kept words, most frequent first (ties: first seen). */
  build(): WordTokenizer {
    this.count(this.carry);
    this.carry = '';
    const { minFrequency, maxVocab, lowercase, strict } = this.options;
    // A Map iterates in insertion order and Array.prototype.sort is stable: ties keep first appearance.
    const words = [...this.counts].filter(([, c]) => c >= minFrequency).sort((a, b) => b[1] - a[1]);
    const kept = words.slice(0, Math.max(0, maxVocab - SPECIAL_TOKENS.length)).map(([w]) => w);
    return WordTokenizer.fromJSON({ type: 'word', version: 1, vocab: [...SPECIAL_TOKENS, ...kept], lowercase, strict });
  }
}

/** A word-level tokenizer with `[PAD] [BOS] [EOS] [UNK]` at ids 0..3. */
export class WordTokenizer implements Tokenizer {
  readonly type = 'word' as const;
  readonly specials: Specials = SPECIALS;
  readonly lowercase: boolean;
  readonly strict: boolean;
  private readonly tokens: readonly string[];
  private readonly ids: Map<string, number>;

  private constructor(vocab: readonly string[], lowercase: boolean, strict: boolean) {
    this.tokens = Object.freeze([...vocab]);
    this.ids = new Map(vocab.map((t, i) => [t, i]));
    this.lowercase = lowercase;
    this.strict = strict;
  }

  /** The tokenizer of the words in `text` (a string, or chunks of one). */
  static fromText(text: string | Iterable<string>, options: WordTokenizerOptions = {}): WordTokenizer {
    const builder = new WordTokenizerBuilder(options);
    if (typeof text === 'string') builder.add(text);
    else for (const chunk of text) builder.add(chunk);
    return builder.build();
  }

  /** An incremental builder: `.add(chunk)` as many times as needed, then `.build()`. */
  static builder(options: WordTokenizerOptions = {}): WordTokenizerBuilder {
    return new WordTokenizerBuilder(options);
  }

  /** Reads the output of `toJSON()` (an object, or its JSON text); malformed input is a `DataError`. */
  static fromJSON(json: unknown): WordTokenizer {
    const rec = readHeader(json, 'word', 1);
    const vocab = readVocab(rec, 'word');
    for (let i = SPECIAL_TOKENS.length; i < vocab.length; i++) {
      const parts = splitWords(vocab[i]!);
      if (parts.length !== 1 || parts[0] !== vocab[i]) {
        throw new DataError(`word tokenizer JSON: expected vocab[${i}] to be one word or punctuation mark, got ${show(vocab[i])}`);
      }
    }
    return new WordTokenizer(vocab, readBool(rec, 'lowercase', 'word', true), readBool(rec, 'strict', 'word', false));
  }

  get vocabSize(): number {
    return this.tokens.length;
  }

  /** Every token, indexed by id. */
  get vocab(): readonly string[] {
    return this.tokens;
  }

  /** The id of a word or special token, or `undefined` (no lower-casing is applied here). */
  idOf(token: string): number | undefined {
    return this.ids.get(token);
  }

  /** The token of an id. Throws a `DataError` for an id out of range. */
  tokenOf(id: number): string {
    checkId(id, this.vocabSize, 'WordTokenizer.tokenOf');
    return this.tokens[id]!;
  }

  has(token: string): boolean {
    return this.ids.has(token);
  }

  /** The tokens `encode` looks up: lower-cased (if the tokenizer lower-cases) words and punctuation. */
  tokenize(text: string): string[] {
    return splitWords(this.lowercase ? text.toLowerCase() : text);
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    const strict = options.strict ?? this.strict;
    const ids: number[] = options.addBos ? [SPECIALS.bos] : [];
    this.tokenize(text).forEach((w, i) => {
      const id = this.ids.get(w);
      if (id !== undefined && id >= SPECIAL_TOKENS.length) ids.push(id);
      else if (strict) {
        throw new DataError(
          `Unknown word ${show(w)} at token ${i}: not in this tokenizer's vocabulary of ${this.vocabSize} entries; ` +
            `rebuild it with a lower minFrequency or larger maxVocab, or encode without { strict: true } to map it to [UNK]`,
        );
      } else ids.push(SPECIALS.unk);
    });
    if (options.addEos) ids.push(SPECIALS.eos);
    return ids;
  }

  /** Joins tokens with spaces, except before `. , ! ? ; : ) ] }` and after `( [ {`. */
  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const skipSpecials = options.skipSpecials ?? true;
    let out = '';
    let prev: string | undefined;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      checkId(id, this.vocabSize, 'WordTokenizer.decode');
      if (skipSpecials && id < SPECIAL_TOKENS.length) continue;
      const tok = this.tokens[id]!;
      if (prev !== undefined && !NO_SPACE_BEFORE.has(tok) && !NO_SPACE_AFTER.has(prev)) out += ' ';
      out += tok;
      prev = tok;
    }
    return out;
  }

  toJSON(): WordTokenizerJSON {
    return { type: 'word', version: 1, vocab: [...this.tokens], lowercase: this.lowercase, strict: this.strict };
  }
}
