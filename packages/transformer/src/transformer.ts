// The encoder–decoder Transformer for translation (Vaswani et al. 2017, "Attention Is All You
// Need", §3 and fig. 1):
//   encoder  x_0 = √d·E_src[x] + PE;  N_enc layers of self-attention + feed-forward (./encoder.ts)
//   decoder  y_0 = √d·E_tgt[y] + PE;  N_dec layers of masked self-attention, cross-attention to the
//            encoder's output and feed-forward (./decoder.ts)
//   p(y_t | y_<t, x) = softmax(y_N·W_out)
// with the embeddings scaled by √d (§3.4), dropout on the embedded sums (§5.4, P_drop), post-LN
// layers by default, and the loss with label smoothing ε (§5.4; ./loss.ts) — the `noam` warm-up
// schedule of §5.3 lives in @attend/training. The embeddings are N(0, 1/d) (fairseq's Transformer
// init), so √d·E has unit variance, the scale of the sinusoidal positions.
//
// Sequences and ids as @attend/attention's Seq2Seq: src `[B, S]` int32 with its padding mask,
// tgtIn `[B, T]` = [BOS] y_1 … y_n, tgtOut = y_1 … y_n [EOS], [PAD] = 0. Source padding is masked
// in every encoder self-attention and cross-attention, so it never changes a sentence's results;
// target padding follows the real tokens and causality keeps them from seeing it.
//
// Decoding: the model is a `StepModel` of @attend/attention, so its greedyDecode and beamSearch run
// it. `encode` projects the encoder output once into every decoder layer's cross-attention keys and
// values (the memory); the state is every layer's self-attention key/value cache, one position
// longer after each `decodeStep`; beam search reorders it with `reorderState` (tf.gather on the
// batch axis). `attentionWeights` gives every layer's and head's weights for heatmaps.
//
// Variables (stable names, for checkpoints): `encoder/embedding/table`, `decoder/embedding/table`,
// `encoder/positions/table` and `decoder/positions/table` (learned positions only),
// `encoder/layer<ℓ>/self/q/W`, …, `decoder/layer<ℓ>/cross/k/W`, …, `decoder/norm/…` (pre-LN only), `head/W`.
import * as tf from '@tensorflow/tfjs-core';
import { assertChoice, assertInt, assignWeights, configure, countParams, hashSeed, makeVariable, prefixed, Rng, ShapeError, type SetWeightsOptions } from '@attend/core';
import {
  beamSearch,
  checkIds,
  greedyDecode,
  resolveSourceMask,
  SEQ2SEQ_SPECIALS,
  type BeamSearchOptions,
  type BeamSearchResult,
  type Encoded,
  type GreedyOptions,
  type Seq2SeqHypothesis,
  type SourceMask,
  type StepModel,
  type StepResult,
} from '@attend/attention';
import { Dense } from './dense.js';
import { TransformerDecoder } from './decoder.js';
import { residualDropout, TransformerEncoder } from './encoder.js';
import { checkLayerConfig, DEFAULT_TRANSFORMER_LAYER, type TransformerLayerConfig } from './layer-config.js';
import { crossEntropy } from './loss.js';
import type { KVCache } from './multi-head-attention.js';
import { POSITIONAL_KINDS, PositionalEncoding, type PositionalKind } from './positional.js';
import { tidy } from './tidy.js';

export interface TransformerConfig extends TransformerLayerConfig {
  /** Source vocabulary size (0 is [PAD]). Required. */
  srcVocab: number;
  /** Target vocabulary size (0 [PAD], 1 [BOS], 2 [EOS]). Required, ≥ 3. */
  tgtVocab: number;
  /** N of the encoder (default 3). */
  encoderLayers: number;
  /** N of the decoder (default 3). */
  decoderLayers: number;
  /** The most positions a source or target sequence may have (default 256). */
  maxLength: number;
  /** `'sinusoidal'` (default, the paper's) or `'learned'`. */
  positional: PositionalKind;
}

