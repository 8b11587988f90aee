// The attention-based encoder–decoder for translation (Luong, Pham & Manning 2015, "Effective
// Approaches to Attention-based Neural Machine Translation"; Bahdanau, Cho & Bengio 2015, "Neural
// Machine Translation by Jointly Learning to Align and Translate"):
//   encoder  (./encoder.ts)  embeddings + a (bidirectional) recurrent stack over the source, masked
//   bridge   (./bridge.ts)   the decoder's initial state from the encoder's final state
//   decoder  (./decoder.ts)  embeddings + recurrent stack stepped token by token, global attention
//                            over the encoder outputs, h̃_t = tanh(W_c·[c_t; h_t]), softmax output
// trained with teacher forcing (the mean cross-entropy over real target tokens) and decoded
// greedily (./greedy.ts) or with beam search (./beam.ts), returning the attention weights.
//
// Sequences: src `[B, S]` int32 with its padding mask; tgtIn `[B, T]` = [BOS] y_1 … y_{n}, tgtOut
// `[B, T]` = y_1 … y_n [EOS], padded with [PAD] = 0 and masked by tgtMask. Padding never changes a
// sentence's results: the tests compare a padded batch with each sentence alone.
//
// Variables (stable names, for checkpoints): `encoder/embedding/table`, `encoder/layer0/…`
// (bidirectional: `encoder/layer0/forward/lstm/W_x`, …), `encoder/bridge/layer0/W_h`, `…/b_h`
// (`W_c`, `b_c` for LSTMs; bidirectional only), `decoder/embedding/table`, `decoder/layer0/lstm/…`,
// `attention/W` (general) or `attention/W1`, `W2`, `v` (additive), `attention/W_c` (not with
// attention 'none'), `head/W_hy`, `head/b_y`.
import * as tf from '@tensorflow/tfjs-core';
import { assignWeights, configure, countParams, prefixed, ShapeError, sparseSoftmaxCrossEntropy, type SetWeightsOptions } from '@attend/core';
import { beamSearch, type BeamSearchOptions, type BeamSearchResult } from './beam.js';
import { Bridge } from './bridge.js';
import { resolveSeq2SeqConfig, SEQ2SEQ_SPECIALS, type Seq2SeqConfig } from './config.js';
import { Seq2SeqDecoder, type DecoderState, type DecoderStepResult, type EncoderMemory } from './decoder.js';
import { Seq2SeqEncoder } from './encoder.js';
import { greedyDecode, type Encoded, type GreedyOptions, type Seq2SeqHypothesis, type StepModel } from './greedy.js';
import { checkIds, resolveSourceMask, type SourceMask } from './inputs.js';

export interface Seq2SeqLossOptions {
  /** Training mode: dropout on (default false). */
  training?: boolean;
}

const LOSS_DEFAULTS: Required<Seq2SeqLossOptions> = { training: false };

export class Seq2Seq implements StepModel {
  /** The full config, defaults filled in: plain JSON, enough to rebuild the model. */
  readonly config: Readonly<Seq2SeqConfig>;
  readonly encoder: Seq2SeqEncoder;
  readonly bridge: Bridge;
  readonly decoder: Seq2SeqDecoder;

  constructor(config: Partial<Seq2SeqConfig> & { srcVocab: number; tgtVocab: number }) {
    const c = resolveSeq2SeqConfig(config);
    this.config = Object.freeze({ ...c });
    this.encoder = new Seq2SeqEncoder(c);
    this.bridge = new Bridge(c);
    this.decoder = new Seq2SeqDecoder(c);
  }

  get hasAttention(): boolean {
    return this.config.attention !== 'none';
  }

