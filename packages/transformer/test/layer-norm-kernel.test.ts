// Layer normalisation as one SIMD kernel each way (AttendLayerNorm / AttendLayerNormGrad,
// ../src/layer-norm-kernel.ts) against the composite of ../src/layer-norm.ts (setLayerNormKernel(false)):
// the same output and gradients w.r.t. x, γ and β — with and without bias, rank 2 and 3, one thread
// and two — on cpu and wasm, and on tensorflow as Attend's native ops (skipped where they are not
// built; there the reference is the FusedBatchNormV3 path); the kernels really run; no tensor leaks.
import * as tf from '@tensorflow/tfjs-core';
import { setSimdThreads } from '@attend/core';
import { selectBackend } from '@attend/core/node';
import { afterEach, describe, expect, it } from 'vitest';
import { activateTensorflowNative } from '@attend/test-utils';

let skipped = '';
/** Activates `backend`; true (and `skipped` says why) where tensorflow or Attend's native ops are not built. */
async function use(backend: 'cpu' | 'wasm' | 'tensorflow'): Promise<boolean> {
  if (backend === 'tensorflow') return (skipped = await activateTensorflowNative()) !== '';
  await selectBackend({ prefer: backend, log: false });
  return false;
}
import { LAYER_NORM, LAYER_NORM_GRAD, LayerNorm, setLayerNormKernel } from '../src/index.js';

afterEach(() => {
  setLayerNormKernel(true);
  setSimdThreads(2);
});

/** LN(x) and the gradients of Σ w ⊙ LN(x) w.r.t. x and every weight, for x of `shape` (last axis 64). */
function run(ln: LayerNorm, shape: number[]): Float32Array[] {
  return tf.tidy(() => {
    const n = shape.reduce((a, b) => a * b, 1);
    const x = tf.tensor(Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 3 + (i % 64) * 0.01), shape);
    const w = tf.tensor(Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.11)), shape);
    const vars = Object.values(ln.variables());
    const f = (xx: tf.Tensor) => tf.sum(tf.mul(ln.apply(xx), w)) as tf.Scalar;
    const { grads } = tf.variableGrads(() => f(x), vars);
    return [ln.apply(x), tf.grad(f)(x), ...vars.map((v) => grads[v.name]!)].map((t) => t.dataSync() as Float32Array);
  });
}

describe.each(['cpu', 'wasm', 'tensorflow'] as const)('the LayerNorm kernel on %s', (backend) => {
  for (const bias of [true, false]) {
    for (const shape of [[300, 64], [3, 70, 64]]) {
      it(`equals the composite (${bias ? 'with' : 'without'} bias, x [${shape.join(', ')}]), 1 and 2 threads`, async (ctx) => {
        if (await use(backend)) return ctx.skip(skipped);
        const ln = new LayerNorm({ dim: 64, bias });
        tf.tidy(() => {
          ln.gamma.assign(tf.add(1, tf.mul(0.1, tf.sin(tf.range(0, 64)))));
          ln.beta?.assign(tf.mul(0.2, tf.cos(tf.range(0, 64))));
        });
        setLayerNormKernel(false);
        const want = run(ln, shape);
        setLayerNormKernel(true);
        for (const threads of [1, 2]) {
          setSimdThreads(threads);
          const names = (await tf.profile(() => { run(ln, shape); })).kernels.map((k) => k.name);
          expect(names).toContain(LAYER_NORM);
          expect(names).toContain(LAYER_NORM_GRAD);
          const got = run(ln, shape);
          expect(got.length).toBe(want.length);
          got.forEach((g, i) => {
            let worst = 0;
            g.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - want[i]![j]!))));
            expect(worst, `output ${i}`).toBeLessThan(2e-4);
          });
        }
        const before = tf.memory().numTensors;
        run(ln, shape);
        expect(tf.memory().numTensors).toBe(before);
        tf.dispose(Object.values(ln.variables()));
      });
    }
  }
});
