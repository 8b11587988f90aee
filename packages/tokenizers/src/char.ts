// Character-level tokenizer (as in karpathy's char-rnn and nanoGPT's shakespeare_char `prepare.py`):
// one id per Unicode code point (not per UTF-16 unit, so Cyrillic, CJK and emoji round-trip), after
// the four specials. Characters are numbered in code-point order, so the same text always gives the
// same vocabulary. `CharTokenizer.builder()` scans a corpus chunk by chunk, for corpora too large to
// hold as one string; `encodeInto` writes ids straight into a typed array, for streaming.
import { ConfigError, DataError } from '@attend/core/base';
import { readBool, readHeader, readVocab, show } from './json.js';
import {
  SPECIALS,
  SPECIAL_TOKENS,
  checkId,
  checkOptionKeys,
  describeChar,
  type Specials,
} from './specials.js';
import type { CharTokenizerJSON, DecodeOptions, EncodeOptions, Tokenizer } from './tokenizer.js';

/** Options for building a `CharTokenizer`. */
export interface CharTokenizerOptions {
  /** Throw a `DataError` on unknown characters instead of mapping them to `[UNK]` (default false). */
  strict?: boolean;
}

export const DEFAULT_CHAR_TOKENIZER_OPTIONS: Readonly<Required<CharTokenizerOptions>> = Object.freeze({ strict: false });

const MAX_CODE_POINT = 0x10ffff;
const isHigh = (c: number) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c: number) => c >= 0xdc00 && c <= 0xdfff;

function resolveOptions(options: CharTokenizerOptions): Required<CharTokenizerOptions> {
  checkOptionKeys('CharTokenizer', options, Object.keys(DEFAULT_CHAR_TOKENIZER_OPTIONS));
  const strict = options.strict ?? DEFAULT_CHAR_TOKENIZER_OPTIONS.strict;
  if (typeof strict !== 'boolean') throw new ConfigError(`CharTokenizer: expected strict to be true or false, got ${show(strict)}`);
  return { strict };
}

/** Collects the characters of a corpus fed in chunks of any size; `build()` makes the tokenizer. */
export class CharTokenizerBuilder {
  private readonly seen = new Uint8Array(MAX_CODE_POINT + 1);
  /** A high surrogate that ended the last chunk: its low half may start the next one. */
  private pending = '';
  private readonly options: Required<CharTokenizerOptions>;

  constructor(options: CharTokenizerOptions = {}) {
    this.options = resolveOptions(options);
  }

