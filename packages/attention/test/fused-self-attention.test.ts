// The packed self-attention of the tensorflow backend's native ops (../src/fused-attention.ts:
// fusedSelfAttention on qkv [B, T, 3d] with no head split or merge, packedHeads) against the composite
// path on the split heads (scaledDotProductAttention), on the same backend: context and the gradient
// w.r.t. qkv, for no mask, causal, padding (with an empty row), causal + padding, d_k = 64; the key and
// value heads and their gradient; no leaks; the errors elsewhere. Skipped where tfjs-node or Attend's
// native ops are not built; CI builds both (ATTEND_EXPECT_TENSORFLOW=1).
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@attend/core/node';
import { activateTensorflowNative } from '@attend/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { fusedAttentionKernel, fusedSelfAttention, fusedSelfAttentionAvailable, packedHeads, scaledDotProductAttention, setFusedAttentionMode } from '../src/index.js';

let skip = '';
beforeAll(async () => {
  skip = await activateTensorflowNative();
  if (skip) console.warn(`skipped: ${skip}`);
});

const CASES = [
  { name: 'no mask', B: 2, T: 5, H: 3, D: 4, causal: false },
  { name: 'causal', B: 2, T: 7, H: 2, D: 8, causal: true },
  { name: 'padding, an empty row', B: 3, T: 6, H: 2, D: 4, causal: false, lengths: [6, 3, 0] },
  { name: 'causal + padding', B: 2, T: 9, H: 4, D: 4, causal: true, lengths: [9, 5] },
  { name: 'd_k = 64, T 40, causal', B: 2, T: 40, H: 2, D: 64, causal: true },
];

/** [B, T, d] → [B, h, T, d_k] and back, as tfjs ops (the reference's head split and merge). */
const split = (x: tf.Tensor, B: number, T: number, H: number, D: number) => tf.transpose(tf.reshape(x, [B, T, H, D]), [0, 2, 1, 3]) as tf.Tensor4D;
const merge = (x: tf.Tensor, B: number, T: number, H: number, D: number) => tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [B, T, H * D]) as tf.Tensor3D;

const maxDiff = (a: tf.Tensor, b: tf.Tensor) => {
  expect(a.shape).toEqual(b.shape);
  const x = a.dataSync();
  const y = b.dataSync();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return Number.isNaN(m) ? Infinity : m;
};

