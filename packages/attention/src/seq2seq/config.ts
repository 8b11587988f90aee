// The configuration of the attention-based encoder–decoder (`Seq2Seq`, ./model.ts), after
// Luong, Pham & Manning 2015, "Effective Approaches to Attention-based Neural Machine Translation"
// (global attention, the attentional hidden state h̃_t, input feeding), and Bahdanau, Cho & Bengio
// 2015, "Neural Machine Translation by Jointly Learning to Align and Translate" (bidirectional
// encoder, additive attention, the decoder's initial state computed from the encoder).
//
// Token ids follow @attend/tokenizers: [PAD] = 0, [BOS] = 1, [EOS] = 2 in BOTH vocabularies.
import { assertBool, assertChoice, assertInt, assertNumber, ConfigError, configure } from '@attend/core';
import { SPECIALS } from '@attend/tokenizers';

/** The recurrent cell of encoder and decoder. */
export type Seq2SeqCell = 'lstm' | 'gru';
export const SEQ2SEQ_CELLS: readonly Seq2SeqCell[] = ['lstm', 'gru'];

/** The score function (Luong's dot and general, Bahdanau's additive), or `'none'`: the plain encoder–decoder (Sutskever et al. 2014; Cho et al. 2014). */
export type Seq2SeqAttention = 'dot' | 'general' | 'additive' | 'none';
export const SEQ2SEQ_ATTENTIONS: readonly Seq2SeqAttention[] = ['dot', 'general', 'additive', 'none'];

export interface Seq2SeqConfig {
  /** Source vocabulary size (ids 0..srcVocab−1; 0 is [PAD]). Required. */
  srcVocab: number;
  /** Target vocabulary size (ids 0..tgtVocab−1; 0 [PAD], 1 [BOS], 2 [EOS]). Required, ≥ 3. */
  tgtVocab: number;
  /** E: embedding size of both sides (default 128). */
  embed: number;
  /**
   * H: the decoder's hidden units (default 256). The encoder's outputs and final states have size H
   * too: a bidirectional encoder gives each direction H/2 units (so H must be even), as OpenNMT's
   * `brnn` does, and every score function (dot included) works unchanged.
   */
  hidden: number;
  /** Layers of the encoder and of the decoder (default 1). */
  layers: number;
  /** `'lstm'` (default) or `'gru'`. */
  cell: Seq2SeqCell;
  /**
   * Bidirectional encoder (default true). Each layer's two final states [h→; h←] (size H) go through
   * a learned bridge, s₀ = tanh(W·[h→; h←] + b) per layer (and the same, with its own weights, for
   * the LSTM memory cell), to become the decoder's initial state — Bahdanau's s₀ = tanh(W_s·h←₁),
   * with both directions. Unidirectional: the decoder starts from the encoder's final state as is.
   */
  bidirectional: boolean;
  /** Score function (default `'general'`), or `'none'` for the plain encoder–decoder without context. */
  attention: Seq2SeqAttention;
  /**
   * Input feeding (Luong §3.3, default true): the previous attentional vector h̃_{t−1} is concatenated
   * to the decoder's input embedding, so the decoder knows where it looked. Ignored with `attention: 'none'`.
   */
  inputFeeding: boolean;
  /**
   * Dropout rate while training (default 0): between stacked layers of the encoder and the decoder,
   * and on h̃_t before the output layer.
   */
  dropout: number;
  /** Seed of every initial weight and of dropout (default 0). */
  seed: number;
}

export const DEFAULT_SEQ2SEQ: Omit<Seq2SeqConfig, 'srcVocab' | 'tgtVocab'> = {
  embed: 128,
  hidden: 256,
  layers: 1,
  cell: 'lstm',
  bidirectional: true,
  attention: 'general',
  inputFeeding: true,
  dropout: 0,
  seed: 0,
};

/** The special ids the model relies on (those of @attend/tokenizers). */
export const SEQ2SEQ_SPECIALS = { pad: SPECIALS.pad, bos: SPECIALS.bos, eos: SPECIALS.eos } as const;

/** Fills defaults, rejects unknown keys and bad values (a `ConfigError` naming the option). */
export function resolveSeq2SeqConfig(config: Partial<Seq2SeqConfig> & { srcVocab: number; tgtVocab: number }): Seq2SeqConfig {
  const c = configure<Seq2SeqConfig>('Seq2Seq', DEFAULT_SEQ2SEQ, ['srcVocab', 'tgtVocab'], config);
  assertInt('Seq2Seq.srcVocab', c.srcVocab);
  assertInt('Seq2Seq.tgtVocab', c.tgtVocab, 3);
  assertInt('Seq2Seq.embed', c.embed);
  assertInt('Seq2Seq.hidden', c.hidden);
  assertInt('Seq2Seq.layers', c.layers);
  assertChoice('Seq2Seq.cell', c.cell, SEQ2SEQ_CELLS);
  assertBool('Seq2Seq.bidirectional', c.bidirectional);
  assertChoice('Seq2Seq.attention', c.attention, SEQ2SEQ_ATTENTIONS);
  assertBool('Seq2Seq.inputFeeding', c.inputFeeding);
  assertNumber('Seq2Seq.dropout', c.dropout, 0, 0.999);
  assertInt('Seq2Seq.seed', c.seed, 0);
  if (c.bidirectional && c.hidden % 2 !== 0) {
    throw new ConfigError(
      `Seq2Seq.hidden: a bidirectional encoder gives each direction hidden/2 units, so hidden must be even, got ${c.hidden}; use ${c.hidden + 1} or bidirectional: false`,
    );
  }
  return c;
}
