// Shared test helpers: the golden fixtures, closeness checks and a leak check.
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';

export type Nested = number | Nested[];

export interface GoldenCase {
  cell: 'rnn' | 'lstm' | 'gru';
  source: string;
  options?: Record<string, unknown>;
  merge?: 'concat' | 'sum';
  weights: Record<string, Nested> | Record<string, Record<string, Nested>>;
  x: Nested;
  h0: Nested;
  c0?: Nested;
  output: Nested;
  h_n: Nested;
  c_n?: Nested;
  loss_weights?: Record<string, Nested>;
  loss?: number;
  grads?: Record<string, Nested>;
  masked: { lengths: number[]; mask: Nested; output: Nested; h_n: Nested; c_n?: Nested };
}

export interface Golden {
  meta: { B: number; T: number; D: number; H: number; lengths: number[] };
  cases: Record<string, GoldenCase>;
}

export function loadGolden(): Golden {
  return JSON.parse(readFileSync(new URL('../fixtures/golden.json', import.meta.url), 'utf8')) as Golden;
}

const flat = (v: Nested): number[] => (Array.isArray(v) ? v.flatMap(flat) : [v]);
const shapeOf = (v: Nested): number[] => (Array.isArray(v) ? [v.length, ...shapeOf(v[0]!)] : []);

/** Max |actual − expected| ≤ tol, with matching shapes. */
export function expectClose(actual: tf.Tensor | ArrayLike<number>, expected: Nested | tf.Tensor | ArrayLike<number>, tol = 1e-5, label = ''): void {
  let a: number[];
  let e: number[];
  if (actual instanceof tf.Tensor) {
    a = Array.from(actual.dataSync());
    if (!(expected instanceof tf.Tensor) && (Array.isArray(expected) || typeof expected === 'number')) {
      expect(actual.shape, `${label} shape`).toEqual(shapeOf(expected as Nested));
    }
  } else a = Array.from(actual);
  if (expected instanceof tf.Tensor) {
    if (actual instanceof tf.Tensor) expect(actual.shape, `${label} shape`).toEqual(expected.shape);
    e = Array.from(expected.dataSync());
  } else if (Array.isArray(expected) || typeof expected === 'number') e = flat(expected as Nested);
  else e = Array.from(expected as ArrayLike<number>);
  expect(a.length, `${label} size`).toBe(e.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - e[i]!));
  expect(worst, `${label}: max abs error`).toBeLessThanOrEqual(tol);
}

export { expectNoLeak } from '@attend/test-utils';
