// A decoder-only Transformer language model — a small GPT (Radford et al. 2018, 2019; Karpathy's
// nanoGPT): token embedding + positional encoding, N masked self-attention blocks (pre-LN, GELU, as
// GPT-2; no biases by default, as nanoGPT's default model), a final layer norm and a linear head to
// next-token logits:
//   x_0 = E[t] + P[pos];  x_ℓ = Block_ℓ(x_{ℓ−1});  logits = LN(x_N)·W_head
// Trained on shifted windows with the mean cross-entropy (nats/token); generation keeps a key/value
// cache per layer, so each new token costs one position's attention (not a re-run of the window),
// and sliding past the context length re-primes the cache from the last half window.
//
// Variables (stable names, for checkpoints): `embedding/table`, `positions/table` (learned only),
// `decoder/layer<ℓ>/self/q/W`, …, `decoder/norm/gamma`, `head/W`.
import * as tf from '@tensorflow/tfjs-core';
import { assertBool, assertChoice, assertInt, assignWeights, ConfigError, configure, countParams, hashSeed, makeVariable, prefixed, Rng, ShapeError, type SetWeightsOptions } from '@attend/core';
import { checkSamplingOptions, sampleToken, type SamplingOptions } from '@attend/recurrent';
import { Dense } from './dense.js';
import { TransformerDecoder, type DecoderCache } from './decoder.js';
import { checkLayerConfig, type TransformerLayerConfig } from './layer-config.js';
import { crossEntropy } from './loss.js';
import { POSITIONAL_KINDS, PositionalEncoding, type PositionalKind } from './positional.js';
import { disposeAll, tidy } from './tidy.js';

export interface GPTConfig extends TransformerLayerConfig {
  /** V: number of tokens. Required. */
  vocabSize: number;
  /** The most tokens the model attends over (default 256; nanoGPT's block_size). */
  contextLength: number;
  /** N: number of blocks (default 4). */
  layers: number;
  /** `'learned'` (default, as GPT) or `'sinusoidal'`. */
  positional: PositionalKind;
  /** Use the embedding table (transposed) as the output head (default false). */
  tieEmbeddings: boolean;
}

export const DEFAULT_GPT: Omit<GPTConfig, 'vocabSize'> = {
  contextLength: 256,
  layers: 4,
  dModel: 128,
  heads: 4,
  dFF: undefined,
  dropout: 0,
  attentionDropout: undefined,
  activation: 'gelu',
  norm: 'pre',
  bias: false,
  positional: 'learned',
  tieEmbeddings: false,
  seed: 0,
};

export interface GPTForwardOptions {
  /** Training mode (dropout on); default false. */
  training?: boolean;
}

export interface GPTSampleOptions extends SamplingOptions {
  /** Token ids to condition on (at least one); only the last `contextLength` are attended to. */
  prime: number[];
  /** How many tokens to generate. */
  length: number;
  /** Seed of the draws (default 0). */
  seed?: number;
  /** Use the key/value cache (default true); false re-runs the window for every token (the reference). */
  cache?: boolean;
}

export class GPT {
  readonly config: Readonly<GPTConfig>;
  /** `[V, d]`, N(0, 0.02²). */
  readonly embedding: tf.Variable;
  readonly positions: PositionalEncoding;
  readonly decoder: TransformerDecoder;
  /** `[d, V]` without bias (null when tied to the embedding). */
  readonly head: Dense | null;

  constructor(config: Partial<GPTConfig> & { vocabSize: number }) {
    const c = configure<GPTConfig>('GPT', DEFAULT_GPT, ['vocabSize'], config);
    assertInt('GPT.vocabSize', c.vocabSize);
    assertInt('GPT.contextLength', c.contextLength);
    assertInt('GPT.layers', c.layers);
    assertChoice('GPT.positional', c.positional, POSITIONAL_KINDS);
    assertBool('GPT.tieEmbeddings', c.tieEmbeddings);
    checkLayerConfig('GPT', c);
    this.config = Object.freeze({ ...c });
    const rng = new Rng(hashSeed(`${c.seed}/embedding`));
    const table = new Float32Array(c.vocabSize * c.dModel);
    for (let i = 0; i < table.length; i++) table[i] = 0.02 * rng.normal();
    this.embedding = makeVariable(table, [c.vocabSize, c.dModel]);
    this.positions = new PositionalEncoding({ kind: c.positional, dim: c.dModel, maxLength: c.contextLength, seed: hashSeed(`${c.seed}/positions`) });
    const { vocabSize, contextLength, layers, positional, tieEmbeddings, ...layer } = c;
    this.decoder = new TransformerDecoder({ ...layer, layers, crossAttention: false, seed: hashSeed(`${c.seed}/decoder`) });
    this.head = tieEmbeddings ? null : new Dense({ inputSize: c.dModel, units: vocabSize, bias: false, seed: hashSeed(`${c.seed}/head`) });
  }

