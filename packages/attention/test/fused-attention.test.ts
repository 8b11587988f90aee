// The fused attention kernel against the composite path (scaledDotProductAttention on cpu, the
// reference): context and dq, dk, dv for no mask, causal, padding, both; Tq ≠ Tk; several heads;
// fully masked rows; the lse output and its gradient; the kernels without a mask input; the webgpu
// kernels' tiles (lengths that are not multiples of the blocks or tiles, several of each, d = 64,
// smaller tiles and rows read from global memory under a lowered tile budget, a 2-D dispatch grid);
// the fallback switch; leak checks (tensors and backend buffers). Per backend:
// cpu (1e-5), wasm (1e-5), tensorflow (1e-5: Attend's native ops, where `attend setup tensorflow`
// built them), webgpu (1e-4) — webgpu through Dawn, on a GPU or, with
// ATTEND_WEBGPU_ALLOW_SOFTWARE=1 (set below), on Mesa's llvmpipe via Dawn's OpenGL backend; skipped
// with the reason when neither loads (CI without a GPU or without libegl-mesa0/libgl1-mesa-dri).
import * as tf from '@tensorflow/tfjs-core';
import { activateTensorflowNative } from '@attend/test-utils';
import { selectBackend } from '@attend/core/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FUSED_ATTENTION,
  FUSED_ATTENTION_GRAD,
  fusedAttention,
  fusedAttentionAvailable,
  fusedAttentionKernel,
  registerFusedAttention,
  scaledDotProductAttention,
  setFusedAttentionMode,
  type FusedAttentionMode,
} from '../src/index.js';
import { setWebgpuTileBudget } from '../src/fused-attention.js';

process.env.ATTEND_WEBGPU_ALLOW_SOFTWARE ??= '1';

interface Case {
  name: string;
  B: number;
  H: number;
  Tq: number;
  Tk: number;
  D: number;
  DV: number;
  causal: boolean;
  /** Real keys per batch row (padding mask), or none. */
  lengths?: number[];
  /** Keys masked at the START of each batch row (so causal rows before them are fully masked). */
  leadingPad?: number[];
}

const CASES: Case[] = [
  { name: 'none', B: 2, H: 3, Tq: 5, Tk: 7, D: 4, DV: 3, causal: false },
  { name: 'causal', B: 2, H: 2, Tq: 6, Tk: 6, D: 8, DV: 8, causal: true },
  { name: 'causal, Tq > Tk', B: 1, H: 2, Tq: 7, Tk: 4, D: 4, DV: 5, causal: true },
  { name: 'padding', B: 3, H: 2, Tq: 4, Tk: 6, D: 4, DV: 4, causal: false, lengths: [6, 3, 1] },
  { name: 'padding, an empty row (fully masked)', B: 2, H: 2, Tq: 3, Tk: 5, D: 4, DV: 2, causal: false, lengths: [5, 0] },
  { name: 'causal + padding', B: 2, H: 4, Tq: 6, Tk: 6, D: 4, DV: 4, causal: true, lengths: [6, 4] },
  { name: 'causal + leading padding (fully masked first rows)', B: 2, H: 2, Tq: 5, Tk: 5, D: 4, DV: 3, causal: true, leadingPad: [0, 2] },
  { name: 'one head, d = 1, Tq = 1', B: 2, H: 1, Tq: 1, Tk: 3, D: 1, DV: 1, causal: false, lengths: [3, 2] },
  // The webgpu kernels' tiles (see fused-attention.ts): blocks of up to 64 rows, tiles of up to 32 keys
  // or queries (16 at d = 64). Lengths that are not multiples of either, several tiles, several blocks.
  { name: 'tiles: Tq 37, Tk 70, causal + padding + leading padding', B: 2, H: 2, Tq: 37, Tk: 70, D: 8, DV: 5, causal: true, lengths: [70, 50], leadingPad: [0, 3] },
  { name: 'tiles: Tq 70, Tk 37, causal + padding + leading padding', B: 2, H: 2, Tq: 70, Tk: 37, D: 5, DV: 8, causal: true, lengths: [30, 37], leadingPad: [2, 0] },
  { name: 'tiles: Tq 70, Tk 37, padding, an empty row', B: 2, H: 1, Tq: 70, Tk: 37, D: 6, DV: 3, causal: false, lengths: [33, 0] },
  { name: 'tiles: d = 64 (the GPT), T 150, causal + padding', B: 2, H: 2, Tq: 150, Tk: 150, D: 64, DV: 64, causal: true, lengths: [150, 101] },
  { name: 'tiles: d = 64, dv = 48, Tq 100, Tk 150, no mask', B: 1, H: 3, Tq: 100, Tk: 150, D: 64, DV: 48, causal: false },
  { name: '65,538 workgroups (a 2-D dispatch grid)', B: 32769, H: 2, Tq: 1, Tk: 2, D: 2, DV: 1, causal: false },
];

