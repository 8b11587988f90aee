// What every attention layer does once it has scores (Bahdanau et al. 2015, §3.1; Luong et al.
// 2015, §3.1): the decoder state (the query) scores every encoder output (the keys), the scores
// become weights by a softmax over the source positions, and the context is the weighted sum of
// the values:
//   e_ij = score(s_i, h_j)            [B, Tq, Tk]
//   α_ij = softmax_j(e_ij)             [B, Tq, Tk]   (masked positions: exactly 0)
//   c_i  = Σ_j α_ij · v_j              [B, Tq, Dv]
// The layers differ only in `score` (dot.ts, general.ts, additive.ts, scaled-dot.ts). Every call
// returns the weights α too, for alignment heatmaps.
import * as tf from '@tensorflow/tfjs-core';
import { assignWeights, ConfigError, countParams, ShapeError, withDefaults, type SetWeightsOptions } from '@attend/core';
import { keepMask, maskedSoftmax } from './mask.js';

/** The score functions. */
export type AttentionType = 'dot' | 'general' | 'additive' | 'scaledDot';
export const ATTENTION_TYPES: readonly AttentionType[] = ['dot', 'general', 'additive', 'scaledDot'];

export interface AttendOptions {
  /**
   * Which keys may be looked at: `[B, Tk]` padding mask (1 = real, 0 = padding) or `[B, Tq, Tk]`
   * per query; any non-zero entry means "may attend". Masked keys get weight exactly 0 and gradient
   * exactly 0. A query whose keys are all masked gets all-zero weights and a zero context.
   */
  mask?: tf.Tensor;
  /** Self-attention in a decoder: query i attends to keys j ≤ i only (default false). */
  causal?: boolean;
}

export const DEFAULT_ATTEND_OPTIONS: { mask: tf.Tensor | undefined; causal: boolean } = { mask: undefined, causal: false };

/** The result of one attention call; the caller owns both tensors (a type, not an interface, so `tf.dispose(result)` type-checks). */
export type AttentionResult<T extends tf.Tensor = tf.Tensor> = {
  /** Weighted sum of the values: `[B, Tq, Dv]` (or `[B, Dv]` for one query). */
  context: T;
  /** Attention weights, summing to 1 over the unmasked keys: `[B, Tq, Tk]` (or `[B, Tk]`). */
  weights: T;
};

/** A score function with its parameters. */
export interface Attention {
  readonly type: AttentionType;
  /** Raw (unmasked, pre-softmax) scores `[B, Tq, Tk]` of queries `[B, Tq, Dq]` against keys `[B, Tk, Dk]`. */
  score(query: tf.Tensor3D, keys: tf.Tensor3D): tf.Tensor3D;
  /** One decoder step: query `[B, Dq]` → context `[B, Dv]`, weights `[B, Tk]`. */
  attend(query: tf.Tensor2D, keys: tf.Tensor3D, values: tf.Tensor3D, options?: AttendOptions): AttentionResult<tf.Tensor2D>;
  /** Many queries: query `[B, Tq, Dq]` → context `[B, Tq, Dv]`, weights `[B, Tq, Tk]`. */
  attend(query: tf.Tensor3D, keys: tf.Tensor3D, values: tf.Tensor3D, options?: AttendOptions): AttentionResult<tf.Tensor3D>;
  /** Any of the above (and `[B, heads, T, d]` for scaled dot-product attention). */
  attend(query: tf.Tensor, keys: tf.Tensor, values: tf.Tensor, options?: AttendOptions): AttentionResult;
  /** The parameters by stable name (`W`; `W1`, `W2`, `v`; none for dot and scaled dot). */
  variables(): Record<string, tf.Variable>;
  setWeights(record: Record<string, tf.Tensor>, options?: SetWeightsOptions): void;
  paramCount(): number;
  dispose(): void;
}

/** Shapes of a validated attention call. */
export interface AttendDims {
  batch: number;
  heads: number | null;
  queryLength: number;
  keyLength: number;
  queryDim: number;
  keyDim: number;
  valueDim: number;
  /** The query was `[B, Dq]` (one decoder step). */
  step: boolean;
}