  /** Next-token logits for every position: int32 `[B, T]` (T ≤ contextLength) → `[B, T, V]`, yours. */
  logits(inputs: tf.Tensor2D, options: GPTForwardOptions = {}): tf.Tensor3D {
    return tidy(() => {
      const r = this.forward(inputs, undefined, options.training ?? false, false);
      disposeAll(r.cache);
      return r.logits;
    });
  }

  /** Mean cross-entropy (nats/token) of predicting `targets` `[B, T]` (inputs shifted left by one). */
  loss(inputs: tf.Tensor2D, targets: tf.Tensor2D, options: GPTForwardOptions = {}): tf.Scalar {
    const [B, T] = this.checkIds('loss', inputs, 2);
    this.checkIds('loss', targets, 2, 'targets');
    if (targets.shape[0] !== B || targets.shape[1] !== T) throw new ShapeError(`GPT.loss: expected targets of shape [${B}, ${T}] like inputs, got [${targets.shape.join(', ')}]`);
    return tidy(() => {
      const logits = this.logits(inputs, options); // [B, T, V]
      return crossEntropy(tf.reshape(logits, [B * T, this.config.vocabSize]), tf.reshape(targets, [B * T]));
    });
  }

  /** Every layer's self-attention weights for `inputs` `[B, T]`: `[B, h, T, T]` per layer, yours. */
  attentionWeights(inputs: tf.Tensor2D): tf.Tensor4D[] {
    return tidy(() => {
      const x = this.embed(inputs, 0);
      const r = this.decoder.apply(x);
      disposeAll(r.cache);
      return r.selfWeights;
    });
  }

  /** An empty key/value cache for `batch` sequences; yours (`tf.dispose(cache)`). */
  startCache(batch: number): DecoderCache {
    assertInt('GPT.startCache batch', batch);
    const { heads, dModel } = this.config;
    return tidy(() => ({
      self: this.decoder.layers.map(() => ({ k: tf.zeros([batch, heads, 0, dModel / heads]), v: tf.zeros([batch, heads, 0, dModel / heads]) }) as { k: tf.Tensor4D; v: tf.Tensor4D }),
      memory: null,
      length: 0,
    }));
  }

  /**
   * Runs `inputs` `[B, T]` after the positions already in `cache` (default: none): the logits of
   * the new positions `[B, T, V]` and the extended cache, both yours; `cache` stays yours.
   */
  forwardCached(inputs: tf.Tensor2D, cache?: DecoderCache): { logits: tf.Tensor3D; cache: DecoderCache } {
    return this.forward(inputs, cache, false);
  }

  /** One token per sequence after `cache`: `ids` int32 `[B]` → `{ logits [B, V], cache }` (new, yours). */
  step(ids: tf.Tensor1D, cache: DecoderCache): { logits: tf.Tensor2D; cache: DecoderCache } {
    this.checkIds('step', ids, 1);
    return tidy(() => {
      const r = this.forward(tf.expandDims(ids, 1) as tf.Tensor2D, cache, false);
      return { logits: tf.squeeze(r.logits, [1]) as tf.Tensor2D, cache: r.cache }; // [B, V]
    });
  }

