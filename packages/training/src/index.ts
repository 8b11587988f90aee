// @attend/training — the public API (browser-safe): the training loop, learning-rate schedules, global-norm
// clipping, the optimizer wrapper, metrics and progress formatting. Checkpoint files and Ctrl-C handling
// are Node-only, in `@attend/training/node`.
export { clipByGlobalNorm, globalNorm, globalNormTensor, type GradMap } from './clip.js';
export {
  constant,
  warmupCosine,
  noamSchedule,
  createSchedule,
  SCHEDULE_TYPES,
  DEFAULT_WARMUP_COSINE,
  DEFAULT_NOAM,
  type Schedule,
  type ScheduleConfig,
  type ConstantScheduleConfig,
  type WarmupCosineArgs,
  type WarmupCosineScheduleConfig,
  type NoamArgs,
  type NoamScheduleConfig,
} from './schedule.js';
export { bitsPerChar, perplexity, RunningMean, Ema, type EmaState } from './metrics.js';
export {
  TrainingOptimizer,
  DEFAULT_OPTIMIZER_CONFIG,
  OPTIMIZER_TYPES,
  type OptimizerConfig,
  type OptimizerState,
  type OptimizerType,
} from './optimizer.js';
export { exportVariables, importVariables, type StoredTensor } from './weights.js';
export { ADAM_UPDATE, FusedAdamOptimizer, fusedAdam, registerAdamKernels } from './fused-adam.js';
export { TrainingDivergedError, type LastCheckpoint } from './errors.js';
export {
  train,
  DEFAULT_SAMPLE_AT,
  DEFAULT_CLIP_NORM,
  DEFAULT_EVAL_EVERY,
  type TrainableModel,
  type TrainOptions,
  type TrainResult,
  type TrainState,
  type StepInfo,
  type StopReason,
  type CheckpointHook,
  type HistoryPoint,
  type MetricsState,
} from './train.js';
export {
  createProgressReporter,
  ProgressReporter,
  formatProgressLine,
  formatDuration,
  formatCount,
  formatBar,
  estimateEta,
  type ProgressLine,
  type ProgressOptions,
  type ProgressStream,
  type ProgressUpdate,
} from './progress.js';
export { corpusBleu, sentenceBleu, tokenize13a, BLEU_MAX_ORDER, BLEU_SMOOTHINGS, BLEU_TOKENIZERS, DEFAULT_BLEU_OPTIONS, DEFAULT_SENTENCE_BLEU_OPTIONS, type BleuOptions, type BleuScore, type BleuSmoothing, type BleuTokenizer } from './bleu.js';
