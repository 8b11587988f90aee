// Test helpers shared by the packages' vitest suites (private, never published): backend activation
// with the tensorflow skip rule, seeded normal tensors, closeness checks against fixture values, a
// tensor-leak check, and a finite-difference gradient check.
import * as tf from '@tensorflow/tfjs-core';
import { Rng, tensorflowNativeOps } from '@attend/core';
import { selectBackend } from '@attend/core/node';
import { expect } from 'vitest';

/**
 * Activates `backend` and returns '' — or, for tensorflow where tfjs-node is not built, the reason to
 * skip (`ctx.skip(reason)`). Built is required where ATTEND_EXPECT_TENSORFLOW=1 (CI runs
 * `attend setup tensorflow`); every other backend must load.
 */
export async function activateBackend(backend: 'cpu' | 'wasm' | 'tensorflow'): Promise<string> {
  try {
    await selectBackend({ prefer: backend, log: false });
    return '';
  } catch (err) {
    if (backend !== 'tensorflow' || process.env.ATTEND_EXPECT_TENSORFLOW === '1') throw err;
    return `tensorflow backend not available here: ${(err as Error).message.split('\n').filter((l) => l.startsWith('  - ')).map((l) => l.trim()).join('; ') || (err as Error).message.split('\n')[0]}`;
  }
}

/**
 * `activateBackend('tensorflow')` that also needs Attend's native ops (what `attend setup tensorflow`
 * builds after tfjs-node): '' when both are there, else the reason to skip — an error where CI built
 * them (ATTEND_EXPECT_TENSORFLOW=1).
 */
export async function activateTensorflowNative(): Promise<string> {
  const skip = await activateBackend('tensorflow');
  if (skip || tensorflowNativeOps()) return skip;
  if (process.env.ATTEND_EXPECT_TENSORFLOW === '1') throw new Error('the tensorflow backend loaded without Attend native ops: `attend setup tensorflow` builds them');
  return 'Attend native ops not built here (attend setup tensorflow)';
}

/** A fixture value: a number or nested lists of them. */
export type Nested = number | Nested[];

const flat = (v: Nested): number[] => (Array.isArray(v) ? v.flatMap(flat) : [v]);
const shapeOf = (v: Nested): number[] => (Array.isArray(v) ? [v.length, ...shapeOf(v[0]!)] : []);

export const t = (v: Nested): tf.Tensor => tf.tensor(v as number[]);

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

/** A `shape` tensor of seeded N(0, scale²) draws (the same values on every backend). */
export function randn(shape: number[], seed: number, scale = 1): tf.Tensor {
  const rng = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, () => rng.normal() * scale), shape);
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
      return tf.div(r, tf.norm(r)); // a unit direction: the step is ε whatever the variable's size
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