/** The layers' defaults (post-LN, ReLU, P_drop 0.1, as the paper) at d = 256, h = 4, d_ff = 4·d, 3 + 3 layers. */
export const DEFAULT_TRANSFORMER: Omit<TransformerConfig, 'srcVocab' | 'tgtVocab'> = {
  ...DEFAULT_TRANSFORMER_LAYER,
  dModel: 256,
  heads: 4,
  dFF: undefined,
  dropout: 0.1,
  norm: 'post',
  encoderLayers: 3,
  decoderLayers: 3,
  maxLength: 256,
  positional: 'sinusoidal',
  seed: 0,
};

/** The padding masks: source as a `[B, S]` tensor (1 = real), lengths, or left out (ids ≠ [PAD]); target `[B, T]` (default tgtOut ≠ [PAD]). */
export interface TransformerMasks {
  srcMask?: SourceMask;
  tgtMask?: tf.Tensor2D;
}

export interface TransformerLossOptions {
  /** ε in [0, 1) (default 0: the plain negative log-likelihood). The paper trains with 0.1. */
  labelSmoothing?: number;
  /** Training mode: dropout on (default false). */
  training?: boolean;
}

/** What decoding attends over: per decoder layer, the memory's cross-attention keys/values `[B, h, S, d_k]`, and the source mask `[B, S]`. */
export type TransformerMemory = { kv: KVCache[]; mask: tf.Tensor2D };

/** The decoder's state between steps: per layer, the self-attention keys/values of the t positions so far, `[B, h, t, d_k]`. */
export type TransformerState = { self: KVCache[] };

/** Every attention weight of a teacher-forced pass, per layer; yours. */
export type TransformerAttention = {
  /** Encoder self-attention, `[B, h, S, S]` per encoder layer. */
  encoder: tf.Tensor4D[];
  /** Decoder masked self-attention, `[B, h, T, T]` per decoder layer. */
  decoder: tf.Tensor4D[];
  /** Cross-attention (decoder position → source position), `[B, h, T, S]` per decoder layer. */
  cross: tf.Tensor4D[];
};

export class Transformer implements StepModel<TransformerState, TransformerMemory> {
  /** The full config, defaults filled in: plain JSON, enough to rebuild the model. */
  readonly config: Readonly<TransformerConfig>;
  /** `[V_src, d]`. */
  readonly srcEmbedding: tf.Variable;
  /** `[V_tgt, d]`. */
  readonly tgtEmbedding: tf.Variable;
  readonly srcPositions: PositionalEncoding;
  readonly tgtPositions: PositionalEncoding;
  readonly encoder: TransformerEncoder;
  readonly decoder: TransformerDecoder;
  /** `[d, V_tgt]`, no bias. */
  readonly head: Dense;
  readonly hasAttention = true;
  private readonly rng: Rng;

  constructor(config: Partial<TransformerConfig> & { srcVocab: number; tgtVocab: number }) {
    const c = configure<TransformerConfig>('Transformer', DEFAULT_TRANSFORMER, ['srcVocab', 'tgtVocab'], config);
    assertInt('Transformer.srcVocab', c.srcVocab);
    assertInt('Transformer.tgtVocab', c.tgtVocab, 3);
    assertInt('Transformer.encoderLayers', c.encoderLayers);
    assertInt('Transformer.decoderLayers', c.decoderLayers);
    assertInt('Transformer.maxLength', c.maxLength);
    assertChoice('Transformer.positional', c.positional, POSITIONAL_KINDS);
    checkLayerConfig('Transformer', c);
    this.config = Object.freeze({ ...c });
    const d = c.dModel;
    const embedding = (side: string, vocab: number) => {
      const rng = new Rng(hashSeed(`${c.seed}/${side}/embedding`));
      const table = new Float32Array(vocab * d);
      for (let i = 0; i < table.length; i++) table[i] = rng.normal() / Math.sqrt(d); // N(0, 1/d)
      return makeVariable(table, [vocab, d]);
    };
    this.srcEmbedding = embedding('encoder', c.srcVocab);
    this.tgtEmbedding = embedding('decoder', c.tgtVocab);
    const positions = (side: string) => new PositionalEncoding({ kind: c.positional, dim: d, maxLength: c.maxLength, seed: hashSeed(`${c.seed}/${side}/positions`) });
    this.srcPositions = positions('encoder');
    this.tgtPositions = positions('decoder');
    const { srcVocab, tgtVocab, encoderLayers, decoderLayers, maxLength, positional, ...layer } = c;
    this.encoder = new TransformerEncoder({ ...layer, layers: encoderLayers, seed: hashSeed(`${c.seed}/encoder`) });
    this.decoder = new TransformerDecoder({ ...layer, layers: decoderLayers, crossAttention: true, seed: hashSeed(`${c.seed}/decoder`) });
    this.head = new Dense({ inputSize: d, units: tgtVocab, bias: false, seed: hashSeed(`${c.seed}/head`) });
    this.rng = new Rng(hashSeed(`${c.seed}/dropout`));
  }