  /**
   * Encodes `src` int32 `[B, S]`: the encoder outputs and source mask the decoder attends over, the
   * decoder's initial state, and each sentence's length. `srcMask`: `[B, S]` (1 = real), lengths, or
   * left out (ids ≠ [PAD] are real). All returned tensors are yours (`tf.dispose(encoded)`).
   */
  encode(src: tf.Tensor2D, srcMask?: SourceMask, options: Seq2SeqLossOptions = {}): Encoded {
    const { training } = configure<Required<Seq2SeqLossOptions>>('Seq2Seq.encode', LOSS_DEFAULTS, [], options);
    checkIds('Seq2Seq.encode', 'src', src, 2);
    return tf.tidy(() => {
      const { mask, lengths, allReal } = resolveSourceMask('Seq2Seq.encode', src, srcMask);
      // Without padding the recurrent layers take their unmasked (fused) path; the results are the same.
      const { outputs, state } = this.encoder.forward(src, allReal ? undefined : mask, training); // [B, S, H]
      const initial = this.decoder.initialState(this.bridge.forward(state));
      return { memory: { outputs, mask }, state: initial, lengths };
    }) as Encoded;
  }

  /**
   * One decoder step (inference): `ids` int32 `[B]` (the previous tokens; [BOS] first) → next-token
   * logits `[B, V]`, attention weights `[B, S]` (absent without attention) and the next state. Neither
   * `state` nor `memory` is disposed; everything returned is yours.
   */
  decodeStep(ids: tf.Tensor1D, state: DecoderState, memory: EncoderMemory): DecoderStepResult {
    checkIds('Seq2Seq.decodeStep', 'ids', ids, 1);
    if (ids.shape[0] !== memory.outputs.shape[0]) {
      throw new ShapeError(`Seq2Seq.decodeStep: expected ${memory.outputs.shape[0]} ids (one per encoded sentence), got ${ids.shape[0]}`);
    }
    return this.decoder.step(ids, state, memory, false);
  }

  /**
   * Teacher forcing: next-token logits `[B, T, V]` for every position of `tgtIn` (`[B, T]`, starting
   * with [BOS]), and the attention weights `[B, T, S]` (absent without attention). Yours to dispose.
   */
  logits(src: tf.Tensor2D, srcMask: SourceMask | undefined, tgtIn: tf.Tensor2D, options: Seq2SeqLossOptions = {}): { logits: tf.Tensor3D; weights?: tf.Tensor3D } {
    const { training } = configure<Required<Seq2SeqLossOptions>>('Seq2Seq.logits', LOSS_DEFAULTS, [], options);
    checkIds('Seq2Seq.logits', 'src', src, 2);
    checkIds('Seq2Seq.logits', 'tgtIn', tgtIn, 2);
    if (tgtIn.shape[0] !== src.shape[0]) {
      throw new ShapeError(`Seq2Seq.logits: expected tgtIn with ${src.shape[0]} rows like src, got [${tgtIn.shape.join(', ')}]`);
    }
    return tf.tidy(() => {
      const { memory, state } = this.encode(src, srcMask, { training });
      return this.decoder.teacherForce(tgtIn, state, memory, training);
    });
  }