const fmt = (t: tf.Tensor) => `[${t.shape.join(', ')}]`;

/**
 * Checks query/keys/values against each other: `[B, Tq, Dq]` or `[B, Dq]` queries with `[B, Tk, Dk]`
 * keys and `[B, Tk, Dv]` values; with `allowHeads`, also `[B, h, Tq, d]` / `[B, h, Tk, d]` /
 * `[B, h, Tk, dv]`.
 */
export function checkAttendInputs(what: string, query: tf.Tensor, keys: tf.Tensor, values: tf.Tensor, allowHeads: boolean): AttendDims {
  for (const [name, t] of [['query', query], ['keys', keys], ['values', values]] as const) {
    if (!(t instanceof tf.Tensor)) throw new ShapeError(`${what}: ${name} must be a tf.Tensor, got ${typeof t}`);
    if (t.dtype !== 'float32') throw new ShapeError(`${what}: ${name} expected dtype float32, got ${t.dtype}`);
  }
  if (allowHeads && keys.rank === 4) {
    const [B, h, Tk, Dk] = keys.shape as [number, number, number, number];
    if (query.rank !== 4 || query.shape[0] !== B || query.shape[1] !== h || query.shape[3] !== Dk) {
      throw new ShapeError(`${what}: with keys ${fmt(keys)} = [B, heads, Tk, d], expected query of shape [${B}, ${h}, Tq, ${Dk}], got ${fmt(query)}`);
    }
    if (values.rank !== 4 || values.shape[0] !== B || values.shape[1] !== h || values.shape[2] !== Tk) {
      throw new ShapeError(`${what}: with keys ${fmt(keys)} = [B, heads, Tk, d], expected values of shape [${B}, ${h}, ${Tk}, dv], got ${fmt(values)}`);
    }
    return { batch: B, heads: h, queryLength: query.shape[2]!, keyLength: Tk, queryDim: Dk, keyDim: Dk, valueDim: values.shape[3]!, step: false };
  }
  if (keys.rank !== 3) {
    const expected = allowHeads ? '[B, Tk, Dk] or [B, heads, Tk, d]' : '[B, Tk, Dk]';
    throw new ShapeError(`${what}: expected keys of shape ${expected}, got ${fmt(keys)}`);
  }
  const [B, Tk] = keys.shape as [number, number, number];
  if (values.rank !== 3 || values.shape[0] !== B || values.shape[1] !== Tk) {
    throw new ShapeError(`${what}: expected values of shape [${B}, ${Tk}, Dv] (one value per key), got ${fmt(values)}`);
  }
  if ((query.rank !== 2 && query.rank !== 3) || query.shape[0] !== B) {
    throw new ShapeError(`${what}: expected query of shape [${B}, Tq, Dq] or [${B}, Dq] (one decoder step), got ${fmt(query)}`);
  }
  const step = query.rank === 2;
  return {
    batch: B,
    heads: null,
    queryLength: step ? 1 : query.shape[1]!,
    keyLength: Tk,
    queryDim: query.shape[query.rank - 1]!,
    keyDim: keys.shape[2]!,
    valueDim: values.shape[2]!,
    step,
  };
}

/**
 * The shared attention call: validate, score, mask, softmax, weighted sum. `score` maps query
 * `[B, (h,) Tq, Dq]` and keys `[B, (h,) Tk, Dk]` to scores `[B, (h,) Tq, Tk]`; `checkDims` throws
 * for dimensions the score function cannot take. Returns fresh tensors the caller owns.
 */
