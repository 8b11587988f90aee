// The Transformer decoder (Vaswani et al. 2017, §3.1, fig. 1 right): N identical layers, each
//   masked self-attention (position i sees positions ≤ i, §3.2.3), then — in an encoder–decoder —
//   cross-attention from the decoder's positions to the encoder's outputs, then the feed-forward,
// each with a residual connection, dropout and layer norm (post-LN as the paper, or pre-LN). Without
// cross-attention it is a GPT block (Radford et al. 2018/2019), the decoder-only language model's.
//
// Cached decoding: a `DecoderCache` keeps, per layer, the self-attention keys/values of every
// position generated so far and the cross-attention keys/values of the memory (computed once), so
// each new token costs one position's worth of work.
import * as tf from '@tensorflow/tfjs-core';
import { assertBool, assertInt, assignWeights, ConfigError, configure, countParams, hashSeed, prefixed, Rng, ShapeError, type SetWeightsOptions } from '@attend/core';
import { residualDropout } from './encoder.js';
import { FeedForward } from './feed-forward.js';
import { LayerNorm } from './layer-norm.js';
import { LayerStack } from './stack.js';
import { checkLayerConfig, DEFAULT_TRANSFORMER_LAYER, type TransformerLayerConfig } from './layer-config.js';
import { MultiHeadAttention, type KVCache } from './multi-head-attention.js';
import { disposeAll, tidy } from './tidy.js';

export interface TransformerDecoderLayerConfig extends TransformerLayerConfig {
  /** Whether the layer attends to an encoder's memory (default true; false: a decoder-only GPT block). */
  crossAttention: boolean;
}

export const DEFAULT_TRANSFORMER_DECODER_LAYER: TransformerDecoderLayerConfig = { ...DEFAULT_TRANSFORMER_LAYER, crossAttention: true };

export interface DecoderLayerOptions {
  /** Cross-attention keys/values of the memory (from `projectMemory`); required with cross-attention. */
  memory?: KVCache;
  /** `[B, S]`: 1 = real source token, 0 = padding. */
  memoryMask?: tf.Tensor2D;
  /** `[B, T]` padding mask over the decoder's own positions (keys). */
  selfMask?: tf.Tensor;
  /** Self-attention keys/values of earlier positions (cached decoding); stays yours. */
  past?: KVCache;
  training?: boolean;
  /** Whether to return the attention weights (default true; false lets a fused attention kernel run). */
  weights?: boolean;
  /** Whether the result's cache must hold this call's keys/values (default true; see MultiHeadAttentionOptions). */
  returnCache?: boolean;
}

/** One decoder layer's output, weights (`[B, h, T, P + T]` self, `[B, h, T, S]` cross) and its self-attention cache; yours. */
export type DecoderLayerResult = { output: tf.Tensor3D; selfWeights: tf.Tensor4D | null; crossWeights: tf.Tensor4D | null; cache: KVCache };

export class TransformerDecoderLayer {
  readonly config: Readonly<TransformerDecoderLayerConfig>;
  readonly selfAttention: MultiHeadAttention;
  readonly crossAttention: MultiHeadAttention | null;
  readonly feedForward: FeedForward;
  readonly norms: LayerNorm[];
  private readonly rng: Rng;

  constructor(config: Partial<TransformerDecoderLayerConfig> = {}) {
    const c = configure<TransformerDecoderLayerConfig>('TransformerDecoderLayer', DEFAULT_TRANSFORMER_DECODER_LAYER, [], config);
    checkLayerConfig('TransformerDecoderLayer', c);
    assertBool('TransformerDecoderLayer.crossAttention', c.crossAttention);
    this.config = Object.freeze({ ...c });
    const attn = (name: string) => new MultiHeadAttention({ dModel: c.dModel, heads: c.heads, dropout: c.attentionDropout ?? c.dropout, bias: c.bias, seed: hashSeed(`${c.seed}/${name}`) });
    this.selfAttention = attn('self');
    this.crossAttention = c.crossAttention ? attn('cross') : null;
    this.feedForward = new FeedForward({ dModel: c.dModel, dFF: c.dFF, activation: c.activation, dropout: c.dropout, bias: c.bias, seed: hashSeed(`${c.seed}/ff`) });
    this.norms = Array.from({ length: c.crossAttention ? 3 : 2 }, () => new LayerNorm({ dim: c.dModel, bias: c.bias }));
    this.rng = new Rng(hashSeed(`${c.seed}/dropout`));
  }

  /** Cross-attention keys/values of an encoder's output `[B, S, d]`. */
  projectMemory(memory: tf.Tensor3D): KVCache {
    if (!this.crossAttention) throw new ConfigError('TransformerDecoderLayer.projectMemory: this layer has no cross-attention (crossAttention: false)');
    return this.crossAttention.projectKeyValue(memory);
  }

