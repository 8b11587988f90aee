// The fused sequence kernels in WGSL (../src/webgpu-sequence.ts) against the per-step path on cpu:
// every cell (LSTM, taught GRU, reset-after GRU, RNN tanh and relu), masked and not, four sizes — two
// within one workgroup tile, B, H = 10, 40 (partial row and unit blocks and reduction chunks, two
// workgroups each way) and 16, 64 (whole blocks) — the same outputs, final states and gradients
// w.r.t. xp, W_h, h0 (and c0, b_h) within 1e-4; the kernels really run and leave no tensors or GPU
// buffers behind. On a
// GPU, or with ATTEND_WEBGPU_ALLOW_SOFTWARE=1 (set below) on Mesa's llvmpipe through Dawn's OpenGL
// backend; skipped with the reason where neither loads (e.g. CI without libegl-mesa0/libgl1-mesa-dri).
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@attend/core/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randn } from '@attend/test-utils';
import { setFusedSequenceMode } from '../src/index.js';
import { GRU_RESET_AFTER_SEQUENCE_GRAD, GRU_SEQUENCE_GRAD, LSTM_SEQUENCE_GRAD, RNN_SEQUENCE_GRAD } from '../src/fused-sequence.js';
import { gruResetAfterSequence, gruSequence } from '../src/gru-sequence.js';
import { lstmSequence } from '../src/lstm-sequence.js';
import { rnnSequence } from '../src/rnn-sequence.js';

process.env.ATTEND_WEBGPU_ALLOW_SOFTWARE ??= '1';

type Seq = { hs: tf.Tensor3D; h: tf.Tensor2D; c?: tf.Tensor2D };
/** A cell's fourth input `e`, also differentiated: c0 `[B, H]` (LSTM), b_h `[3H]` (reset-after GRU), or none (unused). */
type Extra = 'c0' | 'b_h' | undefined;
const CELLS: [string, number, string, Extra, (xp: tf.Tensor3D, W: tf.Tensor2D, h0: tf.Tensor2D, e: tf.Tensor, m?: tf.Tensor2D) => Seq][] = [
  ['lstm', 4, LSTM_SEQUENCE_GRAD, 'c0', (xp, W, h0, c0, m) => lstmSequence(xp, W, h0, c0 as tf.Tensor2D, m)],
  ['gru', 3, GRU_SEQUENCE_GRAD, undefined, (xp, W, h0, _e, m) => gruSequence(xp, W, h0, m)],
  ['gru reset-after', 3, GRU_RESET_AFTER_SEQUENCE_GRAD, 'b_h', (xp, W, h0, b_h, m) => gruResetAfterSequence(xp, W, b_h as tf.Tensor1D, h0, m)],
  ['rnn tanh', 1, RNN_SEQUENCE_GRAD, undefined, (xp, W, h0, _e, m) => rnnSequence(xp, W, h0, 'tanh', m)],
  ['rnn relu', 1, RNN_SEQUENCE_GRAD, undefined, (xp, W, h0, _e, m) => rnnSequence(xp, W, h0, 'relu', m)],
];
const SIZES: [number, number, number][] = [[3, 5, 4], [5, 4, 8], [10, 3, 40], [16, 3, 64]];

/** Outputs and the gradients of Σ R ⊙ hs + 0.7 Σ h (− 1.3 Σ c), read back asynchronously (webgpu has no sync reads). */
async function run(gates: number, extra: Extra, f: (typeof CELLS)[number][4], [B, T, H]: [number, number, number], withMask: boolean): Promise<Float32Array[]> {
  const outs = tf.tidy(() => {
    const G = gates * H;
    const xp = randn([B, T, G], 1, 1) as tf.Tensor3D;
    const W = randn([H, G], 2, 0.5) as tf.Tensor2D;
    const h0 = randn([B, H], 3, 0.5) as tf.Tensor2D;
    const e = randn(extra === 'b_h' ? [G] : [B, H], 4, 0.5); // c0, or b_h (non-zero)
    const mask = withMask ? tf.tensor2d(Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => (b % 8 === 1 ? (t < T - 2 ? 1 : 0) : b % 8 === 2 ? (t % 2 === 1 || t === T - 1 ? 1 : 0) : 1)))) : undefined;
    const R = randn([B, T, H], 5, 1);
    const loss = (...v: tf.Tensor[]) => {
      const r = f(v[0] as tf.Tensor3D, v[1] as tf.Tensor2D, v[2] as tf.Tensor2D, v[3] ?? e, mask);
      const terms = [tf.sum(tf.mul(r.hs, R)), tf.sum(tf.mul(r.h, 0.7))];
      if (r.c) terms.push(tf.sum(tf.mul(r.c, -1.3)));
      return tf.addN(terms) as tf.Scalar;
    };
    const r = f(xp, W, h0, e, mask);
    const grads = tf.grads(loss)(extra ? [xp, W, h0, e] : [xp, W, h0]);
    return [r.hs, r.h, ...(r.c ? [r.c] : []), ...grads];
  });
  const values: Float32Array[] = [];
  for (const t of outs) {
    values.push((await t.data()) as Float32Array);
    t.dispose();
  }
  return values;
}

/** The per-step path on cpu for every case, computed first: the webgpu backend is then activated once. */
const reference = new Map<string, Float32Array[]>();
const caseKey = (name: string, size: number[], withMask: boolean) => `${name} ${size.join(',')} ${withMask}`;

let skip: string | null = null;
beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
  setFusedSequenceMode('composite');
  for (const [name, gates, , extra, f] of CELLS) {
    for (const size of SIZES) for (const withMask of [false, true]) reference.set(caseKey(name, size, withMask), await run(gates, extra, f, size, withMask));
  }
  setFusedSequenceMode('fused');
  try {
    await selectBackend({ prefer: 'webgpu', log: false });
  } catch (err) {
    skip = (err as Error).message;
    console.warn(`fused sequence kernels on webgpu: skipped — ${skip}`);
  }
}, 120_000);
afterAll(async () => {
  setFusedSequenceMode('auto');
  await selectBackend({ prefer: 'cpu', log: false });
});

describe('fused sequence kernels on webgpu (WGSL)', () => {
  for (const [name, gates, grad, extra, f] of CELLS) {
    for (const size of SIZES) {
      it(`${name}, B, T, H = ${size.join(', ')}: outputs, final state and gradients equal the per-step path on cpu, masked and not`, async (ctx) => {
        if (skip) return ctx.skip(skip);
        expect(tf.getBackend()).toBe('webgpu');
        for (const withMask of [false, true]) {
          const want = reference.get(caseKey(name, size, withMask))!;
          const names = (await tf.profile(async () => { await run(gates, extra, f, size, withMask); })).kernels.map((k) => k.name);
          expect(names).toContain(grad);
          const [tensors, buffers] = [tf.memory().numTensors, tf.engine().backend.numDataIds()];
          const got = await run(gates, extra, f, size, withMask);
          expect(tf.memory().numTensors, `${name}: tensors left`).toBe(tensors);
          expect(tf.engine().backend.numDataIds(), `${name}: GPU buffers left (the kernels' own too)`).toBe(buffers);
          expect(got.length).toBe(want.length);
          got.forEach((g, i) => {
            let worst = 0;
            g.forEach((x, j) => (worst = Math.max(worst, Math.abs(x - want[i]![j]!))));
            expect(Number.isNaN(worst) ? Infinity : worst, `${name} output ${i}${withMask ? ', masked' : ''}`).toBeLessThanOrEqual(1e-4);
          });
        }
      }, 120_000);
    }
  }
});
