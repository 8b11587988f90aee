// The WGSL LayerNorm and GELU kernels (AttendLayerNorm / AttendLayerNormGrad, ../src/layer-norm-kernel.ts;
// AttendGelu / AttendGeluGrad, ../src/gelu-kernel.ts) on webgpu against the composites of
// ../src/layer-norm.ts and ../src/feed-forward.ts on cpu (setLayerNormKernel(false), setGeluKernel(false)):
// LayerNorm's output and gradients w.r.t. x, γ and β with and without β, rank 2 and 3, D = 5, 16, 33
// (not multiples of 4 too), rows spread over more than one workgroup; GELU's value and gradient over
// −8 … 8 and at ±20, ±100 (no NaN) — within 1e-4 (relative above 1) for LayerNorm, 1e-5 for GELU —
// and finite where x² overflows float32; the kernels really run (and the composites' ops do not, nor
// do the kernels with setLayerNormKernel / setGeluKernel(false)); no tensors and no GPU buffers are left. On a
// GPU, or with ATTEND_WEBGPU_ALLOW_SOFTWARE=1 (set below) on Mesa's llvmpipe through Dawn's OpenGL
// backend; skipped with the reason where neither loads (e.g. CI without libegl-mesa0/libgl1-mesa-dri).
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@attend/core/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randn } from '@attend/test-utils';
import { GELU, GELU_GRAD, gelu, LAYER_NORM, LAYER_NORM_GRAD, LayerNorm, setGeluKernel, setLayerNormKernel } from '../src/index.js';

process.env.ATTEND_WEBGPU_ALLOW_SOFTWARE ??= '1';

/** The values of every tensor (webgpu in Node has no synchronous reads), each disposed once read. */
async function readAll(ts: tf.Tensor[]): Promise<Float32Array[]> {
  const values: Float32Array[] = [];
  for (const t of ts) {
    values.push((await t.data()) as Float32Array);
    t.dispose();
  }
  return values;
}

const LN_SHAPES: number[][] = [[2, 3, 5], [7, 16], [3, 40, 33]];

/**
 * LN(x) and the gradients of Σ R ⊙ LN(x) w.r.t. x, γ (and β) for x of `shape` (mean 2, spread 3) and
 * γ, β not 1, 0, on the active backend; the layer is made and disposed here.
 */
async function runLayerNorm(shape: number[], bias: boolean): Promise<Float32Array[]> {
  const D = shape[shape.length - 1]!;
  const ln = new LayerNorm({ dim: D, bias });
  const outs = tf.tidy(() => {
    ln.gamma.assign(tf.add(1, randn([D], 11, 0.3)));
    ln.beta?.assign(randn([D], 12, 0.5));
    const x = tf.variable(tf.add(2, randn(shape, 13, 3)));
    const R = randn(shape, 14, 1);
    const vars = [x, ...Object.values(ln.variables())];
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(ln.apply(x), R)) as tf.Scalar, vars);
    const out = [ln.apply(x), ...vars.map((v) => grads[v.name]!)];
    value.dispose();
    x.dispose();
    return out;
  });
  const values = await readAll(outs);
  ln.dispose();
  return values;
}

/** x [3, 41, 77] (9471: not a multiple of 4) over −8 … 8, with ±20 and ±100 at its start. */
function geluInput(): tf.Tensor {
  const n = 3 * 41 * 77;
  const v = Float32Array.from({ length: n }, (_, i) => -8 + (16 * i) / (n - 1));
  v.set([20, -20, 100, -100]);
  return tf.tensor(v, [3, 41, 77]);
}

/** gelu(x) and d/dx Σ w ⊙ gelu(x). */
async function runGelu(): Promise<Float32Array[]> {
  const outs = tf.tidy(() => {
    const x = geluInput();
    const w = tf.reshape(tf.cos(tf.mul(tf.range(0, x.size), 0.01)), x.shape);
    return [gelu(x), tf.grad((v: tf.Tensor) => tf.sum(tf.mul(gelu(v), w)))(x)];
  });
  return readAll(outs);
}

/** Largest |got − want| / max(1, |want|); Infinity for a NaN or a length mismatch. */
function worstError(got: Float32Array, want: Float32Array): number {
  if (got.length !== want.length) return Infinity;
  let worst = 0;
  got.forEach((g, i) => (worst = Math.max(worst, Math.abs(g - want[i]!) / Math.max(1, Math.abs(want[i]!)))));
  return Number.isNaN(worst) ? Infinity : worst;
}

/** Runs `f` twice: once under tf.profile (the kernel names), then checking that it leaves nothing behind. */
async function profiled(f: () => Promise<Float32Array[]>): Promise<{ names: string[]; got: Float32Array[] }> {
  const names = (await tf.profile(async () => { await f(); })).kernels.map((k) => k.name);
  const [tensors, buffers] = [tf.memory().numTensors, tf.engine().backend.numDataIds()];
  const got = await f();
  expect(tf.memory().numTensors, 'tensors left').toBe(tensors);
  expect(tf.engine().backend.numDataIds(), 'GPU buffers left (the kernels\' own too)').toBe(buffers);
  return { names, got };
}

