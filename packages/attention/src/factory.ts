// The attention factory: a tagged union on `type` (the @huggingface/tokenizers habit), whose
// default branch rejects unknown types loudly.
//   dot        Luong et al. 2015           s·h                      (dot.ts)
//   general    Luong et al. 2015           sᵀ·W·h                   (general.ts)
//   additive   Bahdanau et al. 2015        vᵀ·tanh(W₁h + W₂s)       (additive.ts)
//   scaledDot  Vaswani et al. 2017         q·kᵀ/√d_k                (scaled-dot.ts)
import { ConfigError } from '@attend/core';
import { AdditiveAttention, type AdditiveAttentionConfig } from './additive.js';
import { ATTENTION_TYPES, type Attention } from './attend.js';
import { DotAttention } from './dot.js';
import { GeneralAttention, type GeneralAttentionConfig } from './general.js';
import { ScaledDotAttention } from './scaled-dot.js';

export type AttentionConfig =
  | { type: 'dot' }
  | ({ type: 'general' } & GeneralAttentionConfig)
  | ({ type: 'additive' } & AdditiveAttentionConfig)
  | { type: 'scaledDot' };

/** The layer class `createAttention` returns for a config. */
export type AttentionFor<C extends AttentionConfig> = C extends { type: 'dot' }
  ? DotAttention
  : C extends { type: 'general' }
    ? GeneralAttention
    : C extends { type: 'additive' }
      ? AdditiveAttention
      : C extends { type: 'scaledDot' }
        ? ScaledDotAttention
        : Attention;

/** Builds the attention layer named by `config.type`; the other keys are that layer's config. */
export function createAttention<C extends AttentionConfig>(config: C): AttentionFor<C>;
export function createAttention(config: AttentionConfig): Attention {
  if (config === null || typeof config !== 'object') {
    throw new ConfigError(`createAttention: expected a config object { type, … }, got ${JSON.stringify(config)}`);
  }
  const { type, ...rest } = config;
  switch (type) {
    case 'dot':
      return new DotAttention(rest as Record<string, never>);
    case 'general':
      return new GeneralAttention(rest as GeneralAttentionConfig);
    case 'additive':
      return new AdditiveAttention(rest as AdditiveAttentionConfig);
    case 'scaledDot':
      return new ScaledDotAttention(rest as Record<string, never>);
    default:
      throw new ConfigError(`Unknown attention type: ${String(type as unknown)}; expected one of ${ATTENTION_TYPES.join(', ')}`);
  }
}