  /**
   * Generates `length` ids after `prime` (not included), each drawn from the model's distribution
   * given at most `contextLength` preceding tokens and fed back in. Seeded: same options, same ids.
   */
  sample(options: GPTSampleOptions): number[] {
    const { prime, length, seed = 0, cache: useCache = true, ...sampling } = options;
    const { vocabSize: V, contextLength: C } = this.config;
    if (!Array.isArray(prime) || prime.length === 0) throw new ConfigError('GPT.sample prime: expected at least one token id to start from');
    prime.forEach((id, i) => {
      if (!Number.isInteger(id) || id < 0 || id >= V) throw new ConfigError(`GPT.sample prime[${i}]: expected a token id in [0, ${V}), got ${JSON.stringify(id)}`);
    });
    assertInt('GPT.sample length', length, 0);
    assertInt('GPT.sample seed', seed, 0);
    checkSamplingOptions('GPT.sample', sampling);
    const rng = new Rng(seed);
    const tokens = [...prime];
    const out: number[] = [];
    const run = (window: number[], cache?: DecoderCache) =>
      tidy(() => {
        const r = this.forward(tf.tensor2d([window], [1, window.length], 'int32'), cache, false);
        const last = tf.reshape(tf.slice(r.logits, [0, window.length - 1, 0], [1, 1, V]), [V]); // [V]
        return { logits: last, cache: r.cache };
      });
    let cache: DecoderCache | null = null;
    try {
      for (let n = 0; n < length; n++) {
        let logits: tf.Tensor;
        if (!useCache) {
          const r = run(tokens.slice(-C)); // the reference: the whole window every time
          disposeAll(r.cache);
          logits = r.logits;
        } else {
          // First token: the prime's window. Then one position per token, until the cache is full;
          // then re-prime on the last half window (amortised O(1) per token).
          const full: boolean = cache !== null && cache.length >= C;
          const r: { logits: tf.Tensor; cache: DecoderCache } = cache === null || full ? run(tokens.slice(cache === null ? -C : -Math.max(1, Math.floor(C / 2)))) : run(tokens.slice(-1), cache);
          if (cache) disposeAll(cache);
          cache = r.cache;
          logits = r.logits;
        }
        const id = sampleToken(logits.dataSync(), rng, sampling);
        logits.dispose();
        out.push(id);
        tokens.push(id);
      }
    } finally {
      if (cache) disposeAll(cache);
    }
    return out;
  }

  /** Every variable under its stable name. */
  variables(): Record<string, tf.Variable> {
    return {
      'embedding/table': this.embedding,
      ...prefixed('positions', this.positions.variables()),
      ...prefixed('decoder', this.decoder.variables()),
      ...(this.head ? prefixed('head', this.head.variables()) : {}),
    };
  }

  /** Loads weights by name; every name and shape is checked before anything is assigned. */
  setWeights(record: Record<string, tf.Tensor>, options?: SetWeightsOptions): void {
    assignWeights('GPT', this.variables(), record, options);
  }

  paramCount(): number {
    return countParams(this.variables());
  }

  dispose(): void {
    this.embedding.dispose();
    this.positions.dispose();
    this.decoder.dispose();
    this.head?.dispose();
  }

  /** Token embedding + positions from `offset`: `[B, T]` → `[B, T, d]`. */
  private embed(inputs: tf.Tensor2D, offset: number): tf.Tensor3D {
    const [, T] = this.checkIds('forward', inputs, 2);
    const C = this.config.contextLength;
    if (offset + T > C) {
      throw new ShapeError(`GPT: ${offset > 0 ? `${offset} cached + ` : ''}${T} tokens exceed the context length ${C}; use windows of at most ${C} tokens`);
    }
    return tidy(() => this.positions.apply(tf.gather(this.embedding, inputs) as tf.Tensor3D, offset)); // [B, T, d]
  }

  /** `returnCache` false: the caller throws the cache away (logits, loss), so it may be left empty. */
  private forward(inputs: tf.Tensor2D, cache: DecoderCache | undefined, training: boolean, returnCache = true): { logits: tf.Tensor3D; cache: DecoderCache } {
    return tidy(() => {
      const x = this.embed(inputs, cache?.length ?? 0); // [B, T, d]
      const r = this.decoder.apply(x, { cache, training, weights: false, returnCache }); // [B, T, d] (no weights: a fused attention kernel may run)
      const [B, T] = inputs.shape;
      const logits = this.head
        ? this.head.apply(r.output) // [B, T, V]
        : (tf.reshape(tf.matMul(tf.reshape(r.output, [B * T, this.config.dModel]), this.embedding, false, true), [B, T, this.config.vocabSize]) as tf.Tensor3D);
      return { logits, cache: r.cache };
    });
  }

  private checkIds(method: string, ids: tf.Tensor, rank: number, name = rank === 1 ? 'ids' : 'inputs'): [number, number] {
    const shape = rank === 1 ? '[B]' : '[B, T]';
    if (!(ids instanceof tf.Tensor) || ids.rank !== rank) {
      throw new ShapeError(`GPT.${method}: expected ${name} of shape ${shape}, got ${ids instanceof tf.Tensor ? `[${ids.shape.join(', ')}]` : typeof ids}`);
    }
    if (ids.dtype !== 'int32') throw new ShapeError(`GPT.${method}: expected int32 ${name}, got ${ids.dtype}; build them with tf.tensor(ids, shape, 'int32')`);
    return [ids.shape[0]!, ids.shape[1] ?? 1];
  }
}