/** Seeded uniform(−1, 1) values (a tiny LCG: the same numbers on every backend). */
function values(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return ((s / 2 ** 32) * 2 - 1) * scale;
  });
}

interface Inputs {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  r: Float32Array;
  mask?: Float32Array;
}

function inputsOf(c: Case): Inputs {
  const { B, H, Tq, Tk, D, DV } = c;
  const out: Inputs = {
    q: values(B * H * Tq * D, 1, 2),
    k: values(B * H * Tk * D, 2, 2),
    v: values(B * H * Tk * DV, 3),
    r: values(B * H * Tq * DV, 4),
  };
  if (c.lengths || c.leadingPad) {
    const m = new Float32Array(B * Tk);
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < Tk; j++) m[b * Tk + j] = (c.lengths ? j < c.lengths[b]! : true) && (c.leadingPad ? j >= c.leadingPad[b]! : true) ? 1 : 0;
    }
    out.mask = m;
  }
  return out;
}

interface Result {
  context: Float32Array;
  dq: Float32Array;
  dk: Float32Array;
  dv: Float32Array;
}

/** The values of `t` (webgpu in Node has no synchronous reads), then disposes it. */
async function read(t: tf.Tensor): Promise<Float32Array> {
  const out = (await t.data()) as Float32Array;
  t.dispose();
  return out;
}

/** Context and the gradients of sum(context ∘ r) on the active backend, by `attend`. */
async function run(c: Case, x: Inputs, attend: (q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask: tf.Tensor2D | undefined) => tf.Tensor4D): Promise<Result> {
  const { B, H, Tq, Tk, D, DV } = c;
  const [context, dq, dk, dv] = tf.tidy(() => {
    const q = tf.tensor4d(x.q, [B, H, Tq, D]);
    const k = tf.tensor4d(x.k, [B, H, Tk, D]);
    const v = tf.tensor4d(x.v, [B, H, Tk, DV]);
    const r = tf.tensor4d(x.r, [B, H, Tq, DV]);
    const mask = x.mask ? tf.tensor2d(x.mask, [B, Tk]) : undefined;
    const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, cc: tf.Tensor) => tf.sum(tf.mul(attend(a as tf.Tensor4D, b as tf.Tensor4D, cc as tf.Tensor4D, mask), r)))([q, k, v]);
    return [attend(q, k, v, mask), ...grads];
  });
  return { context: await read(context!), dq: await read(dq!), dk: await read(dk!), dv: await read(dv!) };
}

const composite = (c: Case) => (q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask: tf.Tensor2D | undefined) => {
  const { context, weights } = scaledDotProductAttention(q, k, v, { causal: c.causal, mask });
  weights.dispose();
  return context;
};

const fused = (c: Case) => (q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask: tf.Tensor2D | undefined) => {
  const { context, lse } = fusedAttentionKernel(q, k, v, { causal: c.causal, mask });
  lse.dispose();
  return context;
};

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return Number.isNaN(worst) ? Infinity : worst;
}

/** The reference: the composite path on cpu. */
const reference = new Map<string, Result>();

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
  for (const c of CASES) reference.set(c.name, await run(c, inputsOf(c), composite(c)));
});