  /** Decoding stops after at most this many output tokens: the target positions the model has. */
  get maxOutputLength(): number {
    return this.config.maxLength;
  }

  /**
   * Encodes `src` int32 `[B, S]` for decoding: every decoder layer's cross-attention keys/values of
   * the encoder output, the source mask, an empty key/value cache and each sentence's length.
   * `srcMask`: `[B, S]` (1 = real), lengths, or left out (ids ≠ [PAD] are real). All yours.
   */
  encode(src: tf.Tensor2D, srcMask?: SourceMask): Encoded<TransformerMemory, TransformerState> {
    checkIds('Transformer.encode', 'src', src, 2);
    return tidy(() => {
      const { mask, lengths } = resolveSourceMask('Transformer.encode', src, srcMask);
      const memory = this.encodeSource(src, mask, false, false).output; // [B, S, d]
      const kv = this.decoder.layers.map((l) => l.projectMemory(memory)); // per layer [B, h, S, d_k]
      return { memory: { kv, mask }, state: this.emptyState(src.shape[0]), lengths };
    });
  }

  /**
   * One decoder step with the key/value cache: `ids` int32 `[B]` (the previous tokens; [BOS] first)
   * at position t = the cache's length → next-token logits `[B, V]`, the last decoder layer's
   * cross-attention weights averaged over heads `[B, S]`, and the cache one position longer.
   * Neither `state` nor `memory` is disposed; everything returned is yours.
   */
  decodeStep(ids: tf.Tensor1D, state: TransformerState, memory: TransformerMemory): StepResult<TransformerState> {
    checkIds('Transformer.decodeStep', 'ids', ids, 1);
    const B = memory.mask.shape[0];
    if (ids.shape[0] !== B) throw new ShapeError(`Transformer.decodeStep: expected ${B} ids (one per encoded sentence), got ${ids.shape[0]}`);
    if (state.self.length !== this.config.decoderLayers) {
      throw new ShapeError(`Transformer.decodeStep: expected a state with ${this.config.decoderLayers} layers' caches, got ${state.self.length}; start from encode()`);
    }
    const t = state.self[0]!.k.shape[2];
    return tidy(() => {
      const y = this.embedTarget(tf.expandDims(ids, 1) as tf.Tensor2D, t, false); // [B, 1, d]
      const r = this.decoder.apply(y, { cache: { self: state.self, memory: memory.kv, memoryMask: memory.mask, length: t } }); // [B, 1, d]
      const logits = tf.squeeze(this.head.apply(r.output), [1]) as tf.Tensor2D; // [B, V]
      const last = r.crossWeights[r.crossWeights.length - 1]!; // [B, h, 1, S]
      const weights = tf.squeeze(tf.mean(last, 1), [1]) as tf.Tensor2D; // [B, S]
      return { logits, weights, state: { self: r.cache.self } };
    });
  }

  /** The caches of hypotheses `parents` (row i = row parents[i]), gathered on the batch axis: fresh, yours. */
  reorderState(state: TransformerState, parents: readonly number[]): TransformerState {
    return tidy(() => {
      const index = tf.tensor1d(parents as number[], 'int32');
      return { self: state.self.map(({ k, v }) => ({ k: tf.gather(k, index) as tf.Tensor4D, v: tf.gather(v, index) as tf.Tensor4D })) }; // [n, h, t, d_k]
    });
  }

