// Checking the encoder–decoder's inputs: int32 token-id batches `[B, T]`, and the source padding
// mask, given as a tensor `[B, S]` (1 = real token, 0 = padding), as per-sentence lengths
// (`[3, 5, …]`: the first `length` tokens are real), or left out (every id ≠ [PAD] = 0 is real).
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '@attend/core';
import { SEQ2SEQ_SPECIALS } from './config.js';

/** The source padding mask: a `[B, S]` tensor (any non-zero = real), or one length per sentence. */
export type SourceMask = tf.Tensor | readonly number[];

/** A resolved source mask. */
export interface ResolvedMask {
  /** `[B, S]` float32 1/0; fresh, the caller owns it. */
  mask: tf.Tensor2D;
  /** Per sentence: the position after its last real token (columns beyond it are padding). */
  lengths: number[];
  /** Every position is real (no padding anywhere). */
  allReal: boolean;
}

const fmt = (t: unknown) => (t instanceof tf.Tensor ? `[${t.shape.join(', ')}] ${t.dtype}` : typeof t);

/** Throws a `ShapeError` unless `ids` is an int32 tensor of rank `rank` (1: `[B]`, 2: `[B, T]`) with at least one column. */
export function checkIds(what: string, name: string, ids: unknown, rank: 1 | 2): asserts ids is tf.Tensor {
  const shape = rank === 1 ? '[B]' : '[B, T]';
  if (!(ids instanceof tf.Tensor) || ids.rank !== rank) {
    throw new ShapeError(`${what}: expected ${name} of shape ${shape} (int32 token ids), got ${fmt(ids)}`);
  }
  if (ids.dtype !== 'int32') {
    throw new ShapeError(`${what}: expected int32 ${name}, got ${ids.dtype}; build them with tf.tensor(ids, shape, 'int32')`);
  }
  if (ids.size === 0) throw new ShapeError(`${what}: ${name} is empty (shape [${ids.shape.join(', ')}])`);
}

/** Throws a `ShapeError` unless every id of `ids` is in `[0, vocab)` (reads the ids: a sync). */
export function checkIdRange(what: string, name: string, ids: tf.Tensor, vocab: number): void {
  const v = ids.dataSync();
  for (let i = 0; i < v.length; i++) {
    if (v[i]! < 0 || v[i]! >= vocab) {
      throw new ShapeError(`${what}: ${name} holds id ${v[i]} at flat index ${i}, outside the vocabulary [0, ${vocab}); was it encoded with another tokenizer?`);
    }
  }
}

/** Resolves `srcMask` for `src` `[B, S]` (reads the mask or the ids: a sync). */
export function resolveSourceMask(what: string, src: tf.Tensor, srcMask?: SourceMask): ResolvedMask {
  const [B, S] = src.shape as [number, number];
  const values = new Float32Array(B * S);
  if (srcMask === undefined || srcMask === null) {
    const ids = src.dataSync();
    for (let i = 0; i < values.length; i++) values[i] = ids[i] === SEQ2SEQ_SPECIALS.pad ? 0 : 1;
  } else if (srcMask instanceof tf.Tensor) {
    if (srcMask.rank !== 2 || srcMask.shape[0] !== B || srcMask.shape[1] !== S) {
      throw new ShapeError(`${what}: expected srcMask of shape [${B}, ${S}] (1 = real token, 0 = padding) like src, got ${fmt(srcMask)}`);
    }
    const m = srcMask.dataSync();
    for (let i = 0; i < values.length; i++) values[i] = m[i] ? 1 : 0;
  } else if (Array.isArray(srcMask)) {
    if (srcMask.length !== B) throw new ShapeError(`${what}: expected ${B} source lengths (one per sentence), got ${srcMask.length}`);
    srcMask.forEach((n, b) => {
      if (!Number.isInteger(n) || n < 0 || n > S) throw new ShapeError(`${what}: source length ${b} must be an integer in [0, ${S}], got ${JSON.stringify(n)}`);
      values.fill(1, b * S, b * S + n);
    });
  } else {
    throw new ShapeError(`${what}: expected srcMask as a [${B}, ${S}] tensor or ${B} lengths, got ${typeof srcMask}`);
  }
  const lengths: number[] = [];
  let allReal = true;
  for (let b = 0; b < B; b++) {
    let last = 0;
    for (let s = 0; s < S; s++) {
      if (values[b * S + s]) last = s + 1;
      else allReal = false;
    }
    lengths.push(last);
  }
  return { mask: tf.tensor2d(values, [B, S]), lengths, allReal };
}
