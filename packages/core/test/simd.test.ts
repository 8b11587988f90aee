// The WebAssembly SIMD module (../assembly, built into ../src/wasm): it loads here, the committed
// bytes are what the committed source builds to, and the products it runs for tfjs's BatchMatMul on
// the wasm backend equal the cpu backend's — every transpose combination, edges that are not
// multiples of the 4 × 8 tile, batches (broadcast too), one thread and several — with the SIMD path
// really taken, and no tensor leaks.
import * as tf from '@tensorflow/tfjs-core';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Rng, setSimdThreads, simdKernels, simdStatus } from '../src/index.js';
import { selectBackend } from '../src/node.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const quiet = { log: false as const };

afterEach(() => {
  vi.restoreAllMocks();
  setSimdThreads(2);
});

function randn(shape: number[], seed: number): tf.Tensor {
  const rng = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, () => rng.normal()), shape);
}

/** The same products on cpu and wasm, as plain arrays. */
async function both(f: () => tf.Tensor[]): Promise<{ want: Float32Array[]; got: Float32Array[] }> {
  await selectBackend({ prefer: 'cpu', ...quiet });
  const want = tf.tidy(f).map((t) => { const v = t.dataSync() as Float32Array; t.dispose(); return v; });
  await selectBackend({ prefer: 'wasm', ...quiet });
  const got = tf.tidy(f).map((t) => { const v = t.dataSync() as Float32Array; t.dispose(); return v; });
  return { want, got };
}

function expectClose(got: Float32Array[], want: Float32Array[], tol: number): void {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => {
    expect(g.length).toBe(want[i]!.length);
    let worst = 0;
    g.forEach((x, j) => (worst = Math.max(worst, Math.abs(x - want[i]![j]!))));
    expect(worst).toBeLessThan(tol);
  });
}

// Sizes above SIMD_MATMUL_MIN_MACS (2^18 multiply–adds per call, a batch's products together) so that
// the SIMD GEMM takes them; M, K, N deliberately not multiples of 4 or 8.
const products: Record<string, () => tf.Tensor[]> = {
  'rank 2, every transpose combination': () => {
    const a = randn([67, 129], 1);
    const b = randn([129, 45], 2);
    const aT = tf.transpose(a);
    const bT = tf.transpose(b);
    return [tf.matMul(a, b), tf.matMul(aT, b, true, false), tf.matMul(a, bT, false, true), tf.matMul(aT, bT, true, true)];
  },
  'rank 3 batches, and a rank-2 operand broadcast over the batch': () => {
    const a = randn([3, 70, 64], 3);
    const b = randn([3, 64, 72], 4);
    const w = randn([64, 72], 5);
    return [tf.matMul(a, b), tf.matMul(a, w), tf.matMul(tf.transpose(w), tf.transpose(a, [0, 2, 1]), false, false)];
  },
  'a batch of 6 (its items split over the threads), every transpose combination': () => {
    const a = randn([2, 3, 67, 96], 11);
    const b = randn([2, 3, 96, 45], 12);
    const aT = tf.transpose(a, [0, 1, 3, 2]);
    const bT = tf.transpose(b, [0, 1, 3, 2]);
    return [tf.matMul(a, b), tf.matMul(aT, b, true, false), tf.matMul(a, bT, false, true), tf.matMul(aT, bT, true, true)];
  },
  'a batch of 48 small products (attention\'s heads: below the threshold one by one, above it together)': () => {
    const q = randn([12, 4, 33, 20], 13);
    const k = randn([12, 4, 33, 20], 14);
    const w = randn([12, 4, 33, 33], 15);
    return [tf.matMul(q, k, false, true), tf.matMul(w, k), tf.matMul(w, q, true, false)];
  },
};

