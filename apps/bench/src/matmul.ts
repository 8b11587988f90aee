// `pnpm bench matmul`: GFLOP/s of a square float32 matMul on every backend that loads here,
// with the cpu backend as the in-run baseline. The first thing to run on a new machine: it shows
// which backend is worth using before any model is trained.
import * as tf from '@tensorflow/tfjs-core';
import { onEachBackend } from './backends.js';
import { ratio, table, time } from './timing.js';

export interface MatmulResult {
  backend: string;
  n: number;
  seconds: number;
  gflops: number;
}

export async function benchMatmul(sizes: { default: number; cpu: number } = { default: 1024, cpu: 256 }): Promise<MatmulResult[]> {
  const results: MatmulResult[] = [];
  const skipped = await onEachBackend(undefined, async (c) => {
    const n = c.name === 'cpu' ? sizes.cpu : sizes.default;
    const a = tf.randomNormal([n, n], 0, 1, 'float32', 1);
    const b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
    const t = await time(() => {
      const y = tf.matMul(a, b);
      y.dataSync();
      y.dispose();
    }, c.name === 'cpu' ? 3 : 5, 1);
    a.dispose();
    b.dispose();
    results.push({ backend: c.name, n, seconds: t.median, gflops: (2 * n ** 3) / t.median / 1e9 });
  });
  for (const s of skipped) console.log(`skipped: ${s}`);
  return results;
}

export function formatMatmul(results: readonly MatmulResult[]): string {
  const base = results.find((r) => r.backend === 'cpu')?.gflops;
  return table([
    ['backend', 'size', 'ms', 'GFLOP/s', 'vs cpu'],
    ...results.map((r) => [r.backend, `${r.n}²`, (r.seconds * 1000).toFixed(1), r.gflops.toFixed(2), ratio(r.gflops, base)]),
  ]);
}