export function runAttention(
  what: string,
  score: (q: tf.Tensor, k: tf.Tensor) => tf.Tensor,
  checkDims: (dims: AttendDims) => void,
  query: tf.Tensor,
  keys: tf.Tensor,
  values: tf.Tensor,
  options: AttendOptions | undefined,
  allowHeads: boolean,
): AttentionResult {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new ConfigError(`${what}: expected options { mask?, causal? }, got ${JSON.stringify(options)}`);
  }
  const o = withDefaults(what, DEFAULT_ATTEND_OPTIONS, options ?? {});
  if (typeof o.causal !== 'boolean') throw new ConfigError(`${what}: causal expected true or false, got ${JSON.stringify(o.causal)}`);
  const dims = checkAttendInputs(what, query, keys, values, allowHeads);
  checkDims(dims);
  if (o.causal && dims.step) {
    throw new ConfigError(
      `${what}: causal needs a query sequence [B, Tq, Dq], got one decoder step ${fmt(query)}; for step-by-step decoding pass only the keys seen so far (or a padding mask)`,
    );
  }
  return tf.tidy(() => {
    const keep = keepMask(what, o.mask, o.causal, dims); // broadcasts to [B, (h,) Tq, Tk]
    const q = dims.step ? tf.expandDims(query, 1) : query; // [B, (h,) Tq, Dq]
    const weights = maskedSoftmax(score(q, keys), keep); // [B, (h,) Tq, Tk]
    const context = tf.matMul(weights, values); // [B, (h,) Tq, Dv]
    return dims.step ? { context: tf.squeeze(context, [1]), weights: tf.squeeze(weights, [1]) } : { context, weights };
  });
}

/** Shared plumbing for the layer classes: the `attend`/`score` entry points and weights bookkeeping. */
export abstract class BaseAttention implements Attention {
  abstract readonly type: AttentionType;
  /** The class name used in error messages. */
  protected abstract readonly label: string;
  abstract variables(): Record<string, tf.Variable>;
  /** Scores `[B, (h,) Tq, Tk]` from query `[B, (h,) Tq, Dq]` and keys `[B, (h,) Tk, Dk]`, inputs already checked. */
  protected abstract rawScores(q: tf.Tensor, k: tf.Tensor): tf.Tensor;
  /** Throws a ShapeError for query/key sizes this score function cannot take. */
  protected abstract checkDims(what: string, dims: AttendDims): void;
  /** Whether `[B, heads, T, d]` inputs are accepted (scaled dot-product only). */
  protected readonly allowHeads: boolean = false;

  score(query: tf.Tensor3D, keys: tf.Tensor3D): tf.Tensor3D {
    const what = `${this.label}.score`;
    if (!(query instanceof tf.Tensor) || query.rank !== 3) {
      throw new ShapeError(`${what}: expected query of shape [B, Tq, Dq], got ${query instanceof tf.Tensor ? fmt(query) : typeof query}`);
    }
    if (!(keys instanceof tf.Tensor) || keys.rank !== 3 || keys.shape[0] !== query.shape[0]) {
      throw new ShapeError(`${what}: expected keys of shape [${query.shape[0]}, Tk, Dk], got ${keys instanceof tf.Tensor ? fmt(keys) : typeof keys}`);
    }
    this.checkDims(what, {
      batch: query.shape[0],
      heads: null,
      queryLength: query.shape[1],
      keyLength: keys.shape[1],
      queryDim: query.shape[2],
      keyDim: keys.shape[2],
      valueDim: 0,
      step: false,
    });
    return tf.tidy(() => this.rawScores(query, keys)) as tf.Tensor3D;
  }

  attend(query: tf.Tensor2D, keys: tf.Tensor3D, values: tf.Tensor3D, options?: AttendOptions): AttentionResult<tf.Tensor2D>;
  attend(query: tf.Tensor3D, keys: tf.Tensor3D, values: tf.Tensor3D, options?: AttendOptions): AttentionResult<tf.Tensor3D>;
  attend(query: tf.Tensor, keys: tf.Tensor, values: tf.Tensor, options?: AttendOptions): AttentionResult;
  attend(query: tf.Tensor, keys: tf.Tensor, values: tf.Tensor, options?: AttendOptions): AttentionResult {
    const what = `${this.label}.attend`;
    return runAttention(what, (q, k) => this.rawScores(q, k), (d) => this.checkDims(what, d), query, keys, values, options, this.allowHeads);
  }

  setWeights(record: Record<string, tf.Tensor>, options?: SetWeightsOptions): void {
    assignWeights(this.label, this.variables(), record, options);
  }

  paramCount(): number {
    return countParams(this.variables());
  }

  dispose(): void {
    for (const v of Object.values(this.variables())) v.dispose();
  }
}