  /**
   * Teacher forcing: next-token logits `[B, T, V]` for every position of `tgtIn` (`[B, T]`,
   * starting with [BOS]). Only `masks.srcMask` matters here; yours to dispose.
   */
  logits(src: tf.Tensor2D, tgtIn: tf.Tensor2D, masks: TransformerMasks = {}, training = false): tf.Tensor3D {
    this.checkPair('logits', src, tgtIn);
    return tidy(() => {
      const { mask } = resolveSourceMask('Transformer.logits', src, masks.srcMask);
      const memory = this.encodeSource(src, mask, training, false).output; // [B, S, d]
      const y = this.embedTarget(tgtIn, 0, training); // [B, T, d]
      const r = this.decoder.apply(y, { memory, memoryMask: mask, training, weights: false, returnCache: false }); // [B, T, d] (no weights: a fused attention kernel may run; the cache is not kept)
      return this.head.apply(r.output); // [B, T, V]
    });
  }

  /**
   * Mean cross-entropy (nats per real target token) with teacher forcing, and label smoothing ε
   * when given. `tgtOut` `[B, T]` is `tgtIn` shifted left, ending with [EOS].
   */
  loss(src: tf.Tensor2D, tgtIn: tf.Tensor2D, tgtOut: tf.Tensor2D, masks: TransformerMasks = {}, options: TransformerLossOptions = {}): tf.Scalar {
    const { labelSmoothing, training } = configure<Required<TransformerLossOptions>>('Transformer.loss', { labelSmoothing: 0, training: false }, [], options);
    this.checkPair('loss', src, tgtIn);
    checkIds('Transformer.loss', 'tgtOut', tgtOut, 2);
    const [B, T] = tgtIn.shape;
    if (tgtOut.shape[0] !== B || tgtOut.shape[1] !== T) throw new ShapeError(`Transformer.loss: expected tgtOut of shape [${B}, ${T}] like tgtIn, got [${tgtOut.shape.join(', ')}]`);
    const { tgtMask } = masks;
    if (tgtMask !== undefined && (!(tgtMask instanceof tf.Tensor) || tgtMask.rank !== 2 || tgtMask.shape[0] !== B || tgtMask.shape[1] !== T)) {
      const got = tgtMask instanceof tf.Tensor ? `[${tgtMask.shape.join(', ')}]` : typeof tgtMask;
      throw new ShapeError(`Transformer.loss: expected tgtMask of shape [${B}, ${T}] (1 = real token, 0 = padding) like tgtIn, got ${got}`);
    }
    return tidy(() => {
      const V = this.config.tgtVocab;
      const logits = tf.reshape(this.logits(src, tgtIn, masks, training), [B * T, V]); // [B·T, V]
      const mask = tgtMask ?? tf.notEqual(tgtOut, SEQ2SEQ_SPECIALS.pad); // [B, T]
      return crossEntropy(logits as tf.Tensor2D, tf.reshape(tgtOut, [B * T]) as tf.Tensor1D, { labelSmoothing, mask });
    });
  }

  /**
   * Every attention weight of a teacher-forced pass over `tgtIn` (inference mode): the encoder's
   * self-attention, the decoder's masked self-attention and its cross-attention, per layer and head.
   * For a decoded sentence, tgtIn = [BOS] + its ids: row i of `cross[ℓ]` is where layer ℓ looked
   * while producing output token i (the same weights as cached decoding). All yours.
   */
  attentionWeights(src: tf.Tensor2D, tgtIn: tf.Tensor2D, masks: TransformerMasks = {}): TransformerAttention {
    this.checkPair('attentionWeights', src, tgtIn);
    return tidy(() => {
      const { mask } = resolveSourceMask('Transformer.attentionWeights', src, masks.srcMask);
      const enc = this.encodeSource(src, mask, false, true);
      const r = this.decoder.apply(this.embedTarget(tgtIn, 0, false), { memory: enc.output, memoryMask: mask });
      return { encoder: enc.weights, decoder: r.selfWeights, cross: r.crossWeights };
    });
  }