/** Tries to activate `name`; returns why not, or null. On tensorflow the kernels are Attend's native ops. */
async function activate(name: 'cpu' | 'wasm' | 'webgpu' | 'tensorflow'): Promise<string | null> {
  if (name === 'tensorflow') return (await activateTensorflowNative()) || null;
  try {
    await selectBackend({ prefer: name, log: false });
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

// tensorflow before webgpu: loading libtensorflow after Dawn has opened Mesa's llvmpipe (the software
// adapter of these tests) segfaults in libtensorflow_framework's LLVM static initialisers (gdb: two
// LLVMs in one process) — with or without Attend's native ops. Loaded the other way round both run.
const BACKENDS: ['cpu' | 'wasm' | 'webgpu' | 'tensorflow', number][] = [
  ['cpu', 1e-5],
  ['wasm', 1e-5],
  ['tensorflow', 1e-5],
  ['webgpu', 1e-4],
];

describe.each(BACKENDS)('fused attention on %s', (backend, tol) => {
  let skip: string | null = null;
  let prevMode: FusedAttentionMode = 'auto';
  beforeAll(async () => {
    skip = await activate(backend);
    if (skip) console.warn(`fused attention on ${backend}: skipped — ${skip}`);
    prevMode = setFusedAttentionMode('fused'); // 'auto' leaves wasm on the composite path
  }, 120_000);
  afterAll(async () => {
    setFusedAttentionMode(prevMode);
    await selectBackend({ prefer: 'cpu', log: false });
  });

  it.for(CASES)('$name: context, dq, dk, dv equal the composite path', async (c, ctx) => {
    if (skip) return ctx.skip(skip);
    expect(tf.getBackend()).toBe(backend);
    expect(fusedAttentionAvailable()).toBe(true);
    const got = await run(c, inputsOf(c), fused(c));
    const ref = reference.get(c.name)!;
    for (const key of ['context', 'dq', 'dk', 'dv'] as const) {
      expect(maxDiff(got[key], ref[key]), `${c.name}: ${key}`).toBeLessThanOrEqual(tol);
    }
  });

  it('fully masked rows give context 0, lse −∞ and gradient 0', async (ctx) => {
    if (skip) return ctx.skip(skip);
    const q = tf.tensor4d(values(2 * 3 * 4, 5), [1, 2, 3, 4]);
    const k = tf.tensor4d(values(2 * 3 * 4, 6), [1, 2, 3, 4]);
    const v = tf.tensor4d(values(2 * 3 * 4, 7), [1, 2, 3, 4]);
    const mask = tf.tensor2d([[0, 0, 0]]);
    const { context, lse } = fusedAttentionKernel(q, k, v, { mask });
    expect(Array.from(await read(context))).toEqual(new Array(24).fill(0));
    expect(Array.from(await read(lse))).toEqual(new Array(6).fill(-Infinity));
    const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, cc: tf.Tensor) => tf.sum(fusedAttention(a as tf.Tensor4D, b as tf.Tensor4D, cc as tf.Tensor4D, { mask })))([q, k, v]);
    for (const g of grads) expect(Array.from(await read(g)).every((x) => x === 0)).toBe(true);
    tf.dispose([q, k, v, mask]);
  });

  it('lse is the row log-sum-exp of the masked scores, with its gradient', async (ctx) => {
    if (skip) return ctx.skip(skip);
    const [B, H, Tq, Tk, D] = [2, 2, 4, 5, 3];
    const [mineLse, refLse, gq, gk, rq, rk] = tf.tidy(() => {
      const q = tf.tensor4d(values(B * H * Tq * D, 8), [B, H, Tq, D]);
      const k = tf.tensor4d(values(B * H * Tk * D, 9), [B, H, Tk, D]);
      const v = tf.tensor4d(values(B * H * Tk * D, 10), [B, H, Tk, D]);
      const mask = tf.tensor2d([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]);
      const r = tf.tensor3d(values(B * H * Tq, 11), [B, H, Tq]);
      const scale = 0.7;
      const composite = (a: tf.Tensor, b: tf.Tensor) => {
        const s = tf.mul(tf.matMul(a, b, false, true), scale); // [B, H, Tq, Tk]
        const keep = tf.mul(tf.reshape(mask, [B, 1, 1, Tk]), tf.linalg.bandPart(tf.ones([Tq, Tk]), -1, 0));
        return tf.logSumExp(tf.where(tf.greater(tf.broadcastTo(keep, s.shape), 0.5), s, tf.fill(s.shape, -1e9)), -1);
      };
      const mine = (a: tf.Tensor, b: tf.Tensor) => fusedAttentionKernel(a as tf.Tensor4D, b as tf.Tensor4D, v, { mask, causal: true, scale }).lse;
      const loss = (f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor) => (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a, b), r));
      return [mine(q, k), composite(q, k), ...tf.grads(loss(mine))([q, k]), ...tf.grads(loss(composite))([q, k])];
    });
    expect(maxDiff(await read(mineLse!), await read(refLse!)), 'lse').toBeLessThanOrEqual(tol);
    expect(maxDiff(await read(gq!), await read(rq!)), 'dq').toBeLessThanOrEqual(tol);
    expect(maxDiff(await read(gk!), await read(rk!)), 'dk').toBeLessThanOrEqual(tol);
  });

  it('the kernels take no mask input as all keys real', async (ctx) => {
    if (skip) return ctx.skip(skip);
    const c = CASES.find((x) => x.name.startsWith('tiles: Tq 37'))!;
    const x = inputsOf(c);
    const [without, withOnes] = tf.tidy(() => {
      const q = tf.tensor4d(x.q, [c.B, c.H, c.Tq, c.D]);
      const k = tf.tensor4d(x.k, [c.B, c.H, c.Tk, c.D]);
      const v = tf.tensor4d(x.v, [c.B, c.H, c.Tk, c.DV]);
      const dContext = tf.tensor4d(x.r, [c.B, c.H, c.Tq, c.DV]);
      const dLse = tf.tensor3d(values(c.B * c.H * c.Tq, 15), [c.B, c.H, c.Tq]);
      const attrs = { causal: true, scale: 0.3 };
      const both = (mask?: tf.Tensor) => {
        const inputs: tf.NamedTensorMap = mask ? { q, k, v, mask } : { q, k, v };
        const [context, lse] = tf.engine().runKernel(FUSED_ATTENTION, inputs, attrs) as tf.Tensor[];
        const grads = tf.engine().runKernel(FUSED_ATTENTION_GRAD, { ...inputs, context: context!, lse: lse!, dContext, dLse }, attrs) as tf.Tensor[];
        return tf.concat([context!, lse!, ...grads].map((t) => tf.reshape(t, [-1])));
      };
      return [both(), both(tf.ones([c.B, c.Tk]))];
    });
    expect(maxDiff(await read(without!), await read(withOnes!))).toBe(0);
  });

  it('does not leak tensors (forward, and forward + backward)', (ctx) => {
    if (skip) return ctx.skip(skip);
    const c = CASES[5]!;
    const x = inputsOf(c);
    const q = tf.tensor4d(x.q, [c.B, c.H, c.Tq, c.D]);
    const k = tf.tensor4d(x.k, [c.B, c.H, c.Tk, c.D]);
    const v = tf.tensor4d(x.v, [c.B, c.H, c.Tk, c.DV]);
    const mask = tf.tensor2d(x.mask!, [c.B, c.Tk]);
    const step = () => {
      fusedAttention(q, k, v, { causal: true, mask }).dispose();
      const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor, cc: tf.Tensor) =>
        tf.sum(fusedAttention(a as tf.Tensor4D, b as tf.Tensor4D, cc as tf.Tensor4D, { causal: true, mask })),
      )([q, k, v]);
      tf.dispose([value, ...grads]);
      const { context, lse } = fusedAttentionKernel(q, k, v);
      tf.dispose([context, lse]);
    };
    step();
    // Gradients for some inputs only (tfjs skips the others' gradient functions).
    const partial = () => {
      const [dv] = tf.grads((cc: tf.Tensor) => tf.sum(fusedAttention(q, k, cc as tf.Tensor4D, { causal: true, mask })))([v]);
      dv!.dispose();
    };
    partial();
    const before = tf.memory().numTensors;
    const buffers = tf.engine().backend.numDataIds(); // the kernels' packed outputs and stats included
    for (let i = 0; i < 3; i++) partial();
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.engine().backend.numDataIds()).toBe(buffers);
    tf.dispose([q, k, v, mask]);
  });

  it.for([1024, 256])('with %i bytes of workgroup memory for the tiles (tiles of 16 or 4 rows at d = 8, of 1 row at d = 64 with 1,024; with 256, d = 64 rows read from global memory) the tiled cases still match', async (bytes, ctx) => {
    if (skip) return ctx.skip(skip);
    if (backend !== 'webgpu') return ctx.skip('the tile budget is the webgpu kernels\'');
    const prev = setWebgpuTileBudget(bytes);
    try {
      for (const c of CASES.filter((x) => x.name.startsWith('tiles: Tq 37') || x.name.startsWith('tiles: d = 64 (the GPT)'))) {
        const got = await run(c, inputsOf(c), fused(c));
        const ref = reference.get(c.name)!;
        for (const key of ['context', 'dq', 'dk', 'dv'] as const) {
          expect(maxDiff(got[key], ref[key]), `${c.name}: ${key}`).toBeLessThanOrEqual(tol);
        }
      }
    } finally {
      setWebgpuTileBudget(prev);
    }
  });
});