/** The composites on cpu for every case, computed first: the webgpu backend is then activated once. */
const reference = new Map<string, Float32Array[]>();
const lnKey = (shape: number[], bias: boolean) => `ln ${shape.join(',')} ${bias}`;

let skip: string | null = null;
beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
  setLayerNormKernel(false);
  setGeluKernel(false);
  for (const shape of LN_SHAPES) for (const bias of [true, false]) reference.set(lnKey(shape, bias), await runLayerNorm(shape, bias));
  reference.set('gelu', await runGelu());
  setLayerNormKernel(true);
  setGeluKernel(true);
  try {
    await selectBackend({ prefer: 'webgpu', log: false });
  } catch (err) {
    skip = (err as Error).message;
    console.warn(`LayerNorm and GELU kernels on webgpu: skipped — ${skip}`);
  }
}, 120_000);
afterAll(async () => {
  setLayerNormKernel(true);
  setGeluKernel(true);
  await selectBackend({ prefer: 'cpu', log: false });
});

describe('the LayerNorm kernel on webgpu (WGSL)', () => {
  for (const shape of LN_SHAPES) {
    it(`x [${shape.join(', ')}]: output and gradients w.r.t. x, γ, β equal the composite on cpu, with and without β`, async (ctx) => {
      if (skip) return ctx.skip(skip);
      expect(tf.getBackend()).toBe('webgpu');
      for (const bias of [true, false]) {
        const want = reference.get(lnKey(shape, bias))!;
        const { names, got } = await profiled(() => runLayerNorm(shape, bias));
        expect(names).toContain(LAYER_NORM);
        expect(names).toContain(LAYER_NORM_GRAD);
        expect(names).not.toContain('Rsqrt');
        expect(got.length).toBe(bias ? 4 : 3);
        got.forEach((g, i) => expect(worstError(g, want[i]!), `output ${i}${bias ? '' : ', no β'}`).toBeLessThanOrEqual(1e-4));
      }
    }, 120_000);
  }

  it('setLayerNormKernel(false) keeps the composite on webgpu', async (ctx) => {
    if (skip) return ctx.skip(skip);
    setLayerNormKernel(false);
    try {
      const names = (await tf.profile(async () => { await runLayerNorm([7, 16], true); })).kernels.map((k) => k.name);
      expect(names).not.toContain(LAYER_NORM);
      expect(names).toContain('Rsqrt');
    } finally {
      setLayerNormKernel(true);
    }
  }, 120_000);
});

describe('the GELU kernel on webgpu (WGSL)', () => {
  it('value and gradient equal the composite on cpu, also at ±20 and ±100 (no NaN)', async (ctx) => {
    if (skip) return ctx.skip(skip);
    expect(tf.getBackend()).toBe('webgpu');
    const want = reference.get('gelu')!;
    const { names, got } = await profiled(runGelu);
    expect(names).toContain(GELU);
    expect(names).toContain(GELU_GRAD);
    expect(names).not.toContain('Sigmoid');
    const [y, dx] = got as [Float32Array, Float32Array];
    expect(worstError(y, want[0]!), 'gelu(x)').toBeLessThanOrEqual(1e-5);
    expect(worstError(dx, want[1]!), 'd gelu / dx').toBeLessThanOrEqual(1e-5);
    // x = 20, −20, 100, −100: gelu ≈ x or 0, derivative ≈ w or 0 (w = cos(0.01 i)).
    expect([...y.subarray(0, 4)]).toEqual([20, -0, 100, -0].map((v) => expect.closeTo(v, 5)));
    expect([...dx.subarray(0, 4)].map((v, i) => v / Math.cos(0.01 * i))).toEqual([1, 0, 1, 0].map((v) => expect.closeTo(v, 5)));
  }, 120_000);

  it('is finite where x² overflows float32 (±1e20: the composite\'s gradient is NaN there)', async (ctx) => {
    if (skip) return ctx.skip(skip);
    const [y, dx] = await readAll(tf.tidy(() => {
      const x = tf.tensor1d([1e20, -1e20, 3e38, -3e38]);
      return [gelu(x), tf.grad((v: tf.Tensor) => tf.sum(gelu(v)))(x)];
    }));
    expect([y![0]! / 1e20, y![1], y![2]! / 3e38, y![3]]).toEqual([1, 0, 1, 0].map((v) => expect.closeTo(v, 6)));
    expect([...dx!]).toEqual([1, 0, 1, 0]);
  }, 120_000);

  it('setGeluKernel(false) keeps the composite on webgpu', async (ctx) => {
    if (skip) return ctx.skip(skip);
    setGeluKernel(false);
    try {
      const names = (await tf.profile(async () => { await runGelu(); })).kernels.map((k) => k.name);
      expect(names).not.toContain(GELU);
      expect(names).toContain('Sigmoid');
    } finally {
      setGeluKernel(true);
    }
  }, 120_000);
});
