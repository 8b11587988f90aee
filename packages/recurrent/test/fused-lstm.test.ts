// The fused LSTM sequence kernels (AttendLSTMSequence / AttendLSTMSequenceGrad, plain JS) against the
// per-step hand-written BPTT (./lstm-sequence.ts with mode 'composite'): the same packed outputs and
// gradients w.r.t. xp, W_h, h0 and c0, with and without a mask (padding at the end, in the middle and
// at the start), on cpu and on wasm; RNNLayer runs the kernel on cpu by default (one kernel each way);
// no tensor leaks. bptt.test.ts runs every LSTM arch (stacked, bidirectional, masks, initial states)
// against autodiff on cpu, where this kernel is now the default path.
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@attend/core/node';
import { afterEach, describe, expect, it } from 'vitest';
import { randn } from '@attend/test-utils';
import { RNNLayer, setFusedLstmMode } from '../src/index.js';
import { LSTM_SEQUENCE, LSTM_SEQUENCE_GRAD } from '../src/fused-lstm.js';
import { lstmSequence } from '../src/lstm-sequence.js';
import { expectClose, expectNoLeak } from './helpers.js';

const [B, T, H] = [3, 5, 4];
const MASK = [
  [1, 1, 1, 1, 1],
  [1, 1, 1, 0, 0],
  [0, 1, 0, 1, 1],
];

afterEach(() => {
  setFusedLstmMode('auto');
});

/** The packed value and gradients of Σ R ⊙ [hs | h | c] w.r.t. xp, W_h, h0, c0. */
function run(withMask: boolean) {
  return tf.tidy(() => {
    const xp = randn([B, T, 4 * H], 1, 1) as tf.Tensor3D;
    const W_h = randn([H, 4 * H], 2, 0.5) as tf.Tensor2D;
    const h0 = randn([B, H], 3, 0.5) as tf.Tensor2D;
    const c0 = randn([B, H], 4, 0.5) as tf.Tensor2D;
    const mask = withMask ? tf.tensor2d(MASK) : undefined;
    const R = randn([B, T, H], 5, 1);
    const f = (...v: tf.Tensor[]) => {
      const r = lstmSequence(v[0] as tf.Tensor3D, v[1] as tf.Tensor2D, v[2] as tf.Tensor2D, v[3] as tf.Tensor2D, mask);
      return tf.addN([tf.sum(tf.mul(r.hs, R)), tf.sum(tf.mul(r.h, 0.7)), tf.sum(tf.mul(r.c, -1.3))]) as tf.Scalar;
    };
    const r = lstmSequence(xp, W_h, h0, c0, mask);
    return { hs: r.hs, h: r.h, c: r.c, grads: tf.grads(f)([xp, W_h, h0, c0]) };
  });
}

describe.each(['cpu', 'wasm'] as const)('fused LSTM sequence kernel on %s', (backend) => {
  for (const withMask of [false, true]) {
    it(`equals the per-step BPTT: outputs, final state and gradients${withMask ? ', masked' : ''}`, async () => {
      await selectBackend({ prefer: backend, log: false });
      setFusedLstmMode('composite');
      const want = run(withMask);
      setFusedLstmMode('fused');
      const prof = await tf.profile(() => tf.dispose(run(withMask)));
      const names = prof.kernels.map((k) => k.name);
      expect(names).toContain(LSTM_SEQUENCE);
      expect(names).toContain(LSTM_SEQUENCE_GRAD);
      expect(names).not.toContain('BatchMatMul'); // no per-step matmuls: the fused kernels ran
      const got = run(withMask);
      expectClose(got.hs, want.hs, 1e-5);
      expectClose(got.h, want.h, 1e-5);
      expectClose(got.c, want.c, 1e-5);
      got.grads.forEach((g, i) => expectClose(g, want.grads[i]!, 1e-4));
      tf.dispose([want, got]);
    });
  }

  it('leaks no tensors, forward + backward', async () => {
    await selectBackend({ prefer: backend, log: false });
    setFusedLstmMode('fused');
    expectNoLeak(() => tf.dispose(run(true)));
  });
});

describe('RNNLayer on cpu', () => {
  it('runs the LSTM through the fused kernel by default (mode auto), the composite path with mode composite', async () => {
    await selectBackend({ prefer: 'cpu', log: false });
    const layer = new RNNLayer({ cell: 'lstm', inputSize: 3, hidden: H, seed: 1 });
    const x = randn([B, T, 3], 9, 1) as tf.Tensor3D;
    const kernels = async () => (await tf.profile(() => tf.dispose(tf.grad((xx: tf.Tensor) => tf.sum(layer.forward(xx as tf.Tensor3D).output))(x)))).kernels.map((k) => k.name);
    expect(await kernels()).toContain(LSTM_SEQUENCE_GRAD);
    setFusedLstmMode('composite');
    expect(await kernels()).not.toContain(LSTM_SEQUENCE);
    expect(() => setFusedLstmMode('fast' as never)).toThrow('setFusedLstmMode: expected one of auto, fused, composite, got "fast"');
    x.dispose();
    layer.dispose();
  });
});
