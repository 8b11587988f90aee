// Loads any saved tokenizer: a factory switching on the JSON's `type`, in the manner of
// @huggingface/tokenizers' `PreTokenizer.fromConfig`.
import { DataError } from '@attend/core/base';
import { BPETokenizer } from './bpe.js';
import { CharTokenizer } from './char.js';
import { show } from './json.js';
import type { Tokenizer, TokenizerType } from './tokenizer.js';
import { WordTokenizer } from './word.js';

/** The `type` values `tokenizerFromJSON` knows. */
export const TOKENIZER_TYPES: readonly TokenizerType[] = ['char', 'word', 'bpe'];

/** Any tokenizer `tokenizerFromJSON` can return. */
export type AnyTokenizer = CharTokenizer | WordTokenizer | BPETokenizer;

/** `char, word or bpe`. */
const TYPE_LIST = `${TOKENIZER_TYPES.slice(0, -1).join(', ')} or ${TOKENIZER_TYPES[TOKENIZER_TYPES.length - 1]}`;

/** The tokenizer saved as `json` (an object, or its JSON text). Malformed input is a `DataError`. */
export function tokenizerFromJSON(json: unknown): AnyTokenizer {
  let obj = json;
  if (typeof json === 'string') {
    try {
      obj = JSON.parse(json);
    } catch (e) {
      throw new DataError(`Tokenizer JSON is not valid JSON (${(e as Error).message})`);
    }
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new DataError(`Tokenizer JSON: expected an object with a "type" of ${TYPE_LIST}, got ${show(obj)}`);
  }
  const type = (obj as { type?: unknown }).type;
  switch (type) {
    case 'char':
      return CharTokenizer.fromJSON(obj);
    case 'word':
      return WordTokenizer.fromJSON(obj);
    case 'bpe':
      return BPETokenizer.fromJSON(obj);
    default:
      throw new DataError(
        `Unknown tokenizer type: ${typeof type === 'string' ? type : show(type)}; expected one of ${TOKENIZER_TYPES.join(', ')}`,
      );
  }
}

/** Type guard for code that holds a `Tokenizer` and needs the character one. */
export function isCharTokenizer(tok: Tokenizer): tok is CharTokenizer {
  return tok instanceof CharTokenizer;
}
