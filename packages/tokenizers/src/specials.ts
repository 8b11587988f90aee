// The four special tokens every Attend tokenizer shares, at fixed ids, plus the small helpers the
// tokenizers use to describe characters in error messages. Same layout as BERT-style vocabularies
// (`[PAD]`, `[BOS]`/`[CLS]`, `[EOS]`/`[SEP]`, `[UNK]`), always at ids 0..3.
import { ConfigError, DataError } from '@attend/core/base';

/** The special tokens, in id order: `[PAD]`=0, `[BOS]`=1, `[EOS]`=2, `[UNK]`=3. */
export const SPECIAL_TOKENS = ['[PAD]', '[BOS]', '[EOS]', '[UNK]'] as const;

/** The ids of the special tokens. */
export interface Specials {
  readonly pad: number;
  readonly bos: number;
  readonly eos: number;
  readonly unk: number;
}

/** The fixed special ids shared by every tokenizer. */
export const SPECIALS: Specials = Object.freeze({ pad: 0, bos: 1, eos: 2, unk: 3 });

/** `U+0041`, `U+1F44B`: the Unicode name of a code point. */
export function codePointLabel(cp: number): string {
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** `"a" (U+0061)`, or just the code for invisible characters: for error messages. */
export function describeChar(ch: string): string {
  const cp = ch.codePointAt(0) ?? 0;
  const visible = cp > 0x20 && !(cp >= 0x7f && cp <= 0x9f) && !(cp >= 0xd800 && cp <= 0xdfff);
  return visible ? `${JSON.stringify(ch)} (${codePointLabel(cp)})` : codePointLabel(cp);
}

/** Throws a `DataError` unless `id` is an integer id of a vocabulary of `vocabSize` entries. */
export function checkId(id: number, vocabSize: number, where: string): void {
  if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
    throw new DataError(
      `${where}: id ${String(id)} is not in the vocabulary; expected an integer in [0, ${vocabSize - 1}] ` +
        `(was it produced by another tokenizer?)`,
    );
  }
}

/** Throws a `ConfigError` unless `options` only has keys from `known`. */
export function checkOptionKeys(what: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new ConfigError(`${what}: unknown option "${key}"; known options are ${known.join(', ')}`);
    }
  }
}
