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
export { glorotUniform, type SetWeightsOptions } from '@attend/core';