describe('the SIMD module', () => {
  it('loads in Node with worker threads', () => {
    const status = simdStatus();
    expect(status.available).toBe(true);
    expect(status.threads).toBeGreaterThanOrEqual(1);
  });

  it('the committed .wasm files (and their base64) are what the committed AssemblyScript builds to, baseline and relaxed SIMD', () => {
    const out = mkdtempSync(join(tmpdir(), 'attend-simd-'));
    try {
      execFileSync(process.execPath, [join(root, 'scripts', 'build-wasm.mjs'), '--out', out], { stdio: 'pipe' });
      for (const file of ['attend-simd', 'attend-simd-relaxed']) {
        expect(readFileSync(join(out, `${file}.wasm`)).equals(readFileSync(join(root, 'src', 'wasm', `${file}.wasm`))), file).toBe(true);
        expect(readFileSync(join(out, `${file}-wasm.ts`), 'utf8'), file).toBe(readFileSync(join(root, 'src', 'wasm', `${file}-wasm.ts`), 'utf8'));
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 60_000);

  it('takes its thread count from ATTEND_SIMD_THREADS, and says what is wrong with a bad one', () => {
    const status = (value: string) => {
      const code = `const m = await import(${JSON.stringify(pathToFileURL(join(root, 'src', 'index.ts')).href)}); console.log(JSON.stringify(m.simdStatus()));`;
      const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: join(root, '..', '..'), env: { ...process.env, ATTEND_SIMD_THREADS: value }, encoding: 'utf8' });
      return JSON.parse(out.trim().split('\n').pop()!) as { available: boolean; threads: number; reason?: string };
    };
    expect(status('3')).toMatchObject({ available: true, threads: 3 });
    expect(status('zero')).toEqual({ available: false, threads: 0, reason: 'ATTEND_SIMD_THREADS: expected an integer from 1 to 64, got "zero"' });
  }, 60_000);

  it('runs the relaxed-SIMD build (fused multiply–adds) where it validates, the baseline with ATTEND_SIMD_RELAXED=0, the same products within rounding; a bad value is named', () => {
    const run = (value: string) => {
      const code = [
        `const core = await import(${JSON.stringify(pathToFileURL(join(root, 'src', 'index.ts')).href)});`,
        `const node = await import(${JSON.stringify(pathToFileURL(join(root, 'src', 'node.ts')).href)});`,
        `const tf = await import('@tensorflow/tfjs-core');`,
        `await node.selectBackend({ prefer: 'wasm', log: false });`,
        `const a = tf.randomNormal([67, 129], 0, 1, 'float32', 1), b = tf.randomNormal([129, 45], 0, 1, 'float32', 2);`,
        `console.log(JSON.stringify({ status: core.simdStatus(), c: Array.from(tf.matMul(a, b).dataSync()) }));`,
      ].join(' ');
      const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: root, env: { ...process.env, ATTEND_SIMD_RELAXED: value }, encoding: 'utf8' });
      return JSON.parse(out.trim().split('\n').pop()!) as { status: { available: boolean; relaxed?: boolean; reason?: string }; c: number[] };
    };
    const baseline = run('0');
    const relaxed = run('1');
    expect(baseline.status).toMatchObject({ available: true, relaxed: false });
    expect(relaxed.status.available).toBe(true);
    // Node 22+ validates relaxed SIMD as is; Node 20 after --experimental-wasm-relaxed-simd, which the module sets.
    expect(relaxed.status.relaxed).toBe(true);
    expect(Math.max(...relaxed.c.map((x, i) => Math.abs(x - baseline.c[i]!)))).toBeLessThan(1e-4);
    expect(Math.max(...relaxed.c.map((x, i) => Math.abs(x - baseline.c[i]!)))).toBeGreaterThan(0); // FMA rounds differently: the other build really ran
    const bad = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `const m = await import(${JSON.stringify(pathToFileURL(join(root, 'src', 'index.ts')).href)}); console.log(JSON.stringify(m.simdStatus()));`], { cwd: root, env: { ...process.env, ATTEND_SIMD_RELAXED: 'yes' }, encoding: 'utf8' });
    expect(JSON.parse(bad.trim().split('\n').pop()!)).toEqual({ available: false, threads: 0, reason: 'ATTEND_SIMD_RELAXED: expected 0 or 1, got "yes"' });
  }, 60_000);

  it('says how much memory a call needs, and what to do, when the WebAssembly memory cannot grow that far', () => {
    const alloc = simdKernels()!.layout();
    expect(() => alloc(2 ** 31)).toThrow(/needs 8193 MiB of WebAssembly memory, more than it can grow to here .*use a smaller batch or sequence length/);
    expect(simdKernels()!.layout()(16)).toBe(65536); // usable afterwards
  });

  it('refuses a thread count that is not a positive integer, saying what it got', () => {
    expect(() => setSimdThreads(0)).toThrow(/expected an integer from 1 to 64, got 0/);
    expect(() => setSimdThreads(1.5)).toThrow(/got 1.5/);
  });
});

describe('BatchMatMul on wasm through the SIMD GEMM equals the cpu backend', () => {
  for (const threads of [1, 2, 3]) {
    for (const [name, f] of Object.entries(products)) {
      it(`${name}, ${threads} thread${threads > 1 ? 's' : ''}`, async () => {
        setSimdThreads(threads);
        const run = vi.spyOn(simdKernels()!, 'run');
        const { want, got } = await both(f);
        expect(run.mock.calls.filter(([job]) => job === (name.startsWith('a batch') ? 'gemmBatch' : 'gemm')).length).toBeGreaterThan(0); // the SIMD path ran
        if (threads > 1) expect(Math.max(...run.mock.calls.map(([, parts]) => parts.length))).toBeGreaterThan(1);
        expectClose(got, want, 1e-4);
      });
    }
  }

  it('small products, and products with few rows (a step at batch 1), stay on the original kernel', async () => {
    const run = vi.spyOn(simdKernels()!, 'run');
    const { want, got } = await both(() => [tf.matMul(randn([5, 7], 6), randn([7, 3], 7)), tf.matMul(randn([1, 512], 8), randn([512, 2048], 9))]);
    expect(run).not.toHaveBeenCalled();
    expectClose(got, want, 1e-4);
  });

  it('leaks no tensors', async () => {
    await selectBackend({ prefer: 'wasm', ...quiet });
    const f = products['rank 3 batches, and a rank-2 operand broadcast over the batch']!;
    tf.tidy(f).forEach((t) => t.dispose());
    const before = tf.memory();
    for (let i = 0; i < 2; i++) tf.tidy(f).forEach((t) => t.dispose());
    expect(tf.memory().numTensors).toBe(before.numTensors);
    expect(tf.memory().numBytes).toBe(before.numBytes);
  });
});