describe('fusedSelfAttention (tensorflow, native ops)', () => {
  it.for(CASES)('$name: context and ∂qkv equal the composite path on split heads', (c, ctx) => {
    if (skip) return ctx.skip(skip);
    expect(fusedSelfAttentionAvailable()).toBe(true);
    const { B, T, H, D, causal } = c;
    const d = H * D;
    tf.tidy(() => {
      const qkv = tf.randomNormal([B, T, 3 * d], 0, 1.5, 'float32', 7) as tf.Tensor3D;
      const r = tf.randomNormal([B, T, d], 0, 1, 'float32', 8);
      const mask = c.lengths ? tf.tensor2d(c.lengths.flatMap((n) => Array.from({ length: T }, (_, j) => (j < n ? 1 : 0))), [B, T]) : undefined;
      const mine = (x: tf.Tensor) => fusedSelfAttention(x as tf.Tensor3D, { heads: H, causal, mask });
      const reference = (x: tf.Tensor) => {
        const [q, k, v] = tf.split(x, 3, 2).map((t) => split(t, B, T, H, D));
        const { context } = scaledDotProductAttention(q!, k!, v!, { causal, mask });
        return merge(context, B, T, H, D);
      };
      expect(maxDiff(mine(qkv), reference(qkv)), 'context').toBeLessThan(1e-5);
      const loss = (f: (x: tf.Tensor) => tf.Tensor) => (x: tf.Tensor) => tf.sum(tf.mul(f(x), r));
      expect(maxDiff(tf.grad(loss(mine))(qkv), tf.grad(loss(reference))(qkv)), '∂qkv').toBeLessThan(1e-5);
      // As rows: qkv [B·T, 3d] with batch B → context [B·T, d], bit for bit the same.
      const rows = (x: tf.Tensor) => tf.reshape(fusedSelfAttention(tf.reshape(x, [B * T, 3 * d]) as tf.Tensor2D, { heads: H, batch: B, causal, mask }), [B, T, d]);
      expect(maxDiff(rows(qkv), mine(qkv)), 'rows: context').toBe(0);
      expect(maxDiff(tf.grad(loss(rows))(qkv), tf.grad(loss(mine))(qkv)), 'rows: ∂qkv').toBe(0);
    });
  });

  it('a bias given to the kernel equals adding it to qkv first: context, ∂qkv and ∂bias', (ctx) => {
    if (skip) return ctx.skip(skip);
    const [B, T, H, D] = [3, 37, 2, 8]; // 37 rows: two row blocks, the second partial
    const d = H * D;
    tf.tidy(() => {
      const qkv = tf.randomNormal([B * T, 3 * d], 0, 1, 'float32', 12) as tf.Tensor2D;
      const bias = tf.randomNormal([3 * d], 0, 1, 'float32', 13) as tf.Tensor1D;
      const r = tf.randomNormal([B * T, d], 0, 1, 'float32', 14);
      const mask = tf.tensor2d([...new Array(T).fill(1), ...new Array(T).fill(1).map((_, j) => (j < 20 ? 1 : 0)), ...new Array(T).fill(1)], [B, T]);
      const inside = (x: tf.Tensor, b: tf.Tensor) => fusedSelfAttention(x as tf.Tensor2D, { heads: H, batch: B, causal: true, mask, bias: b as tf.Tensor1D });
      const before = (x: tf.Tensor, b: tf.Tensor) => fusedSelfAttention(tf.add(x, b) as tf.Tensor2D, { heads: H, batch: B, causal: true, mask });
      expect(maxDiff(inside(qkv, bias), before(qkv, bias)), 'context').toBeLessThan(1e-5);
      const loss = (f: (x: tf.Tensor, b: tf.Tensor) => tf.Tensor) => (x: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(x, b), r));
      const [gx, gb] = tf.grads(loss(inside))([qkv, bias]);
      const [rx, rb] = tf.grads(loss(before))([qkv, bias]);
      expect(maxDiff(gx!, rx!), '∂qkv').toBeLessThan(1e-5);
      expect(maxDiff(gb!, rb!), '∂bias').toBeLessThan(1e-4);
      expect(() => fusedSelfAttention(qkv, { heads: H, batch: B, bias: tf.zeros([d]) as tf.Tensor1D })).toThrow(/expected bias float32 \[48\] \(\[b_q \| b_k \| b_v\]\), got float32 \[16\]/);
    });
  });

  it('packedHeads gives each block split into heads, with its gradient', (ctx) => {
    if (skip) return ctx.skip(skip);
    const [B, T, H, D] = [2, 5, 3, 4];
    const d = H * D;
    tf.tidy(() => {
      const x = tf.randomNormal([B, T, 3 * d], 0, 1, 'float32', 9) as tf.Tensor3D;
      const r = tf.randomNormal([B, H, T, D], 0, 1, 'float32', 10);
      for (const part of [0, 1, 2]) {
        const reference = (t: tf.Tensor) => split(tf.slice(t, [0, 0, part * d], [B, T, d]), B, T, H, D);
        const mine = (t: tf.Tensor) => packedHeads(t as tf.Tensor3D, H, 3, part);
        expect(maxDiff(mine(x), reference(x)), `part ${part}`).toBe(0);
        const loss = (f: (t: tf.Tensor) => tf.Tensor) => (t: tf.Tensor) => tf.sum(tf.mul(f(t), r));
        expect(maxDiff(tf.grad(loss(mine))(x), tf.grad(loss(reference))(x)), `∂x, part ${part}`).toBe(0);
      }
    });
  });

  it('leaks no tensors', (ctx) => {
    if (skip) return ctx.skip(skip);
    const qkv = tf.randomNormal([2, 6, 24], 0, 1, 'float32', 11) as tf.Tensor3D;
    const step = () => {
      const { value, grads } = tf.valueAndGrads((x: tf.Tensor) => tf.sum(fusedSelfAttention(x as tf.Tensor3D, { heads: 2, causal: true })))([qkv]);
      tf.dispose([value, ...grads, packedHeads(qkv, 2, 3, 1)]);
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    qkv.dispose();
  });

  it("is off in mode 'composite', and refuses bad heads and masks", (ctx) => {
    if (skip) return ctx.skip(skip);
    const qkv = tf.zeros([2, 4, 24]) as tf.Tensor3D;
    expect(() => fusedSelfAttention(qkv, { heads: 5 })).toThrow(/expected heads a positive integer dividing d = 8 \(input \[2, 4, 24\]\), got 5/);
    expect(() => fusedSelfAttention(qkv, { heads: 2, mask: tf.ones([2, 5]) as tf.Tensor2D })).toThrow(/expected mask of shape \[2, 4\]/);
    expect(() => packedHeads(qkv, 2, 3, 3)).toThrow(/expected part an integer in \[0, 3\), got 3/);
    const rows = tf.zeros([8, 24]) as tf.Tensor2D;
    expect(() => fusedSelfAttention(rows, { heads: 2 })).toThrow(/expected float32 \[B, T, 3d\], got float32 \[8, 24\]/);
    expect(() => fusedSelfAttention(rows, { heads: 2, batch: 3 })).toThrow(/expected batch a positive integer dividing the 8 rows of \[8, 24\], got 3/);
    rows.dispose();
    const prev = setFusedAttentionMode('composite');
    try {
      expect(fusedSelfAttentionAvailable()).toBe(false);
    } finally {
      setFusedAttentionMode(prev);
    }
    qkv.dispose();
  });
});

describe('the tensorflow kernels at the edges', () => {
  it('no keys (Tk = 0) give context 0 and lse −∞; no positions (T = 0) give an empty context', (ctx) => {
    if (skip) return ctx.skip(skip);
    tf.tidy(() => {
      const q = tf.ones([1, 2, 3, 4]) as tf.Tensor4D;
      const none = tf.zeros([1, 2, 0, 4]) as tf.Tensor4D;
      const { context, lse } = fusedAttentionKernel(q, none, none);
      expect(Array.from(context.dataSync())).toEqual(new Array(24).fill(0));
      expect(Array.from(lse.dataSync())).toEqual(new Array(6).fill(-Infinity));
      expect(fusedSelfAttention(tf.zeros([2, 0, 12]) as tf.Tensor3D, { heads: 2, causal: true }).shape).toEqual([2, 0, 4]);
    });
  });
});

describe('fusedSelfAttention elsewhere', () => {
  it('says that it needs the tensorflow backend with the native ops', async () => {
    await selectBackend({ prefer: 'cpu', log: false });
    expect(fusedSelfAttentionAvailable()).toBe(false);
    const qkv = tf.zeros([1, 2, 6]) as tf.Tensor3D;
    expect(() => fusedSelfAttention(qkv, { heads: 1 })).toThrow(/runs only on the tensorflow backend with Attend's native ops \(attend setup tensorflow\); backend here: 'cpu'/);
    qkv.dispose();
  });
});
