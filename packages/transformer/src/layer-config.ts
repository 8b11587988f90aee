// The configuration shared by the encoder and decoder layers and stacks (Vaswani et al. 2017,
// §3.1, §5.4; Xiong et al. 2020 for pre-LN).
import { assertBool, assertChoice, assertInt, assertNumber, ConfigError } from '@attend/core';
import { FEED_FORWARD_ACTIVATIONS, type FeedForwardActivation } from './feed-forward.js';

/** Where the layer norm sits: after each residual sum (the paper's post-LN) or before each sub-layer (pre-LN, GPT-2). */
export type NormPlacement = 'post' | 'pre';
export const NORM_PLACEMENTS: readonly NormPlacement[] = ['post', 'pre'];

export interface TransformerLayerConfig {
  /** d: model size (default 128). */
  dModel: number;
  /** h: attention heads, dividing d (default 4). */
  heads: number;
  /** d_ff: feed-forward inner size (default 4·d). */
  dFF?: number;
  /** Residual dropout: on every sub-layer's output before the residual sum, while training (default 0.1, the paper's P_drop). */
  dropout: number;
  /** Dropout on the attention weights (default: `dropout`). */
  attentionDropout?: number;
  /** Feed-forward nonlinearity (default `'relu'`). */
  activation: FeedForwardActivation;
  /** Layer-norm placement (default `'post'`, the paper's). */
  norm: NormPlacement;
  /** Biases in every projection and layer norm (default true, the paper's; nanoGPT's default model has none). */
  bias: boolean;
  /** Seed of every weight and dropout mask (default 0). */
  seed: number;
}

export const DEFAULT_TRANSFORMER_LAYER: TransformerLayerConfig = {
  dModel: 128,
  heads: 4,
  dFF: undefined,
  dropout: 0.1,
  attentionDropout: undefined,
  activation: 'relu',
  norm: 'post',
  bias: true,
  seed: 0,
};

/** Checks a layer config (every field named in errors under `what`). */
export function checkLayerConfig(what: string, c: TransformerLayerConfig): void {
  assertInt(`${what}.dModel`, c.dModel);
  assertInt(`${what}.heads`, c.heads);
  if (c.dFF !== undefined) assertInt(`${what}.dFF`, c.dFF);
  assertNumber(`${what}.dropout`, c.dropout, 0, 0.999);
  if (c.attentionDropout !== undefined) assertNumber(`${what}.attentionDropout`, c.attentionDropout, 0, 0.999);
  assertChoice(`${what}.activation`, c.activation, FEED_FORWARD_ACTIVATIONS);
  assertChoice(`${what}.norm`, c.norm, NORM_PLACEMENTS);
  assertBool(`${what}.bias`, c.bias);
  assertInt(`${what}.seed`, c.seed, 0);
  if (c.dModel % c.heads !== 0) throw new ConfigError(`${what}: dModel must be a multiple of heads, got dModel ${c.dModel} and heads ${c.heads}`);
}
