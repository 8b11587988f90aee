// Shared test helpers (after packages/attention/test/helpers.ts): the golden fixtures of
// fixtures/make_fixtures.py, closeness checks, seeded tensors, weight records, a leak check and a
// finite-difference gradient check.
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@attend/core';
import { expect } from 'vitest';

export type Nested = number | Nested[];
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

const flat = (v: Nested): number[] => (Array.isArray(v) ? v.flatMap(flat) : [v]);
const shapeOf = (v: Nested): number[] => (Array.isArray(v) ? [v.length, ...shapeOf(v[0]!)] : []);

export const t = (v: Nested): tf.Tensor => tf.tensor(v as number[]);

/** A weight record (name → float32 tensor) from fixture lists; the caller disposes it. */
export function record(params: Params): Record<string, tf.Tensor> {
  return Object.fromEntries(Object.entries(params).map(([k, v]) => [k, t(v)]));
}

/** Max |actual − expected| ≤ tol, with matching shapes. */
export function expectClose(actual: tf.Tensor, expected: Nested | tf.Tensor, tol = 1e-5, label = ''): void {
  const a = Array.from(actual.dataSync());
  let e: number[];
  if (expected instanceof tf.Tensor) {
    expect(actual.shape, `${label} shape`).toEqual(expected.shape);
    e = Array.from(expected.dataSync());
  } else {
    expect(actual.shape, `${label} shape`).toEqual(shapeOf(expected));
    e = flat(expected);
  }
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - e[i]!));
  expect(Number.isNaN(worst) ? Infinity : worst, `${label}: max abs error`).toBeLessThanOrEqual(tol);
}

/** Bitwise-equal values (and shapes). */
export function expectSame(actual: tf.Tensor, expected: tf.Tensor, label = ''): void {
  expect(actual.shape, `${label} shape`).toEqual(expected.shape);
  expect(Array.from(actual.dataSync()), label).toEqual(Array.from(expected.dataSync()));
}

/** Max |a − b| over two tensors of one shape. */
export function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  const x = a.dataSync();
  const y = b.dataSync();
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
  return worst;
}

/** A seeded N(0, scale²) float32 tensor. */
export function randn(shape: number[], seed: number, scale = 1): tf.Tensor {
  const rng = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, () => rng.normal() * scale), shape);
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

/** Runs `fn` a few times and checks the live tensor count does not grow (after one warm-up call). */
export function expectNoLeak(fn: () => void, repeats = 3, label = ''): void {
  fn();
  const before = tf.memory().numTensors;
  for (let i = 0; i < repeats; i++) fn();
  expect(tf.memory().numTensors, `${label}: live tensors`).toBe(before);
}

/**
 * Checks ∂L/∂v along a seeded random unit direction for each variable against central finite
 * differences (L(v + εd) − L(v − εd)) / 2ε, relative tolerance 1e-2 (float32).
 */
export function checkDirectional(loss: () => tf.Scalar, vars: Record<string, tf.Variable>, eps = 1e-2): void {
  const { value, grads } = tf.variableGrads(loss, Object.values(vars));
  value.dispose();
  let seed = 100;
  for (const [name, v] of Object.entries(vars)) {
    const d = tf.tidy(() => {
      const r = randn(v.shape, seed++);
      return tf.div(r, tf.norm(r));
    });
    const analytic = tf.tidy(() => tf.sum(tf.mul(grads[v.name]!, d)).dataSync()[0]!);
    const orig = v.clone();
    const at = (s: number) => {
      tf.tidy(() => v.assign(tf.add(orig, tf.mul(d, s))));
      return tf.tidy(() => loss().dataSync()[0]!);
    };
    const numeric = (at(eps) - at(-eps)) / (2 * eps);
    v.assign(orig);
    tf.dispose([orig, d]);
    const scale = Math.max(Math.abs(analytic), Math.abs(numeric), 1e-1);
    expect(Math.abs(analytic - numeric) / scale, `${name}: analytic ${analytic} vs numeric ${numeric}`).toBeLessThan(1e-2);
  }
  tf.dispose(grads);
}

/** `tf.dispose` for anything holding tensors — caches with nulls and numbers included. */
export function free(...xs: unknown[]): void {
  tf.dispose(xs as tf.TensorContainer);
}
