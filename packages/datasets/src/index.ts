// @attend/datasets — the public API (browser-safe): train/validation splits and language-model
// batches over token-id arrays, translation pairs (parsing, normalisation, references, a split by
// source) and the synthetic date-conversion task. Reading files from disk is in `./node`.
export { splitIds, trainLength, type Split, type TokenIds } from './split.js';
export { checkCorpusLength, minCorpusLength } from './check.js';
export {
  LMBatcher,
  DEFAULT_LM_BATCHER_OPTIONS,
  sequentialBatches,
  sequentialBatchCount,
  type LMBatch,
  type LMBatcherOptions,
  type LMBatcherState,
  type SequentialBatchOptions,
} from './batcher.js';
export {
  DEFAULT_PARSE_PAIRS_OPTIONS,
  DEFAULT_SPLIT_PAIRS_OPTIONS,
  countTokens,
  groupReferences,
  isValidationSource,
  normalizeSentence,
  parsePairs,
  parsePairsBytes,
  sourceHash,
  splitPairs,
  type BadLine,
  type NormalizeOptions,
  type PairsResult,
  type ParsePairsOptions,
  type ReferenceGroup,
  type SentencePair,
  type SplitPairsOptions,
} from './pairs.js';
export {
  DATE_FORMATS,
  DATE_YEARS,
  formatDate,
  generateDatePairs,
  isoDate,
  type CalendarDate,
  type DateFormat,
  type DatePair,
} from './dates.js';
