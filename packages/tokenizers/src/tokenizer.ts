// The interface every Attend tokenizer implements, and the versioned JSON it saves to.
// Tagged union on `type`, as in @huggingface/tokenizers: `tokenizerFromJSON` switches on it.
import type { Specials } from './specials.js';

/** The kinds of tokenizer this package can load. */
export type TokenizerType = 'char' | 'word' | 'bpe';

/** Options for `encode`. */
export interface EncodeOptions {
  /** Prepend `[BOS]` (default false). */
  addBos?: boolean;
  /** Append `[EOS]` (default false). */
  addEos?: boolean;
  /** Throw a `DataError` on a token not in the vocabulary instead of mapping it to `[UNK]` (default: the tokenizer's own `strict`). */
  strict?: boolean;
}

/** Options for `decode`. */
export interface DecodeOptions {
  /** Leave `[PAD]`, `[BOS]`, `[EOS]` and `[UNK]` out of the text (default true). */
  skipSpecials?: boolean;
}

/** Saved form of a character tokenizer. `vocab[id]` is the token of `id`; ids 0..3 are the specials. */
export interface CharTokenizerJSON {
  type: 'char';
  version: 1;
  vocab: string[];
  strict: boolean;
}

/** Saved form of a word tokenizer. `vocab[id]` is the token of `id`; ids 0..3 are the specials. */
export interface WordTokenizerJSON {
  type: 'word';
  version: 1;
  vocab: string[];
  lowercase: boolean;
  strict: boolean;
}

/**
 * Saved form of a byte-level BPE tokenizer. `vocab`: the specials at 0..3, the extra `specials`, the 256
 * byte symbols (GPT-2's byte-to-unicode map, in byte order), then one token per merge; `merges[r]` is the
 * `[left, right]` pair whose concatenation is the token after the byte symbols at offset `r`.
 */
export interface BPETokenizerJSON {
  type: 'bpe';
  version: 1;
  vocab: string[];
  merges: [string, string][];
  specials: string[];
  lowercase: boolean;
}

export type TokenizerJSON = CharTokenizerJSON | WordTokenizerJSON | BPETokenizerJSON;

/** What every tokenizer offers: text ⇄ ids, specials at fixed ids, and a JSON form. */
export interface Tokenizer {
  readonly type: TokenizerType;
  /** Number of ids, specials included. */
  readonly vocabSize: number;
  readonly specials: Specials;
  encode(text: string, options?: EncodeOptions): number[];
  decode(ids: ArrayLike<number>, options?: DecodeOptions): string;
  toJSON(): TokenizerJSON;
}
