// sparseSoftmaxCrossEntropy: values against a hand computation and against logSoftmax, its
// hand-written gradient against tfjs autodiff of the composite definition and against central
// finite differences, label smoothing as PyTorch defines it, no leaks — on cpu, and on tensorflow
// (TensorFlow's fused SparseSoftmaxCrossEntropyWithLogits) where tfjs-node is built.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { ShapeError, sparseSoftmaxCrossEntropy } from '../src/index.js';
import { selectBackend } from '../src/node.js';

const quiet = { log: false as const };

/** The definition, differentiated by tfjs: −(1−ε)·log p(y) − ε·mean_v log p(v). */
function composite(z: tf.Tensor2D, y: tf.Tensor1D, eps: number): tf.Tensor1D {
  const logp = tf.logSoftmax(z);
  const nll = tf.neg(tf.sum(tf.mul(tf.oneHot(y, z.shape[1]), logp), 1));
  return tf.add(tf.mul(nll, 1 - eps), tf.mul(tf.neg(tf.mean(logp, 1)), eps)) as tf.Tensor1D;
}

/** Loss values and the gradient of Σ w_i·loss_i (w breaks the symmetry of a plain sum). */
function valueAndGrad(f: (z: tf.Tensor2D) => tf.Tensor1D, z: tf.Tensor2D, w: tf.Tensor1D): { value: number[]; grad: number[] } {
  return tf.tidy(() => {
    const value = Array.from(f(z).dataSync());
    const grad = Array.from(tf.grad((x: tf.Tensor) => tf.sum(tf.mul(f(x as tf.Tensor2D), w)))(z).dataSync());
    return { value, grad };
  });
}

async function on(backend: 'cpu' | 'tensorflow'): Promise<boolean> {
  try {
    await selectBackend({ prefer: backend, ...quiet });
    return true;
  } catch (err) {
    if (backend === 'cpu' || process.env.ATTEND_EXPECT_TENSORFLOW === '1') throw err;
    console.warn(`skipped: tensorflow backend not available here (${(err as Error).message.split('\n').filter((l) => l.startsWith('  - ')).map((l) => l.trim()).join('; ')})`);
    return false;
  }
}

describe.each(['cpu', 'tensorflow'] as const)('sparseSoftmaxCrossEntropy on %s', (backend) => {
  it('is −log softmax(z)_y: a hand-computed value', async (ctx) => {
    if (!(await on(backend))) return ctx.skip();
    // Row 0: z = [1, 2, 3], y = 2: log(e + e² + e³) − 3 = 0.40760596. Row 1: equal logits, y = 0: log 3.
    const z = tf.tensor2d([[1, 2, 3], [5, 5, 5]]);
    const y = tf.tensor1d([2, 0], 'int32');
    const got = Array.from(sparseSoftmaxCrossEntropy(z, y).dataSync());
    expect(got[0]).toBeCloseTo(0.40760596, 5);
    expect(got[1]).toBeCloseTo(Math.log(3), 5);
    tf.dispose([z, y]);
  });

  for (const eps of [0, 0.1]) {
    it(`values and gradient match autodiff of the definition (ε = ${eps}), also for large logits`, async (ctx) => {
      if (!(await on(backend))) return ctx.skip();
      const N = 7;
      const V = 11;
      for (const scale of [1, 30]) {
        const z = tf.mul(tf.randomNormal([N, V], 0, 1, 'float32', 5), scale) as tf.Tensor2D;
        const y = tf.tensor1d([0, 10, 3, 3, 7, 1, 9], 'int32');
        const w = tf.randomUniform([N], 0.5, 1.5, 'float32', 6) as tf.Tensor1D;
        const want = valueAndGrad((x) => composite(x, y, eps), z, w);
        const before = tf.memory().numTensors;
        const got = valueAndGrad((x) => sparseSoftmaxCrossEntropy(x, y, eps), z, w);
        expect(tf.memory().numTensors).toBe(before);
        got.value.forEach((v, i) => expect(v).toBeCloseTo(want.value[i]!, scale === 1 ? 5 : 3));
        got.grad.forEach((g, i) => expect(g).toBeCloseTo(want.grad[i]!, 5));
        tf.dispose([z, y, w]);
      }
    });
  }

  it('gradient matches central finite differences', async (ctx) => {
    if (!(await on(backend))) return ctx.skip();
    const N = 3;
    const V = 5;
    const z0 = Array.from(tf.tidy(() => tf.randomNormal([N, V], 0, 1, 'float32', 9).dataSync()));
    const y = tf.tensor1d([4, 0, 2], 'int32');
    const w = [0.7, 1.3, 1.0];
    const total = (zs: number[]) =>
      tf.tidy(() => {
        const l = Array.from(sparseSoftmaxCrossEntropy(tf.tensor2d(zs, [N, V]), y, 0.1).dataSync());
        return l.reduce((a, v, i) => a + v * w[i]!, 0);
      });
    const z = tf.tensor2d(z0, [N, V]);
    const grad = Array.from(tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(tf.mul(sparseSoftmaxCrossEntropy(x as tf.Tensor2D, y, 0.1), tf.tensor1d(w))))(z).dataSync()));
    const h = 1e-2;
    for (let k = 0; k < N * V; k++) {
      const up = z0.slice();
      const down = z0.slice();
      up[k]! += h;
      down[k]! -= h;
      expect(grad[k]).toBeCloseTo((total(up) - total(down)) / (2 * h), 3);
    }
    tf.dispose([z, y]);
  });
});

describe('sparseSoftmaxCrossEntropy errors', () => {
  it('names the expected shapes and dtype', async () => {
    await on('cpu');
    const z = tf.zeros([4, 3]) as tf.Tensor2D;
    expect(() => sparseSoftmaxCrossEntropy(z, tf.tensor1d([0, 1], 'int32'))).toThrow(ShapeError);
    expect(() => sparseSoftmaxCrossEntropy(z, tf.tensor1d([0, 1], 'int32'))).toThrow('expected targets of shape [4], got [2]');
    expect(() => sparseSoftmaxCrossEntropy(z, tf.tensor1d([0, 1, 2, 0]))).toThrow('expected int32 targets, got float32');
    expect(() => sparseSoftmaxCrossEntropy(tf.zeros([4]) as unknown as tf.Tensor2D, tf.tensor1d([0], 'int32'))).toThrow('expected logits of shape [N, V], got [4]');
    expect(() => sparseSoftmaxCrossEntropy(z, tf.tensor1d([0, 1, 2, 0], 'int32'), 1)).toThrow(/labelSmoothing/);
    tf.disposeVariables();
  });
});
