// @attend/tokenizers — the public API: character, word and byte-level BPE tokenizers with
// [PAD] [BOS] [EOS] [UNK] at ids 0..3, versioned JSON save/load. Browser-safe; file I/O is in `./node`.
export { CharTokenizer, CharTokenizerBuilder, DEFAULT_CHAR_TOKENIZER_OPTIONS, type CharTokenizerOptions } from './char.js';
export {
  WordTokenizer,
  WordTokenizerBuilder,
  DEFAULT_WORD_TOKENIZER_OPTIONS,
  splitWords,
  type WordTokenizerOptions,
} from './word.js';
export {
  BPETokenizer,
  BYTE_TO_UNICODE,
  BYTE_TOKENS,
  DEFAULT_BPE_TRAIN_OPTIONS,
  MAX_BPE_VOCAB,
  pretokenize,
  type BPETrainOptions,
} from './bpe.js';
export { tokenizerFromJSON, isCharTokenizer, TOKENIZER_TYPES, type AnyTokenizer } from './factory.js';
export { SPECIALS, SPECIAL_TOKENS, type Specials } from './specials.js';
export type {
  BPETokenizerJSON,
  CharTokenizerJSON,
  DecodeOptions,
  EncodeOptions,
  Tokenizer,
  TokenizerJSON,
  TokenizerType,
  WordTokenizerJSON,
} from './tokenizer.js';
