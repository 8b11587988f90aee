// Test helpers: the golden fixtures of fixtures/make_fixtures.py, weight records, token ids, masks;
// closeness checks, seeded tensors, a leak check and a finite-difference gradient check come from
// @attend/test-utils (shared with the other packages).
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@attend/core';
import { t, type Nested } from '@attend/test-utils';

export { checkDirectional, expectClose, expectNoLeak, expectSame, randn, t, type Nested } from '@attend/test-utils';

export type Params = Record<string, Nested>;

export interface GoldenMhaVariant {
  cross: boolean;
  causal: boolean;
  mask?: Nested;
  output: Nested;
  weights: Nested;
  loss?: number;
  grads?: Params;
}

export interface GoldenLayerCase {
  source: string;
  input: Nested;
  params: Params;
  mask?: Nested;
  memory?: Nested;
  selfMask?: Nested;
  memoryMask?: Nested;
  output?: Nested;
  outputMasked: Nested;
  /** Decoder cases: `outputMasked` through a layer norm without affine (a pre-LN stack's final norm at γ = 1, β = 0). */
  outputMaskedNormed?: Nested;
}

export interface Golden {
  meta: { d: number; heads: number; dFF: number; B: number; T: number; S: number; lengthsT: number[]; lengthsS: number[] };
  cases: {
    mha: { source: string; query: Nested; keyValue: Nested; R: Nested; params: Params; variants: Record<string, GoldenMhaVariant> };
    encoderPost: GoldenLayerCase;
    encoderPre: GoldenLayerCase;
    encoderStackPre: GoldenLayerCase;
    decoderPost: GoldenLayerCase;
    decoderPre: GoldenLayerCase;
    gpt: {
      source: string;
      config: { vocabSize: number; contextLength: number; layers: number; dModel: number; heads: number; dFF: number };
      ids: number[][];
      targets: number[][];
      params: Params;
      logits: Nested;
      loss: number;
      grads: Params;
      tiedSinusoidalLogits: Nested;
      noBiasLogits: Nested;
    };
    sinusoidal: { source: string; length: number; dim: number; table: Nested };
    crossEntropy: {
      source: string;
      logits: Nested;
      targets: number[];
      mask: Nested;
      variants: Record<string, { labelSmoothing: number; masked: boolean; loss: number; gradLogits?: Nested }>;
    };
  };
}

export function loadGolden(): Golden {
  return JSON.parse(readFileSync(new URL('../fixtures/golden.json', import.meta.url), 'utf8')) as Golden;
}

/** A weight record (name → float32 tensor) from fixture lists; the caller disposes it. */
export function record(params: Params): Record<string, tf.Tensor> {
  return Object.fromEntries(Object.entries(params).map(([k, v]) => [k, t(v)]));
}

/** Max |a − b| over two tensors of one shape. */
export function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  const x = a.dataSync();
  const y = b.dataSync();
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
  return worst;
}

/** Seeded int32 token ids in [0, vocab), shape `[B, T]`. */
export function randomIds(B: number, T: number, vocab: number, seed: number): tf.Tensor2D {
  const rng = new Rng(seed);
  return tf.tensor2d(Int32Array.from({ length: B * T }, () => Math.floor(rng.next() * vocab)), [B, T], 'int32');
}

/** `[B, n]` 1/0 padding mask for the given lengths. */
export function lengthsMask(lengths: number[], n: number): tf.Tensor2D {
  return tf.tensor2d(lengths.map((m) => Array.from({ length: n }, (_, j) => (j < m ? 1 : 0))));
}

/** `x[:, from : from + length]` of a `[B, T, …]` tensor. */
export function sliceTime<T extends tf.Tensor>(x: T, from: number, length: number): T {
  const begin = x.shape.map((_, i) => (i === 1 ? from : 0));
  const size = x.shape.map((s, i) => (i === 1 ? length : s));
  return tf.slice(x, begin, size) as T;
}

/** `tf.dispose` for anything holding tensors — caches with nulls and numbers included. */
export function free(...xs: unknown[]): void {
  tf.dispose(xs as tf.TensorContainer);
}