  /** `[B, T, d]` → `[B, T, d]`. */
  apply(x: tf.Tensor3D, options: DecoderLayerOptions = {}): DecoderLayerResult {
    const { memory, memoryMask, selfMask, past, training = false, weights = true, returnCache = true } = options;
    if (this.crossAttention && !memory) throw new ConfigError('TransformerDecoderLayer.apply: this layer has cross-attention; pass memory (from projectMemory)');
    const { dropout, norm } = this.config;
    const pre = norm === 'pre';
    return tidy(() => {
      // Each sub-layer: pre-LN x + f(LN(x)), post-LN LN(x + f(x)).
      let n = 0;
      const sublayer = (h: tf.Tensor3D, f: (input: tf.Tensor3D) => tf.Tensor3D, dropoutInside = false): tf.Tensor3D => {
        const ln = this.norms[n++]!;
        const y = f(pre ? ln.apply(h) : h);
        const sum: tf.Tensor3D = tf.add(h, dropoutInside ? y : residualDropout(y, dropout, training, this.rng));
        return pre ? sum : ln.apply(sum);
      };
      let selfWeights: tf.Tensor4D | null = null;
      let cache!: KVCache;
      let crossWeights: tf.Tensor4D | null = null;
      let h = sublayer(x, (input) => {
        const a = this.selfAttention.apply(input, undefined, { mask: selfMask, causal: true, past, training, weights, returnCache });
        selfWeights = a.weights;
        cache = a.cache;
        return a.output;
      });
      if (this.crossAttention) {
        h = sublayer(h, (input) => {
          const a = this.crossAttention!.apply(input, undefined, { memory, mask: memoryMask, training, weights });
          crossWeights = a.weights;
          disposeAll(a.cache);
          return a.output;
        });
      }
      h = sublayer(h, (input) => this.feedForward.apply(input, training), true);
      return { output: h, selfWeights, crossWeights, cache };
    });
  }

  variables(): Record<string, tf.Variable> {
    const out: Record<string, tf.Variable> = { ...prefixed('self', this.selfAttention.variables()) };
    if (this.crossAttention) Object.assign(out, prefixed('cross', this.crossAttention.variables()));
    Object.assign(out, prefixed('ff', this.feedForward.variables()));
    this.norms.forEach((ln, i) => Object.assign(out, prefixed(`norm${i + 1}`, ln.variables())));
    return out;
  }

  setWeights(record: Record<string, tf.Tensor>, options?: SetWeightsOptions): void {
    assignWeights('TransformerDecoderLayer', this.variables(), record, options);
  }

  paramCount(): number {
    return countParams(this.variables());
  }

  dispose(): void {
    this.selfAttention.dispose();
    this.crossAttention?.dispose();
    this.feedForward.dispose();
    for (const ln of this.norms) ln.dispose();
  }
}

export interface TransformerDecoderConfig extends TransformerDecoderLayerConfig {
  /** N: number of layers (default 2). */
  layers: number;
}

export const DEFAULT_TRANSFORMER_DECODER: TransformerDecoderConfig = { ...DEFAULT_TRANSFORMER_DECODER_LAYER, layers: 2 };

/** What cached decoding carries between steps: per layer, the self-attention keys/values so far and the memory's keys/values. Yours (dispose with `tf.dispose(cache)`). */
export type DecoderCache = { self: KVCache[]; memory: KVCache[] | null; memoryMask?: tf.Tensor2D; length: number };

export interface DecoderOptions {
  /** Encoder output `[B, S, d]` (with cross-attention, unless `cache` carries the memory). */
  memory?: tf.Tensor3D;
  /** `[B, S]` source padding mask. */
  memoryMask?: tf.Tensor2D;
  /**
   * `[B, P + T]` target padding mask over the keys (1 = real): with a cache of P positions it covers
   * the cached ones too (`[B, T]` without a cache). Causality is always applied.
   */
  selfMask?: tf.Tensor;
  /** Continue from this cache: the positions of `x` come after `cache.length` earlier ones. Stays yours. */
  cache?: DecoderCache;
  training?: boolean;
  /** Whether to return the attention weights (default true; false lets a fused attention kernel run). */
  weights?: boolean;
  /** Whether the result's cache must hold this call's keys/values (default true; false for a pass whose cache is thrown away). */
  returnCache?: boolean;
}

/** The decoder's output `[B, T, d]`, per-layer weights (none with `weights: false`) and the extended cache; yours. */
export type DecoderResult = { output: tf.Tensor3D; selfWeights: tf.Tensor4D[]; crossWeights: tf.Tensor4D[]; cache: DecoderCache };

