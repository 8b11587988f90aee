// @attend/attention — the course's attention section: the decoder chooses where in the encoder to
// look. Score functions (dot and general, Luong et al. 2015; additive, Bahdanau et al. 2015; scaled
// dot-product, Vaswani et al. 2017, batched over heads), one `attend` call returning the context and
// the weights, padding and causal masks. Importing @attend/core (which every file here does)
// registers tfjs's gradients.
export {
  ATTENTION_TYPES,
  BaseAttention,
  DEFAULT_ATTEND_OPTIONS,
  type AttendDims,
  type AttendOptions,
  type Attention,
  type AttentionResult,
  type AttentionType,
} from './attend.js';
export { DotAttention, DEFAULT_DOT_ATTENTION, type DotAttentionConfig } from './dot.js';
export { GeneralAttention, DEFAULT_GENERAL_ATTENTION, type GeneralAttentionConfig } from './general.js';
export { AdditiveAttention, DEFAULT_ADDITIVE_ATTENTION, type AdditiveAttentionConfig } from './additive.js';
export {
  ScaledDotAttention,
  DEFAULT_SCALED_DOT_ATTENTION,
  scaledDotProductAttention,
  type ScaledDotAttentionConfig,
} from './scaled-dot.js';
export { createAttention, type AttentionConfig, type AttentionFor } from './factory.js';
export { MASK_VALUE, causalMask, keepMask, maskedSoftmax, type MaskDims } from './mask.js';
export { Seq2Seq, type Seq2SeqLossOptions } from './seq2seq/model.js';
export {
  DEFAULT_SEQ2SEQ,
  SEQ2SEQ_ATTENTIONS,
  SEQ2SEQ_CELLS,
  SEQ2SEQ_SPECIALS,
  resolveSeq2SeqConfig,
  type Seq2SeqAttention,
  type Seq2SeqCell,
  type Seq2SeqConfig,
} from './seq2seq/config.js';
export { Seq2SeqEncoder } from './seq2seq/encoder.js';
export { Bridge } from './seq2seq/bridge.js';
export { Seq2SeqDecoder, type DecoderState, type DecoderStepResult, type EncoderMemory } from './seq2seq/decoder.js';
export {
  DEFAULT_GREEDY_OPTIONS,
  disposeTensors,
  gatherBatch,
  greedyDecode,
  type Encoded,
  type GreedyOptions,
  type Seq2SeqHypothesis,
  type StepModel,
  type StepResult,
} from './seq2seq/greedy.js';
export {
  DEFAULT_BEAM_SEARCH_OPTIONS,
  beamSearch,
  lengthPenalty,
  type BeamSearchOptions,
  type BeamSearchResult,
  type ScoredHypothesis,
} from './seq2seq/beam.js';
export { checkIds, resolveSourceMask, type ResolvedMask, type SourceMask } from './seq2seq/inputs.js';
export { glorotUniform, type SetWeightsOptions } from '@attend/core';
export {
  FUSED_ATTENTION,
  FUSED_ATTENTION_AUTO_BACKENDS,
  FUSED_ATTENTION_BACKENDS,
  FUSED_ATTENTION_GRAD,
  FUSED_ATTENTION_MODES,
  fusedAttention,
  fusedAttentionAvailable,
  fusedAttentionKernel,
  FUSED_SELF_ATTENTION,
  FUSED_SELF_ATTENTION_GRAD,
  fusedSelfAttention,
  fusedSelfAttentionAvailable,
  packedHeads,
  registerFusedAttention,
  SPLIT_HEADS,
  setFusedAttentionMode,
  type FusedAttentionAttrs,
  type FusedAttentionMode,
  type FusedAttentionOptions,
  type FusedSelfAttentionOptions,
} from './fused-attention.js';
