// Multi-head attention (Vaswani et al. 2017, §3.2.2):
//   MultiHead(Q, K, V) = Concat(head_1, …, head_h)·W^O,   head_i = Attention(Q·W_i^Q, K·W_i^K, V·W_i^V)
// with d_k = d_v = d/h, and Attention the scaled dot-product attention of @attend/attention
// (softmax(q·kᵀ/√d_k)·v, padding and causal masks). The h heads are one `[d, d]` projection each for
// q, k and v, split into `[B, h, T, d_k]` and merged back after attending. Dropout on the attention
// weights while training (the paper's "attention dropout", as PyTorch's nn.MultiheadAttention).
//
// Cached generation: `past` holds the keys and values of the positions already seen `[B, h, P, d_k]`;
// the new positions' keys and values are appended, and the result's `cache` is the whole lot, so a
// decoder computes one new position per step instead of re-running the sequence (O(1) attention
// recomputation per token). Cross-attention passes its precomputed `memory` keys/values instead.
// When the weights are not needed (training), the backend's fused attention kernel runs where one is
// registered (@attend/attention's fusedAttention: cpu and webgpu).
import * as tf from '@tensorflow/tfjs-core';
import { assertInt, assertNumber, assignWeights, ConfigError, configure, countParams, hashSeed, prefixed, Rng, ShapeError, type SetWeightsOptions } from '@attend/core';
import { fusedAttention, fusedAttentionAvailable, fusedSelfAttention, fusedSelfAttentionAvailable, keepMask, packedHeads, MASK_VALUE, maskedSoftmax, scaledDotProductAttention } from '@attend/attention';
import { Dense } from './dense.js';
import { disposeAll, tidy } from './tidy.js';

export interface MultiHeadAttentionConfig {
  /** d: the model size (input and output). Required. */
  dModel: number;
  /** h: number of heads; must divide d (default 4). */
  heads: number;
  /** Dropout on the attention weights while training (default 0). */
  dropout: number;
  /** Whether the four projections have biases (default true). */
  bias: boolean;
  /** Seed of the projections and of the dropout masks (default 0). */
  seed: number;
}

export const DEFAULT_MULTI_HEAD_ATTENTION: Omit<MultiHeadAttentionConfig, 'dModel'> = { heads: 4, dropout: 0, bias: true, seed: 0 };

/** Keys and values per head: `[B, h, T, d_k]` each. */
export type KVCache = { k: tf.Tensor4D; v: tf.Tensor4D };

export interface MultiHeadAttentionOptions {
  /** `[B, Tk]` padding mask (1 = real key) or `[B, Tq, Tk]` per query; shared by all heads. */
  mask?: tf.Tensor;
  /** Query i attends to keys j ≤ i only — with `past`, to keys up to its absolute position. */
  causal?: boolean;
  /**
   * Whether the caller needs the attention weights (default true). With false (training), the
   * backend's fused attention kernel runs where @attend/attention has one (cpu, webgpu: scores,
   * mask, softmax and weighted sum in one kernel) and the result's `weights` is null.
   */
  weights?: boolean;
  /** Training mode: dropout on the weights (default false). */
  training?: boolean;
  /** Self-attention cache: keys/values of earlier positions, to which this call's are appended (stays yours). */
  past?: KVCache;
  /** Cross-attention: precomputed keys/values of the memory (from `projectKeyValue`); `keyValue` is then ignored (stays yours). */
  memory?: KVCache;
  /**
   * Whether the result's `cache` must hold this call's keys/values (default true). With false (a
   * training pass, where nothing reads them) it may hold empty `[B, h, 0, d_k]` ones instead, which
   * saves splitting them out of the packed self-attention's projection.
   */
  returnCache?: boolean;
}

/** The result of one call; every tensor is yours. */
export type MultiHeadAttentionResult = {
  /** `[B, Tq, d]`. */
  output: tf.Tensor3D;
  /** Attention weights per head, `[B, h, Tq, Tk]`: the alignment of every query with every key (null when not asked for). */
  weights: tf.Tensor4D | null;
  /** The keys and values attended over (past + new, or the memory's): `[B, h, Tk, d_k]`. */
  cache: KVCache;
};

