// Loads any saved tokenizer: a factory switching on the JSON's `type`, in the manner of
// @huggingface/tokenizers' `PreTokenizer.fromConfig`.
import { DataError } from '@attend/core/base';
import { CharTokenizer } from './char.js';
import { show } from './json.js';
import type { Tokenizer, TokenizerType } from './tokenizer.js';
import { WordTokenizer } from './word.js';

/** The `type` values `tokenizerFromJSON` knows. */
export const TOKENIZER_TYPES: readonly TokenizerType[] = ['char', 'word'];

/** The tokenizer saved as `json` (an object, or its JSON text). Malformed input is a `DataError`. */
export function tokenizerFromJSON(json: unknown): CharTokenizer | WordTokenizer {
  let obj = json;
  if (typeof json === 'string') {
    try {
      obj = JSON.parse(json);
    } catch (e) {
      throw new DataError(`Tokenizer JSON is not valid JSON (${(e as Error).message})`);
    }
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new DataError(`Tokenizer JSON: expected an object with a "type" of ${TOKENIZER_TYPES.join(' or ')}, got ${show(obj)}`);
  }
  const type = (obj as { type?: unknown }).type;
  switch (type) {
    case 'char':
      return CharTokenizer.fromJSON(obj);
    case 'word':
      return WordTokenizer.fromJSON(obj);
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