  /**
   * The cross-entropy (nats) of every target token: `[B, T]`, 0 at padding. `tgtOut` `[B, T]` is
   * `tgtIn` shifted left, ending with [EOS]; `tgtMask` `[B, T]` (1 = real) defaults to tgtOut ≠ [PAD].
   */
  tokenLosses(
    src: tf.Tensor2D,
    srcMask: SourceMask | undefined,
    tgtIn: tf.Tensor2D,
    tgtOut: tf.Tensor2D,
    tgtMask?: tf.Tensor2D,
    options: Seq2SeqLossOptions = {},
  ): tf.Tensor2D {
    checkIds('Seq2Seq.loss', 'src', src, 2);
    checkIds('Seq2Seq.loss', 'tgtIn', tgtIn, 2);
    checkIds('Seq2Seq.loss', 'tgtOut', tgtOut, 2);
    const [B, T] = tgtIn.shape;
    if (tgtOut.shape[0] !== B || tgtOut.shape[1] !== T) {
      throw new ShapeError(`Seq2Seq.loss: expected tgtOut of shape [${B}, ${T}] like tgtIn, got [${tgtOut.shape.join(', ')}]`);
    }
    if (tgtMask !== undefined && (!(tgtMask instanceof tf.Tensor) || tgtMask.rank !== 2 || tgtMask.shape[0] !== B || tgtMask.shape[1] !== T)) {
      const got = tgtMask instanceof tf.Tensor ? `[${tgtMask.shape.join(', ')}]` : typeof tgtMask;
      throw new ShapeError(`Seq2Seq.loss: expected tgtMask of shape [${B}, ${T}] (1 = real token, 0 = padding) like tgtIn, got ${got}`);
    }
    return tf.tidy(() => {
      const V = this.config.tgtVocab;
      const { logits, weights } = this.logits(src, srcMask, tgtIn, options);
      if (weights) weights.dispose();
      const nll = sparseSoftmaxCrossEntropy(tf.reshape(logits, [B * T, V]), tf.reshape(tgtOut, [B * T])); // [B·T]
      const m = tf.cast(tf.notEqual(tgtMask ?? tgtOut, tgtMask ? 0 : SEQ2SEQ_SPECIALS.pad), 'float32'); // [B, T]
      return tf.mul(tf.reshape(nll, [B, T]), m) as tf.Tensor2D;
    });
  }

  /** Mean cross-entropy (nats per token) over the real target tokens, with teacher forcing. */
  loss(
    src: tf.Tensor2D,
    srcMask: SourceMask | undefined,
    tgtIn: tf.Tensor2D,
    tgtOut: tf.Tensor2D,
    tgtMask?: tf.Tensor2D,
    options: Seq2SeqLossOptions = {},
  ): tf.Scalar {
    return tf.tidy(() => {
      const nll = this.tokenLosses(src, srcMask, tgtIn, tgtOut, tgtMask, options); // [B, T]
      const m = tf.cast(tf.notEqual(tgtMask ?? tgtOut, tgtMask ? 0 : SEQ2SEQ_SPECIALS.pad), 'float32');
      return tf.div(tf.sum(nll), tf.maximum(tf.sum(m), 1)) as tf.Scalar;
    });
  }

  /** Greedy decoding of a batch; see ./greedy.ts. */
  greedyDecode(src: tf.Tensor2D, srcMask?: SourceMask, options: GreedyOptions = {}): Seq2SeqHypothesis[] {
    checkIds('Seq2Seq.greedyDecode', 'src', src, 2);
    return greedyDecode(this, src, srcMask, options);
  }

  /** Beam search for one sentence (`[S]` or `[1, S]`, [PAD] = 0 masked); see ./beam.ts. */
  beamSearch(src: tf.Tensor1D | tf.Tensor2D, options: BeamSearchOptions = {}): BeamSearchResult {
    checkIds('Seq2Seq.beamSearch', 'src', src, src instanceof tf.Tensor && src.rank === 1 ? 1 : 2);
    return beamSearch(this, src, options);
  }

  /** Every variable under its stable name (see the header). */
  variables(): Record<string, tf.Variable> {
    return {
      ...prefixed('encoder', this.encoder.variables()),
      ...prefixed('encoder/bridge', this.bridge.variables()),
      ...prefixed('decoder', this.decoder.variables()),
      ...prefixed('attention', this.decoder.attentionVariables()),
      ...prefixed('head', this.decoder.headVariables()),
    };
  }

  /** Loads weights by name; every name and shape is checked before anything is assigned. The tensors stay yours. */
  setWeights(record: Record<string, tf.Tensor>, options?: SetWeightsOptions): void {
    assignWeights('Seq2Seq', this.variables(), record, options);
  }

  /** Number of scalar parameters. */
  paramCount(): number {
    return countParams(this.variables());
  }

  dispose(): void {
    this.encoder.dispose();
    this.bridge.dispose();
    this.decoder.dispose();
  }
}