describe('fusedAttention: dispatch and fallback', () => {
  beforeAll(async () => {
    await selectBackend({ prefer: 'cpu', log: false });
  });

  it("registers the kernels by name; 'auto' uses them on cpu (and webgpu), not on wasm", async () => {
    expect(fusedAttentionAvailable()).toBe(true);
    for (const b of ['cpu', 'wasm', 'webgpu']) {
      expect(tf.getKernel(FUSED_ATTENTION, b), b).toBeDefined();
      expect(tf.getKernel(FUSED_ATTENTION_GRAD, b), b).toBeDefined();
    }
    if ((await activate('wasm')) === null) {
      expect(fusedAttentionAvailable()).toBe(false);
      const prev = setFusedAttentionMode('fused');
      expect(fusedAttentionAvailable()).toBe(true);
      setFusedAttentionMode(prev);
      await selectBackend({ prefer: 'cpu', log: false });
    }
  });

  it("mode 'composite' and a [B, Tq, Tk] mask take the composite path, with the same values", async () => {
    const c = CASES[5]!;
    const x = inputsOf(c);
    const ref = reference.get(c.name)!;
    const prev = setFusedAttentionMode('composite');
    try {
      expect(fusedAttentionAvailable()).toBe(false);
      const got = await run(c, x, (q, k, v, mask) => fusedAttention(q, k, v, { causal: true, mask }));
      expect(maxDiff(got.context, ref.context)).toBe(0);
    } finally {
      setFusedAttentionMode(prev);
    }
    tf.tidy(() => {
      // The padding mask as a per-query mask [B, Tq, Tk]: same result through the composite path.
      const full = tf.broadcastTo(tf.reshape(tf.tensor2d(x.mask!, [c.B, c.Tk]), [c.B, 1, c.Tk]), [c.B, c.Tq, c.Tk]);
      const q = tf.tensor4d(x.q, [c.B, c.H, c.Tq, c.D]);
      const k = tf.tensor4d(x.k, [c.B, c.H, c.Tk, c.D]);
      const v = tf.tensor4d(x.v, [c.B, c.H, c.Tk, c.DV]);
      expect(maxDiff(fusedAttention(q, k, v, { causal: true, mask: full }).dataSync() as Float32Array, ref.context)).toBeLessThanOrEqual(1e-6);
    });
  });

  it('without a Grad kernel the gradient takes composite ops, with the same values', async () => {
    tf.unregisterKernel(FUSED_ATTENTION_GRAD, 'cpu');
    try {
      for (const c of CASES) {
        const got = await run(c, inputsOf(c), fused(c));
        const ref = reference.get(c.name)!;
        for (const key of ['dq', 'dk', 'dv'] as const) expect(maxDiff(got[key], ref[key]), `${c.name}: ${key}`).toBeLessThanOrEqual(1e-5);
      }
      const x = inputsOf(CASES[6]!);
      const [q, k, v] = [tf.tensor4d(x.q, [2, 2, 5, 4]), tf.tensor4d(x.k, [2, 2, 5, 4]), tf.tensor4d(x.v, [2, 2, 5, 3])];
      const mask = tf.tensor2d(x.mask!, [2, 5]);
      const step = () => tf.dispose(tf.grads((a: tf.Tensor, cc: tf.Tensor) => tf.sum(fusedAttention(a as tf.Tensor4D, k, cc as tf.Tensor4D, { causal: true, mask })))([q, v]));
      step();
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) step();
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([q, k, v, mask]);
    } finally {
      registerFusedAttention(); // puts the kernel back
    }
    expect(tf.getKernel(FUSED_ATTENTION_GRAD, 'cpu')).toBeDefined();
  });

  it('a custom scale matches on both paths', () => {
    tf.tidy(() => {
      const q = tf.tensor4d(values(24, 12), [1, 2, 3, 4]);
      const k = tf.tensor4d(values(24, 13), [1, 2, 3, 4]);
      const v = tf.tensor4d(values(24, 14), [1, 2, 3, 4]);
      const a = fusedAttention(q, k, v, { scale: 1.3 });
      const prev = setFusedAttentionMode('composite');
      const b = fusedAttention(q, k, v, { scale: 1.3 });
      setFusedAttentionMode(prev);
      expect(maxDiff(a.dataSync() as Float32Array, b.dataSync() as Float32Array)).toBeLessThanOrEqual(1e-6);
    });
  });

  it('rejects bad shapes and options with what was expected', () => {
    const q = tf.zeros([1, 2, 3, 4]) as tf.Tensor4D;
    const k = tf.zeros([1, 2, 5, 4]) as tf.Tensor4D;
    const v = tf.zeros([1, 2, 5, 6]) as tf.Tensor4D;
    expect(() => fusedAttention(q, tf.zeros([1, 2, 5, 3]) as tf.Tensor4D, v)).toThrow(/expected k of shape \[1, 2, Tk, 4\]/);
    expect(() => fusedAttention(q, k, tf.zeros([1, 2, 4, 6]) as tf.Tensor4D)).toThrow(/expected v of shape \[1, 2, 5, dv\]/);
    expect(() => fusedAttentionKernel(q, k, v, { mask: tf.ones([1, 4]) })).toThrow(/expected mask of shape \[1, 5\]/);
    expect(() => setFusedAttentionMode('fast' as never)).toThrow(/expected one of 'auto', 'fused', 'composite', got "fast"/);
    tf.disposeVariables();
  });
});
