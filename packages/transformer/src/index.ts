// @attend/transformer — the course's last section, "Attention is all you need" (Vaswani et al.
// 2017): multi-head attention over @attend/attention's scaled dot-product, positional encodings,
// encoder and decoder layers (post-LN or pre-LN), and the models built from them: a decoder-only
// character GPT with a key/value cache, and the encoder–decoder Transformer for translation, decoded
// by @attend/attention's greedy and beam search. Importing @attend/core registers tfjs's gradients.
export { Dense, DEFAULT_DENSE, type DenseConfig } from './dense.js';
export { LayerNorm, DEFAULT_LAYER_NORM, type LayerNormConfig } from './layer-norm.js';
export {
  PositionalEncoding,
  DEFAULT_POSITIONAL_ENCODING,
  POSITIONAL_KINDS,
  sinusoidalTable,
  type PositionalEncodingConfig,
  type PositionalKind,
} from './positional.js';
export { LAYER_NORM, LAYER_NORM_GRAD, layerNormKernelAvailable, registerLayerNormKernels, setLayerNormKernel } from './layer-norm-kernel.js';
export { BIAS_GELU, BIAS_GELU_GRAD, biasGelu, biasGeluAvailable, GELU, GELU_GRAD, geluKernelAvailable, registerGeluKernels, setGeluKernel } from './gelu-kernel.js';
export { FeedForward, DEFAULT_FEED_FORWARD, FEED_FORWARD_ACTIVATIONS, gelu, type FeedForwardActivation, type FeedForwardConfig } from './feed-forward.js';
export {
  MultiHeadAttention,
  DEFAULT_MULTI_HEAD_ATTENTION,
  type KVCache,
  type MultiHeadAttentionConfig,
  type MultiHeadAttentionOptions,
  type MultiHeadAttentionResult,
} from './multi-head-attention.js';
export { DEFAULT_TRANSFORMER_LAYER, NORM_PLACEMENTS, type NormPlacement, type TransformerLayerConfig } from './layer-config.js';
export {
  TransformerEncoderLayer,
  TransformerEncoder,
  DEFAULT_TRANSFORMER_ENCODER,
  type EncoderLayerOptions,
  type EncoderLayerResult,
  type EncoderResult,
  type TransformerEncoderConfig,
} from './encoder.js';
export {
  TransformerDecoderLayer,
  TransformerDecoder,
  DEFAULT_TRANSFORMER_DECODER,
  DEFAULT_TRANSFORMER_DECODER_LAYER,
  type DecoderCache,
  type DecoderLayerOptions,
  type DecoderLayerResult,
  type DecoderOptions,
  type DecoderResult,
  type TransformerDecoderConfig,
  type TransformerDecoderLayerConfig,
} from './decoder.js';
export { crossEntropy, type CrossEntropyOptions } from './loss.js';
export { GPT, DEFAULT_GPT, type GPTConfig, type GPTForwardOptions, type GPTSampleOptions } from './gpt.js';
export {
  Transformer,
  DEFAULT_TRANSFORMER,
  type TransformerAttention,
  type TransformerConfig,
  type TransformerLossOptions,
  type TransformerMasks,
  type TransformerMemory,
  type TransformerState,
} from './transformer.js';