/** `[Tq, Tk]`: 0 where query i may see key j ≤ i, MASK_VALUE above the diagonal (the values cached per shape; the tensor is the caller's). */
const causalBiases = new Map<string, Float32Array>();
function causalBias(Tq: number, Tk: number): tf.Tensor2D {
  const key = `${Tq}x${Tk}`;
  let m = causalBiases.get(key);
  if (!m) {
    m = new Float32Array(Tq * Tk);
    for (let i = 0; i < Tq; i++) for (let j = i + 1; j < Tk; j++) m[i * Tk + j] = MASK_VALUE;
    causalBiases.set(key, m);
  }
  return tf.tensor2d(m, [Tq, Tk]);
}

export class MultiHeadAttention {
  readonly config: Readonly<MultiHeadAttentionConfig>;
  readonly q: Dense;
  readonly k: Dense;
  readonly v: Dense;
  readonly o: Dense;
  /** d_k = d / h. */
  readonly headSize: number;
  private readonly rng: Rng;

  constructor(config: Partial<MultiHeadAttentionConfig> & { dModel: number }) {
    const c = configure<MultiHeadAttentionConfig>('MultiHeadAttention', DEFAULT_MULTI_HEAD_ATTENTION, ['dModel'], config);
    assertInt('MultiHeadAttention.dModel', c.dModel);
    assertInt('MultiHeadAttention.heads', c.heads);
    assertNumber('MultiHeadAttention.dropout', c.dropout, 0, 0.999);
    assertInt('MultiHeadAttention.seed', c.seed, 0);
    if (c.dModel % c.heads !== 0) {
      throw new ConfigError(`MultiHeadAttention: dModel must be a multiple of heads, got dModel ${c.dModel} and heads ${c.heads} (d_k = dModel / heads)`);
    }
    this.config = Object.freeze({ ...c });
    this.headSize = c.dModel / c.heads;
    const dense = (name: string) => new Dense({ inputSize: c.dModel, units: c.dModel, bias: c.bias, seed: hashSeed(`${c.seed}/${name}`) });
    this.q = dense('q');
    this.k = dense('k');
    this.v = dense('v');
    this.o = dense('o');
    this.rng = new Rng(hashSeed(`${c.seed}/dropout`));
  }

  /** `[B, T, d]` (or `[B·T, d]` with `B`, `T` given) → `[B, h, T, d_k]`. */
  splitHeads(x: tf.Tensor3D | tf.Tensor2D, B = x.shape[0], T = x.shape[1]): tf.Tensor4D {
    return tidy(() => tf.transpose(tf.reshape(x, [B, T, this.config.heads, this.headSize]), [0, 2, 1, 3])); // [B, h, T, d_k]
  }

