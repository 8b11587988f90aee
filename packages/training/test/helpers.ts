// Test fixtures: a tiny 2-layer MLP regression model and a seeded batcher whose whole state is its Rng's.
import * as tf from '@tensorflow/tfjs-core';
import { Rng, type RngState } from '@attend/core';
import type { TrainableModel } from '../src/index.js';

export interface Batch {
  x: tf.Tensor2D;
  y: tf.Tensor2D;
}

export const IN = 4;
export const HIDDEN = 8;

/** y = tanh(x W1 + b1) W2 + b2, mean squared error. */
export class TinyMlp implements TrainableModel<Batch> {
  readonly vars: Record<string, tf.Variable>;

  constructor(seed: number) {
    const rng = new Rng(seed);
    const normal = (n: number, scale: number) => Float32Array.from({ length: n }, () => rng.normal() * scale);
    this.vars = {
      w1: tf.variable(tf.tensor2d(normal(IN * HIDDEN, 0.5), [IN, HIDDEN])),
      b1: tf.variable(tf.zeros([HIDDEN])),
      w2: tf.variable(tf.tensor2d(normal(HIDDEN, 0.5), [HIDDEN, 1])),
      b2: tf.variable(tf.zeros([1])),
    };
  }

  variables(): Record<string, tf.Variable> {
    return this.vars;
  }

  loss(batch: Batch): tf.Scalar {
    return tf.tidy(() => {
      const { w1, b1, w2, b2 } = this.vars as Record<'w1' | 'b1' | 'w2' | 'b2', tf.Variable>;
      const h = tf.tanh(tf.add(tf.matMul(batch.x, w1 as tf.Tensor2D), b1)); // [B, H]
      const yHat = tf.add(tf.matMul(h, w2 as tf.Tensor2D), b2); // [B, 1]
      return tf.mean(tf.square(tf.sub(yHat, batch.y))) as tf.Scalar;
    });
  }

  /** Copies of the weights, for bitwise comparison. */
  weights(): Record<string, Float32Array> {
    return Object.fromEntries(Object.entries(this.vars).map(([k, v]) => [k, new Float32Array(v.dataSync() as Float32Array)]));
  }

  dispose(): void {
    tf.dispose(Object.values(this.vars));
  }
}

/** Random regression batches: x ~ N(0, 1), y = sin(x0) + x1·x2. */
export class Batcher {
  private rng: Rng;
  constructor(seed: number | RngState, private readonly batchSize = 16) {
    this.rng = new Rng(seed);
  }
  next(): Batch {
    const xs = new Float32Array(this.batchSize * IN);
    const ys = new Float32Array(this.batchSize);
    for (let i = 0; i < this.batchSize; i++) {
      for (let j = 0; j < IN; j++) xs[i * IN + j] = this.rng.normal();
      ys[i] = Math.sin(xs[i * IN]!) + xs[i * IN + 1]! * xs[i * IN + 2]!;
    }
    return { x: tf.tensor2d(xs, [this.batchSize, IN]), y: tf.tensor2d(ys, [this.batchSize, 1]) };
  }
  state(): RngState {
    return this.rng.state();
  }
  setState(s: unknown): void {
    this.rng = new Rng(s as RngState);
  }
}

/** Asserts two weight sets are bit-for-bit identical. */
export function bitwiseEqual(a: Record<string, Float32Array>, b: Record<string, Float32Array>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => {
    const x = new Uint32Array(a[k]!.buffer, a[k]!.byteOffset, a[k]!.length);
    const yArr = b[k];
    if (!yArr || yArr.length !== x.length) return false;
    const y = new Uint32Array(yArr.buffer, yArr.byteOffset, yArr.length);
    return x.every((v, i) => v === y[i]);
  });
}