  /** Greedy decoding of a batch with the key/value cache (@attend/attention's greedyDecode). */
  greedyDecode(src: tf.Tensor2D, srcMask?: SourceMask, options: GreedyOptions = {}): Seq2SeqHypothesis[] {
    checkIds('Transformer.greedyDecode', 'src', src, 2);
    return greedyDecode(this, src, srcMask, options);
  }

  /** Beam search for one sentence (`[S]` or `[1, S]`, [PAD] = 0 masked), the caches reordered by beam (@attend/attention's beamSearch). */
  beamSearch(src: tf.Tensor1D | tf.Tensor2D, options: BeamSearchOptions = {}): BeamSearchResult {
    checkIds('Transformer.beamSearch', 'src', src, src instanceof tf.Tensor && src.rank === 1 ? 1 : 2);
    return beamSearch(this, src, options);
  }

  /** Every variable under its stable name (see the header). */
  variables(): Record<string, tf.Variable> {
    return {
      'encoder/embedding/table': this.srcEmbedding,
      ...prefixed('encoder/positions', this.srcPositions.variables()),
      ...prefixed('encoder', this.encoder.variables()),
      'decoder/embedding/table': this.tgtEmbedding,
      ...prefixed('decoder/positions', this.tgtPositions.variables()),
      ...prefixed('decoder', this.decoder.variables()),
      ...prefixed('head', this.head.variables()),
    };
  }

  /** Loads weights by name; every name and shape is checked before anything is assigned. The tensors stay yours. */
  setWeights(record: Record<string, tf.Tensor>, options?: SetWeightsOptions): void {
    assignWeights('Transformer', this.variables(), record, options);
  }

  /** Number of scalar parameters. */
  paramCount(): number {
    return countParams(this.variables());
  }

  dispose(): void {
    this.srcEmbedding.dispose();
    this.tgtEmbedding.dispose();
    this.srcPositions.dispose();
    this.tgtPositions.dispose();
    this.encoder.dispose();
    this.decoder.dispose();
    this.head.dispose();
  }

  /** An empty self-attention cache per decoder layer: `[B, h, 0, d_k]`. */
  private emptyState(B: number): TransformerState {
    const { heads, dModel } = this.config;
    return { self: this.decoder.layers.map(() => ({ k: tf.zeros([B, heads, 0, dModel / heads]) as tf.Tensor4D, v: tf.zeros([B, heads, 0, dModel / heads]) as tf.Tensor4D })) };
  }

  /** The encoder over `src` `[B, S]` with its mask `[B, S]`: output `[B, S, d]` and, with `weights`, per-layer weights (without, a fused attention kernel may run). */
  private encodeSource(src: tf.Tensor2D, mask: tf.Tensor2D, training: boolean, weights: boolean) {
    const x = this.embed(this.srcEmbedding, this.srcPositions, src, 0, training); // [B, S, d]
    return this.encoder.apply(x, { mask, training, weights });
  }

  /** Target ids `[B, T]` at positions offset … offset + T − 1 → `[B, T, d]`. */
  private embedTarget(ids: tf.Tensor2D, offset: number, training: boolean): tf.Tensor3D {
    return this.embed(this.tgtEmbedding, this.tgtPositions, ids, offset, training);
  }

  /** Dropout(√d·E[ids] + PE): `[B, T]` → `[B, T, d]`. */
  private embed(table: tf.Variable, positions: PositionalEncoding, ids: tf.Tensor2D, offset: number, training: boolean): tf.Tensor3D {
    return tidy(() => {
      const e = tf.mul(tf.gather(table, ids), Math.sqrt(this.config.dModel)) as tf.Tensor3D; // [B, T, d]
      return residualDropout(positions.apply(e, offset), this.config.dropout, training, this.rng); // [B, T, d]
    });
  }

  private checkPair(method: string, src: tf.Tensor2D, tgtIn: tf.Tensor2D): void {
    checkIds(`Transformer.${method}`, 'src', src, 2);
    checkIds(`Transformer.${method}`, 'tgtIn', tgtIn, 2);
    if (tgtIn.shape[0] !== src.shape[0]) throw new ShapeError(`Transformer.${method}: expected tgtIn with ${src.shape[0]} rows like src, got [${tgtIn.shape.join(', ')}]`);
  }
}