  /** `[B, h, T, d_k]` → `[B, T, d]`. */
  mergeHeads(x: tf.Tensor4D): tf.Tensor3D {
    const [B, , T] = x.shape;
    return tidy(() => tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [B, T, this.config.dModel])); // [B, T, d]
  }

  /** Keys and values of `x` `[B, T, d]` per head — for cross-attention memory computed once per source. */
  projectKeyValue(x: tf.Tensor3D): KVCache {
    this.checkInput('projectKeyValue', 'keyValue', x);
    const [B, T, d] = x.shape;
    return tidy(() => {
      const x2: tf.Tensor2D = tf.reshape(x, [B * T, d]); // [B·T, d]: the projections run on 2-D activations (no reshape per matmul)
      return { k: this.splitHeads(this.k.apply(x2), B, T), v: this.splitHeads(this.v.apply(x2), B, T) }; // [B, h, T, d_k]
    });
  }

  /**
   * Attends from `query` `[B, Tq, d]` to `keyValue` `[B, Tk, d]` (default: `query` itself, i.e.
   * self-attention). Returns the output `[B, Tq, d]`, the per-head weights and the keys/values used.
   */
  apply(query: tf.Tensor3D, keyValue?: tf.Tensor3D, options: MultiHeadAttentionOptions = {}): MultiHeadAttentionResult {
    const { mask, causal = false, training = false, past, memory, weights: wantWeights = true, returnCache = true } = options;
    this.checkInput('apply', 'query', query);
    if (keyValue !== undefined && memory === undefined) this.checkInput('apply', 'keyValue', keyValue);
    if (past && memory) throw new ConfigError('MultiHeadAttention.apply: pass either past (self-attention cache) or memory (cross-attention keys/values), not both');
    const [B, Tq] = query.shape;
    if (past) this.checkCache('past', past, B);
    if (memory) this.checkCache('memory', memory, B);
    const dropout = training && this.config.dropout > 0;
    if (!keyValue && !memory && !past && !wantWeights && !dropout && (mask === undefined || mask.rank === 2) && fusedSelfAttentionAvailable()) {
      return this.packedSelfAttention(query, causal, mask as tf.Tensor2D | undefined, returnCache);
    }
    return tidy(() => {
      const d = this.config.dModel;
      const query2: tf.Tensor2D = tf.reshape(query, [B * Tq, d]); // [B·Tq, d]
      const q = this.splitHeads(this.q.apply(query2), B, Tq); // [B, h, Tq, d_k]
      let kv: KVCache;
      if (memory) {
        kv = { k: tf.clone(memory.k), v: tf.clone(memory.v) };
      } else {
        const fresh = keyValue ? this.projectKeyValue(keyValue) : { k: this.splitHeads(this.k.apply(query2), B, Tq), v: this.splitHeads(this.v.apply(query2), B, Tq) }; // [B, h, Tk_new, d_k]
        kv = past ? { k: tf.concat([past.k, fresh.k], 2), v: tf.concat([past.v, fresh.v], 2) } : fresh; // [B, h, P + Tk_new, d_k]
      }
      const Tk = kv.k.shape[2];
      // With a cache, query i sits at absolute position P + i: the causal mask is bottom-right aligned.
      let attnMask = mask;
      let attnCausal = causal;
      const P = past ? past.k.shape[2] : 0;
      if (causal && P > 0) {
        attnCausal = false;
        if (Tq > 1) {
          const m = new Float32Array(Tq * Tk);
          for (let i = 0; i < Tq; i++) for (let j = 0; j <= Math.min(P + i, Tk - 1); j++) m[i * Tk + j] = 1;
          const shifted = tf.tile(tf.tensor3d(m, [1, Tq, Tk]), [B, 1, 1]); // [B, Tq, Tk]
          attnMask = mask === undefined ? shifted : tf.mul(shifted, mask.rank === 2 ? tf.expandDims(mask, 1) : mask);
        }
      }
      const { context, weights } = this.attend(q, kv.k, kv.v, attnMask, attnCausal, training, wantWeights); // [B, h, Tq, d_k], [B, h, Tq, Tk]
      const merged: tf.Tensor2D = tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [B * Tq, d]); // [B·Tq, d]
      const output = tf.reshape(this.o.apply(merged), [B, Tq, d]) as tf.Tensor3D; // [B, Tq, d]
      return { output, weights, cache: kv };
    });
  }

  /**
   * Self-attention as one matMul with [W_q | W_k | W_v] and @attend/attention's fusedSelfAttention on
   * the packed result (tensorflow with Attend's native ops): no head split or merge, one projection
   * instead of three; the cache's keys/values come out of the same projection (packedHeads: one op each).
   */
  private packedSelfAttention(query: tf.Tensor3D, causal: boolean, mask: tf.Tensor2D | undefined, returnCache: boolean): MultiHeadAttentionResult {
    const [B, T, d] = query.shape;
    const h = this.config.heads;
    return tidy(() => {
      const x2: tf.Tensor2D = tf.reshape(query, [B * T, d]); // [B·T, d]
      const qkv: tf.Tensor2D = tf.matMul(x2, tf.concat([this.q.W, this.k.W, this.v.W], 1) as tf.Tensor2D); // [B·T, 3d]
      const bias = this.q.b ? (tf.concat([this.q.b, this.k.b!, this.v.b!]) as tf.Tensor1D) : undefined; // [b_q | b_k | b_v], added inside the kernel
      const context = fusedSelfAttention(qkv, { heads: h, batch: B, causal, mask, bias }); // [B·T, d]: rows in, rows out
      const output = tf.reshape(this.o.apply(context), [B, T, d]) as tf.Tensor3D; // [B, T, d]
      if (!returnCache) return { output, weights: null, cache: { k: tf.zeros([B, h, 0, this.headSize]), v: tf.zeros([B, h, 0, this.headSize]) } };
      const packed = tf.reshape(bias ? tf.add(qkv, bias) : qkv, [B, T, 3 * d]) as tf.Tensor3D; // [B, T, 3d], biases in
      return { output, weights: null, cache: { k: packedHeads(packed, h, 3, 1), v: packedHeads(packed, h, 3, 2) } }; // [B, h, T, d_k] each
    });
  }

  /**
   * softmax(q·kᵀ/√d_k)·v per head, with dropout on the weights while training. The common case of a
   * decoder-only model — causal, no padding mask — adds a cached −1e9 bias above the diagonal
   * instead of building and applying a mask (the same weights, exactly 0 at future keys, in two ops
   * instead of seven); everything else goes through @attend/attention's masked softmax.
   */
  private attend(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask: tf.Tensor | undefined, causal: boolean, training: boolean, wantWeights: boolean): { context: tf.Tensor4D; weights: tf.Tensor4D | null } {
    const dropout = training && this.config.dropout > 0;
    if (!wantWeights && !dropout && fusedAttentionAvailable() && (mask === undefined || mask.rank === 2)) {
      return { context: fusedAttention(q, k, v, { causal, mask: mask as tf.Tensor2D | undefined }), weights: null }; // [B, h, Tq, d_k]
    }
    const [B, h, Tq] = q.shape;
    const Tk = k.shape[2];
    const fast = causal && mask === undefined && Tq > 1;
    if (!dropout && !fast) return scaledDotProductAttention(q, k, v, { mask, causal });
    const scores = tf.matMul(tf.mul(q, 1 / Math.sqrt(this.headSize)), k, false, true); // [B, h, Tq, Tk]
    let weights: tf.Tensor4D;
    if (fast) {
      weights = tf.softmax(tf.add(scores, causalBias(Tq, Tk))) as tf.Tensor4D; // [B, h, Tq, Tk]
    } else {
      const keep = keepMask('MultiHeadAttention', mask, causal, { batch: B, heads: h, queryLength: Tq, keyLength: Tk });
      weights = maskedSoftmax(scores, keep) as tf.Tensor4D; // [B, h, Tq, Tk]
    }
    const used = dropout ? tf.dropout(weights, this.config.dropout, undefined, this.rng.seed()) : weights;
    return { context: tf.matMul(used, v) as tf.Tensor4D, weights }; // [B, h, Tq, d_k]
  }

  variables(): Record<string, tf.Variable> {
    return {
      ...prefixed('q', this.q.variables()),
      ...prefixed('k', this.k.variables()),
      ...prefixed('v', this.v.variables()),
      ...prefixed('o', this.o.variables()),
    };
  }

  setWeights(record: Record<string, tf.Tensor>, options?: SetWeightsOptions): void {
    assignWeights('MultiHeadAttention', this.variables(), record, options);
  }

  paramCount(): number {
    return countParams(this.variables());
  }

  dispose(): void {
    for (const d of [this.q, this.k, this.v, this.o]) d.dispose();
  }

  private checkInput(method: string, name: string, x: tf.Tensor): void {
    const d = this.config.dModel;
    if (!(x instanceof tf.Tensor) || x.rank !== 3 || x.shape[2] !== d) {
      throw new ShapeError(`MultiHeadAttention.${method}: expected ${name} of shape [B, T, ${d}], got ${x instanceof tf.Tensor ? `[${x.shape.join(', ')}]` : typeof x}`);
    }
  }

  private checkCache(name: string, c: KVCache, B: number): void {
    const { heads: h } = this.config;
    for (const [part, t] of [['k', c.k], ['v', c.v]] as const) {
      if (!(t instanceof tf.Tensor) || t.rank !== 4 || t.shape[0] !== B || t.shape[1] !== h || t.shape[3] !== this.headSize) {
        throw new ShapeError(`MultiHeadAttention.apply: expected ${name}.${part} of shape [${B}, ${h}, T, ${this.headSize}], got ${t instanceof tf.Tensor ? `[${t.shape.join(', ')}]` : typeof t}`);
      }
    }
  }
}
