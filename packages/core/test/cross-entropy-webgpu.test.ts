// sparseSoftmaxCrossEntropy on webgpu (the WGSL kernels of ../src/cross-entropy.ts: one dispatch each
// way) against the tfjs-op path on cpu: per-position losses and the gradient of Σ w_i·loss_i, ε = 0
// and 0.1, V = 11 (not a multiple of 4, fewer than a workgroup's 64 lanes) with rows of ±80 logits
// and one of ~100 (exp(100) overflows float32), V = 203 (each lane strides over several logits) and
// N = 65,537 rows (more workgroups than one grid dimension holds: rows past 65,535 come from the 2-D
// grid). Losses within 1e-6·|cpu's| + 4e-6, gradients within 2e-6: WGSL's exp and log are accurate
// to a few ulps (log to 2⁻²¹ ≈ 4.8e-7 absolute near 1), not correctly rounded, and the row sums run
// in another order (llvmpipe: ≤ 1.9e-6 on losses up to ~160, ≤ 4.8e-7 on gradients); a dropped ε
// term or max shift, or a reduction skipping lanes, misses by 7e-4 or more. The kernels really run
// (not the tfjs ops) and leave no tensors or GPU buffers behind. On a GPU, or with
// ATTEND_WEBGPU_ALLOW_SOFTWARE=1 (set below) on Mesa's llvmpipe; skipped with the reason where
// neither loads.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng, SPARSE_CROSS_ENTROPY, SPARSE_CROSS_ENTROPY_GRAD, sparseSoftmaxCrossEntropy } from '../src/index.js';
import { selectBackend } from '../src/node.js';

process.env.ATTEND_WEBGPU_ALLOW_SOFTWARE ??= '1';

interface Case {
  name: string;
  N: number;
  V: number;
  z: Float32Array;
  y: Int32Array;
  w: Float32Array;
}

/** Seeded logits (scale 3), targets and loss weights; rows 0–2 of the first case carry large ones (±80, ~100). */
function makeCase(name: string, N: number, V: number, seed: number, large = false): Case {
  const rng = new Rng(seed);
  const z = Float32Array.from({ length: N * V }, () => rng.normal() * 3);
  const y = Int32Array.from({ length: N }, (_, i) => (i === N - 1 ? V - 1 : rng.int(V)));
  const w = Float32Array.from({ length: N }, () => 0.5 + rng.next());
  if (large) {
    for (let v = 0; v < V; v++) {
      z[v] = v % 2 === 0 ? 80 : -80; // target at a −80: loss ≈ 160 + log 6
      z[V + v] = v === 4 ? 80 : -80; // target at the only 80: loss ≈ 0
      z[2 * V + v] = 100 - v / 2; // exp(100) overflows float32: only max-shifted sums stay finite
    }
    [y[0], y[1], y[2]] = [1, 4, 7];
  }
  return { name, N, V, z, y, w };
}

const CASES = [makeCase('N = 7, V = 11, rows of ±80', 7, 11, 1, true), makeCase('N = 5, V = 203', 5, 203, 2), makeCase('N = 65,537, V = 3', 65537, 3, 3)];
const SMOOTHING = [0, 0.1];

/** Losses and the gradient of Σ w_i·loss_i, read back asynchronously (webgpu has no sync reads). */
async function run(c: Case, eps: number): Promise<[Float32Array, Float32Array]> {
  const [value, grad] = tf.tidy(() => {
    const z = tf.tensor2d(c.z, [c.N, c.V]);
    const y = tf.tensor1d(c.y, 'int32');
    const w = tf.tensor1d(c.w);
    const value = sparseSoftmaxCrossEntropy(z, y, eps);
    const grad = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(sparseSoftmaxCrossEntropy(x as tf.Tensor2D, y, eps), w)))(z);
    return [value, grad];
  });
  const out = [(await value.data()) as Float32Array, (await grad.data()) as Float32Array] as [Float32Array, Float32Array];
  tf.dispose([value, grad]);
  return out;
}

/** The tfjs-op path on cpu for every case, computed first: the webgpu backend is then activated once. */
const reference = new Map<string, [Float32Array, Float32Array]>();
let skip: string | null = null;
beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
  for (const c of CASES) for (const eps of SMOOTHING) reference.set(`${c.name} ${eps}`, await run(c, eps));
  try {
    await selectBackend({ prefer: 'webgpu', log: false });
  } catch (err) {
    skip = (err as Error).message;
    console.warn(`sparseSoftmaxCrossEntropy on webgpu: skipped — ${skip}`);
  }
}, 120_000);
afterAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
});

describe('sparseSoftmaxCrossEntropy on webgpu (WGSL)', () => {
  for (const c of CASES) {
    for (const eps of SMOOTHING) {
      it(`${c.name}, ε = ${eps}: losses and gradient equal the tfjs ops on cpu`, async (ctx) => {
        if (skip) return ctx.skip(skip);
        expect(tf.getBackend()).toBe('webgpu');
        const [wantValue, wantGrad] = reference.get(`${c.name} ${eps}`)!;
        const names = (await tf.profile(async () => { await run(c, eps); })).kernels.map((k) => k.name);
        expect(names).toContain(SPARSE_CROSS_ENTROPY);
        expect(names).toContain(SPARSE_CROSS_ENTROPY_GRAD);
        expect(names.filter((n) => ['Max', 'Exp', 'GatherNd', 'OneHot'].includes(n)), 'the tfjs-op path').toEqual([]);
        const [tensors, buffers] = [tf.memory().numTensors, tf.engine().backend.numDataIds()];
        const [value, grad] = await run(c, eps);
        expect(tf.memory().numTensors, 'tensors left').toBe(tensors);
        expect(tf.engine().backend.numDataIds(), 'GPU buffers left').toBe(buffers);
        expect([value.length, grad.length]).toEqual([c.N, c.N * c.V]);
        let worst = 0;
        value.forEach((x, i) => (worst = Math.max(worst, Math.abs(x - wantValue[i]!) / (1e-6 * Math.abs(wantValue[i]!) + 4e-6))));
        expect(Number.isNaN(worst) ? Infinity : worst, 'loss: max |error| / (1e-6·|cpu\'s| + 4e-6)').toBeLessThanOrEqual(1);
        worst = 0;
        grad.forEach((x, i) => (worst = Math.max(worst, Math.abs(x - wantGrad[i]!))));
        expect(Number.isNaN(worst) ? Infinity : worst, 'gradient: max |error|').toBeLessThanOrEqual(2e-6);
        if (c.V === 11) {
          // The ±80 rows: the losses the definition gives (a test that cannot pass on a wrong reference).
          // Row 0: lse = 80 + log 6, z_y = −80, mean z = 80/11. Row 1: lse = 80 = z_y, mean z = −720/11.
          expect(value[0]).toBeCloseTo(160 + Math.log(6) - eps * (80 + 80 / 11), 3);
          expect(value[1]).toBeCloseTo(eps * (80 + 720 / 11), 3);
        }
      }, 120_000);
    }
  }
});
