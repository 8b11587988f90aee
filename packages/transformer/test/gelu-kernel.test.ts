// GELU as one SIMD kernel each way (AttendGelu / AttendGeluGrad, ../src/gelu-kernel.ts) against the
// composite of ../src/feed-forward.ts (setGeluKernel(false)): the same values and gradients on cpu
// and wasm, for a size that is not a multiple of 4 and is split over two threads, and on tensorflow as
// Attend's native ops (skipped where they are not built); the kernels really run; no tensor leaks.
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
import { GELU, GELU_GRAD, gelu, setGeluKernel } from '../src/index.js';

afterEach(() => {
  setGeluKernel(true);
  setSimdThreads(2);
});

/** gelu(x) and d/dx Σ w ⊙ gelu(x) for x [257, 513] spanning −6 … 6. */
function run(): Float32Array[] {
  return tf.tidy(() => {
    const n = 257 * 513;
    const x = tf.tensor2d(Float32Array.from({ length: n }, (_, i) => -6 + (12 * i) / (n - 1)), [257, 513]);
    const w = tf.tensor2d(Float32Array.from({ length: n }, (_, i) => Math.cos((40 * i) / n)), [257, 513]);
    const y = gelu(x);
    const dx = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(gelu(v), w)))(x);
    return [y.dataSync() as Float32Array, dx.dataSync() as Float32Array];
  });
}

describe.each(['cpu', 'wasm', 'tensorflow'] as const)('the GELU kernel on %s', (backend) => {
  for (const threads of [1, 2]) {
    it(`equals the composite, values and gradient (${threads} thread${threads > 1 ? 's' : ''})`, async (ctx) => {
      if (await use(backend)) return ctx.skip(skipped);
      setSimdThreads(threads);
      setGeluKernel(false);
      const [wantY, wantDx] = run();
      setGeluKernel(true);
      const names = (await tf.profile(() => { run(); })).kernels.map((k) => k.name);
      expect(names).toContain(GELU);
      expect(names).toContain(GELU_GRAD);
      expect(names).not.toContain('Tanh');
      const [y, dx] = run();
      let worst = 0;
      y!.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - wantY![i]!))));
      dx!.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - wantDx![i]!))));
      // Eigen's vectorised tanh (the native op) is a few float32 ulps off at |y| ≈ 6 (ulp 4.8e-7).
      expect(worst).toBeLessThan(backend === 'tensorflow' ? 5e-6 : 2e-6);
      expect(y![0]).toBeCloseTo(-6 * 0.5 * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (-6 + 0.044715 * -216))), 6); // ≈ 0
      expect(y![y!.length - 1]).toBeCloseTo(6, 5);
    });
  }

  it('leaks no tensors', async (ctx) => {
    if (await use(backend)) return ctx.skip(skipped);
    run();
    const before = tf.memory().numTensors;
    run();
    expect(tf.memory().numTensors).toBe(before);
  });
});
