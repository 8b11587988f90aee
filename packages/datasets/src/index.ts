// @attend/datasets — the public API (browser-safe): train/validation splits and language-model
// batches over token-id arrays. Reading corpora from disk is in `./node`.
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