  /** Adds the characters of `chunk`. A surrogate pair split across two chunks is joined again. */
  add(chunk: string): this {
    const text = this.pending ? this.pending + chunk : chunk;
    this.pending = '';
    let end = text.length;
    if (end > 0 && isHigh(text.charCodeAt(end - 1))) {
      this.pending = text[end - 1]!;
      end--;
    }
    const seen = this.seen;
    for (let i = 0; i < end; i++) {
      const c = text.charCodeAt(i);
      if (isHigh(c) && i + 1 < end) {
        const d = text.charCodeAt(i + 1);
        if (isLow(d)) {
          seen[((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000] = 1;
          i++;
          continue;
        }
      }
      seen[c] = 1;
    }
    return this;
  }

  /** The tokenizer: specials, then every character seen, in code-point order. */
  build(): CharTokenizer {
    if (this.pending) {
      this.seen[this.pending.charCodeAt(0)] = 1; // a lone high surrogate at the very end
      this.pending = '';
    }
    const chars: string[] = [];
    for (let cp = 0; cp <= MAX_CODE_POINT; cp++) if (this.seen[cp]) chars.push(String.fromCodePoint(cp));
    return CharTokenizer.fromChars(chars, this.options);
  }
}

/** A character-level tokenizer over Unicode code points, with `[PAD] [BOS] [EOS] [UNK]` at ids 0..3. */
export class CharTokenizer implements Tokenizer {
  readonly type = 'char' as const;
  readonly specials: Specials = SPECIALS;
  /** Whether unknown characters throw (`true`) or become `[UNK]` (`false`). */
  readonly strict: boolean;
  private readonly tokens: readonly string[];
  /** BMP code unit → id, or -1. */
  private readonly bmp = new Int32Array(0x10000).fill(-1);
  /** Astral code point → id. */
  private readonly astral = new Map<number, number>();
  private readonly specialIds = new Map<string, number>(SPECIAL_TOKENS.map((t, i) => [t, i]));

  private constructor(vocab: readonly string[], strict: boolean) {
    this.tokens = Object.freeze([...vocab]);
    this.strict = strict;
    for (let id = SPECIAL_TOKENS.length; id < vocab.length; id++) {
      const cp = vocab[id]!.codePointAt(0)!;
      if (cp < 0x10000) this.bmp[cp] = id;
      else this.astral.set(cp, id);
    }
  }

  /** A tokenizer over the given characters (single code points; duplicates ignored), numbered in code-point order. */
  static fromChars(chars: Iterable<string>, options: CharTokenizerOptions = {}): CharTokenizer {
    const { strict } = resolveOptions(options);
    const cps = new Set<number>();
    for (const ch of chars) {
      if (typeof ch !== 'string' || [...ch].length !== 1) {
        throw new ConfigError(`CharTokenizer.fromChars: expected single characters (one code point each), got ${show(ch)}`);
      }
      cps.add(ch.codePointAt(0)!);
    }
    const sorted = [...cps].sort((a, b) => a - b).map((cp) => String.fromCodePoint(cp));
    return new CharTokenizer([...SPECIAL_TOKENS, ...sorted], strict);
  }

  /** The tokenizer of every character in `text` (a string, or chunks of one, e.g. lines or file reads). */
  static fromText(text: string | Iterable<string>, options: CharTokenizerOptions = {}): CharTokenizer {
    const builder = new CharTokenizerBuilder(options);
    if (typeof text === 'string') builder.add(text);
    else for (const chunk of text) builder.add(chunk);
    return builder.build();
  }

  /** An incremental builder: `.add(chunk)` as many times as needed, then `.build()`. */
  static builder(options: CharTokenizerOptions = {}): CharTokenizerBuilder {
    return new CharTokenizerBuilder(options);
  }

  /** Reads the output of `toJSON()` (an object, or its JSON text); malformed input is a `DataError`. */
  static fromJSON(json: unknown): CharTokenizer {
    const rec = readHeader(json, 'char', 1);
    const vocab = readVocab(rec, 'char');
    for (let i = SPECIAL_TOKENS.length; i < vocab.length; i++) {
      if ([...vocab[i]!].length !== 1) {
        throw new DataError(`char tokenizer JSON: expected vocab[${i}] to be a single character (one code point), got ${show(vocab[i])}`);
      }
    }
    return new CharTokenizer(vocab, readBool(rec, 'strict', 'char', false));
  }

  /** Number of ids, specials included. */
  get vocabSize(): number {
    return this.tokens.length;
  }

  /** Every token, indexed by id. */
  get vocab(): readonly string[] {
    return this.tokens;
  }

  /** The id of a character or special token (`'[PAD]'`…), or `undefined` if it has none. */
  idOf(token: string): number | undefined {
    const special = this.specialIds.get(token);
    if (special !== undefined) return special;
    const cp = token.codePointAt(0);
    if (cp === undefined || token.length !== (cp > 0xffff ? 2 : 1)) return undefined;
    const id = cp < 0x10000 ? this.bmp[cp]! : (this.astral.get(cp) ?? -1);
    return id < 0 ? undefined : id;
  }

  /** The token of an id: a character, or a special such as `'[EOS]'`. Throws a `DataError` for an id out of range. */
  tokenOf(id: number): string {
    checkId(id, this.vocabSize, 'CharTokenizer.tokenOf');
    return this.tokens[id]!;
  }

  /** Whether the vocabulary has this character (or special token). */
  has(token: string): boolean {
    return this.idOf(token) !== undefined;
  }

  /** The ids of `text`, one per code point, optionally framed by `[BOS]` / `[EOS]`. */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const buf = new Uint32Array(text.length);
    const n = this.encodeInto(text, buf, 0, options);
    const ids: number[] = options.addBos ? [SPECIALS.bos] : [];
    for (let i = 0; i < n; i++) ids.push(buf[i]!);
    if (options.addEos) ids.push(SPECIALS.eos);
    return ids;
  }

  /**
   * Writes the ids of `text` into `out` from `offset`, returns how many it wrote (≤ `text.length`).
   * For streaming: chunks must not split a surrogate pair (a streaming `TextDecoder` never does).
   */
  encodeInto(text: string, out: Uint16Array | Uint32Array, offset = 0, options: Pick<EncodeOptions, 'strict'> = {}): number {
    const strict = options.strict ?? this.strict;
    if (out.BYTES_PER_ELEMENT === 2 && this.vocabSize > 0x10000) {
      throw new ConfigError(
        `CharTokenizer.encodeInto: a Uint16Array holds ids < 65536 but the vocabulary has ${this.vocabSize} entries; use a Uint32Array`,
      );
    }
    if (!Number.isInteger(offset) || offset < 0 || offset > out.length) {
      throw new ConfigError(`CharTokenizer.encodeInto: expected offset to be an integer in [0, ${out.length}], got ${show(offset)}`);
    }
    const { bmp, astral } = this;
    const n = text.length;
    const cap = out.length;
    let j = offset;
    for (let i = 0; i < n; i++) {
      let c = text.charCodeAt(i);
      let id: number;
      if (isHigh(c) && i + 1 < n && isLow(text.charCodeAt(i + 1))) {
        c = ((c - 0xd800) << 10) + (text.charCodeAt(i + 1) - 0xdc00) + 0x10000;
        i++;
        id = astral.get(c) ?? -1;
      } else {
        id = bmp[c]!;
      }
      if (id < 0) {
        if (strict) {
          throw new DataError(
            `Unknown character ${describeChar(String.fromCodePoint(c))} at position ${j - offset}: not in this tokenizer's ` +
              `vocabulary of ${this.vocabSize} entries; rebuild the tokenizer on text that contains it, ` +
              `or encode without { strict: true } to map it to [UNK]`,
          );
        }
        id = SPECIALS.unk;
      }
      if (j >= cap) {
        throw new ConfigError(
          `CharTokenizer.encodeInto: out (length ${cap}) is full at offset ${j}; size it to at least offset + text.length = ${offset + n}`,
        );
      }
      out[j++] = id;
    }
    return j - offset;
  }

  /** The text of `ids`; specials are left out unless `skipSpecials: false`. Throws a `DataError` on an id out of range. */
  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const skipSpecials = options.skipSpecials ?? true;
    const size = this.vocabSize;
    const parts: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!(id >= SPECIAL_TOKENS.length && id < size && Number.isInteger(id))) {
        checkId(id, size, 'CharTokenizer.decode');
        if (skipSpecials) continue;
      }
      parts.push(this.tokens[id]!);
    }
    return parts.join('');
  }

  /** The versioned JSON form, read back by `CharTokenizer.fromJSON` or `tokenizerFromJSON`. */
  toJSON(): CharTokenizerJSON {
    return { type: 'char', version: 1, vocab: [...this.tokens], strict: this.strict };
  }
}