export class TransformerDecoder extends LayerStack<TransformerDecoderLayer> {
  readonly config: Readonly<TransformerDecoderConfig>;

  constructor(config: Partial<TransformerDecoderConfig> = {}) {
    const c = configure<TransformerDecoderConfig>('TransformerDecoder', DEFAULT_TRANSFORMER_DECODER, [], config);
    checkLayerConfig('TransformerDecoder', c);
    assertInt('TransformerDecoder.layers', c.layers);
    const { layers, ...layer } = c;
    super('TransformerDecoder', layers, c, (seed) => new TransformerDecoderLayer({ ...layer, seed }));
    this.config = Object.freeze({ ...c });
  }

  /** An empty cache for decoding against `memory` `[B, S, d]` (its keys/values projected once per layer); no memory for a decoder-only stack. */
  startCache(memory?: tf.Tensor3D, memoryMask?: tf.Tensor2D): DecoderCache {
    if (this.config.crossAttention && !memory) throw new ConfigError('TransformerDecoder.startCache: this decoder has cross-attention; pass the encoder output');
    const B = memory?.shape[0] ?? 0;
    return tidy(() => {
      const { heads, dModel } = this.config;
      const empty = (): KVCache => ({ k: tf.zeros([B, heads, 0, dModel / heads]), v: tf.zeros([B, heads, 0, dModel / heads]) });
      return {
        self: this.layers.map(() => empty()),
        memory: this.config.crossAttention ? this.layers.map((l) => l.projectMemory(memory!)) : null,
        memoryMask: memoryMask ? tf.clone(memoryMask) : undefined,
        length: 0,
      };
    });
  }

  /** `[B, T, d]` (embedded, positions added) → `[B, T, d]`. */
  apply(x: tf.Tensor3D, options: DecoderOptions = {}): DecoderResult {
    const { memory, selfMask, cache, training = false, weights = true, returnCache = true } = options;
    const d = this.config.dModel;
    if (!(x instanceof tf.Tensor) || x.rank !== 3 || x.shape[2] !== d) {
      throw new ShapeError(`TransformerDecoder: expected input of shape [B, T, ${d}], got ${x instanceof tf.Tensor ? `[${x.shape.join(', ')}]` : typeof x}`);
    }
    if (this.config.crossAttention && !memory && !cache?.memory) throw new ConfigError('TransformerDecoder.apply: pass memory (the encoder output) or a cache started with it');
    if (cache && cache.self.length !== this.layers.length) {
      throw new ShapeError(`TransformerDecoder.apply: expected a cache with ${this.layers.length} layers, got ${cache.self.length}`);
    }
    // The self-attention keys are the cached positions and the new ones: a 2-D mask covers them all.
    const [B, T] = x.shape;
    const keys = (cache?.length ?? 0) + T;
    if (selfMask !== undefined && (!(selfMask instanceof tf.Tensor) || selfMask.rank !== 2 || selfMask.shape[0] !== B || selfMask.shape[1] !== keys)) {
      const got = selfMask instanceof tf.Tensor ? `[${selfMask.shape.join(', ')}]` : typeof selfMask;
      const why = cache && cache.length > 0 ? ` (the ${cache.length} cached positions and the ${T} new ones)` : '';
      throw new ShapeError(`TransformerDecoder.apply: expected selfMask of shape [${B}, ${keys}]${why}, 1 = real token, got ${got}`);
    }
    return tidy(() => {
      const memoryKV = this.config.crossAttention ? (cache?.memory ?? this.layers.map((l) => l.projectMemory(memory!))) : null;
      const memoryMask = options.memoryMask ?? cache?.memoryMask;
      const selfWeights: tf.Tensor4D[] = [];
      const crossWeights: tf.Tensor4D[] = [];
      const self: KVCache[] = [];
      let h = x;
      this.layers.forEach((layer, l) => {
        // An empty cache has no past (startCache() of a decoder-only stack cannot know the batch size).
        const r = layer.apply(h, { memory: memoryKV?.[l], memoryMask, selfMask, past: cache && cache.length > 0 ? cache.self[l] : undefined, training, weights, returnCache });
        if (r.selfWeights) selfWeights.push(r.selfWeights);
        if (r.crossWeights) crossWeights.push(r.crossWeights);
        self.push(r.cache);
        h = r.output;
      });
      const next: DecoderCache = {
        self,
        memory: memoryKV ? memoryKV.map((kv) => ({ k: tf.clone(kv.k), v: tf.clone(kv.v) })) : null,
        memoryMask: memoryMask ? tf.clone(memoryMask) : undefined,
        length: (cache?.length ?? 0) + x.shape[1],
      };
      return { output: this.finalNorm ? this.finalNorm.apply(h) : h, selfWeights, crossWeights, cache: next };
    });
  }
}
