// The fused sequence kernels (AttendLSTMSequence, AttendGRUSequence, AttendRNNSequence and their
// …Grad kernels, plain JS) against the per-step hand-written BPTT (./lstm-sequence.ts,
// ./gru-sequence.ts, ./rnn-sequence.ts with mode 'composite'): the same packed outputs and gradients
// w.r.t. xp, W_h, h0 (and c0), with and without a mask (padding at the end, in the middle and at the
// start), on cpu and on wasm; RNNLayer runs them on cpu by default (one kernel each way); no tensor
// leaks; the reset-after GRU's sequence kernel (webgpu only) never runs here. bptt.test.ts runs
// every cell and arch (stacked, bidirectional, masks, initial states)
// against autodiff on cpu, where these kernels are now the default path.
import * as tf from '@tensorflow/tfjs-core';
import { setSimdThreads, simdKernels } from '@attend/core';
import { selectBackend } from '@attend/core/node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { randn } from '@attend/test-utils';
import { LSTM_LAYER_GRAD, RNNLayer, setFusedSequenceMode } from '../src/index.js';
import { GRU_RESET_AFTER_SEQUENCE, GRU_RESET_AFTER_SEQUENCE_GRAD, GRU_SEQUENCE, GRU_SEQUENCE_GRAD, LSTM_SEQUENCE, LSTM_SEQUENCE_GRAD, RNN_SEQUENCE, RNN_SEQUENCE_GRAD } from '../src/fused-sequence.js';
import { gruResetAfterSequence, gruSequence } from '../src/gru-sequence.js';
import { lstmSequence } from '../src/lstm-sequence.js';
import { rnnSequence } from '../src/rnn-sequence.js';
import { expectClose, expectNoLeak } from './helpers.js';

type Dims = [B: number, T: number, H: number];
const SMALL: Dims = [3, 5, 4];
/** Rows: no padding, padding at the end, gaps (padding at the start and in the middle). */
function maskFor([B, T]: Dims): number[][] {
  return Array.from({ length: B }, (_, b) =>
    Array.from({ length: T }, (_, t) => (b % 3 === 0 ? 1 : b % 3 === 1 ? (t < T - 2 ? 1 : 0) : (t + b) % 2 === 0 || t === T - 1 ? 1 : 0)),
  );
}

afterEach(() => {
  setFusedSequenceMode('auto');
});

type Seq = { hs: tf.Tensor3D; h: tf.Tensor2D; c?: tf.Tensor2D };
interface CellCase {
  gates: number;
  kernels: [string, string];
  /** The sequence function under test: (xp, W_h, h0, c0, mask) → outputs. */
  run: (xp: tf.Tensor3D, W_h: tf.Tensor2D, h0: tf.Tensor2D, c0: tf.Tensor2D, mask?: tf.Tensor2D) => Seq;
}

const CELLS: Record<string, CellCase> = {
  lstm: { gates: 4, kernels: [LSTM_SEQUENCE, LSTM_SEQUENCE_GRAD], run: (xp, W, h0, c0, m) => lstmSequence(xp, W, h0, c0, m) },
  gru: { gates: 3, kernels: [GRU_SEQUENCE, GRU_SEQUENCE_GRAD], run: (xp, W, h0, _c0, m) => gruSequence(xp, W, h0, m) },
  'rnn tanh': { gates: 1, kernels: [RNN_SEQUENCE, RNN_SEQUENCE_GRAD], run: (xp, W, h0, _c0, m) => rnnSequence(xp, W, h0, 'tanh', m) },
  'rnn relu': { gates: 1, kernels: [RNN_SEQUENCE, RNN_SEQUENCE_GRAD], run: (xp, W, h0, _c0, m) => rnnSequence(xp, W, h0, 'relu', m) },
};

/** Outputs and the gradients of Σ R ⊙ hs + 0.7 Σ h (− 1.3 Σ c) w.r.t. xp, W_h, h0, c0. */
function run(cell: CellCase, withMask: boolean, dims: Dims = SMALL) {
  const [B, T, H] = dims;
  return tf.tidy(() => {
    const G = cell.gates * H;
    const xp = randn([B, T, G], 1, 1) as tf.Tensor3D;
    const W_h = randn([H, G], 2, H <= 4 ? 0.5 : 1 / Math.sqrt(H)) as tf.Tensor2D; // recurrences that neither explode nor vanish
    const h0 = randn([B, H], 3, 0.5) as tf.Tensor2D;
    const c0 = randn([B, H], 4, 0.5) as tf.Tensor2D;
    const mask = withMask ? tf.tensor2d(maskFor(dims)) : undefined;
    const R = randn([B, T, H], 5, 1);
    const f = (...v: tf.Tensor[]) => {
      const r = cell.run(v[0] as tf.Tensor3D, v[1] as tf.Tensor2D, v[2] as tf.Tensor2D, v[3] as tf.Tensor2D, mask);
      const terms = [tf.sum(tf.mul(r.hs, R)), tf.sum(tf.mul(r.h, 0.7))];
      if (r.c) terms.push(tf.sum(tf.mul(r.c, -1.3)));
      return tf.addN(terms) as tf.Scalar;
    };
    const r = cell.run(xp, W_h, h0, c0, mask);
    const inputs = cell.gates === 4 ? [xp, W_h, h0, c0] : [xp, W_h, h0];
    return { ...r, grads: tf.grads(f)(inputs) };
  });
}

describe.each(['cpu', 'wasm'] as const)('fused sequence kernels on %s', (backend) => {
  for (const [name, cell] of Object.entries(CELLS)) {
    for (const withMask of [false, true]) {
      it(`${name}: equals the per-step BPTT — outputs, final state and gradients${withMask ? ', masked' : ''}`, async () => {
        await selectBackend({ prefer: backend, log: false });
        setFusedSequenceMode('composite');
        const want = run(cell, withMask);
        setFusedSequenceMode('fused');
        const prof = await tf.profile(() => tf.dispose(run(cell, withMask)));
        const names = prof.kernels.map((k) => k.name);
        expect(names).toContain(cell.kernels[0]);
        expect(names).toContain(cell.kernels[1]);
        expect(names).not.toContain('BatchMatMul'); // no per-step matmuls: the fused kernels ran
        const got = run(cell, withMask);
        expectClose(got.hs, want.hs, 1e-5);
        expectClose(got.h, want.h, 1e-5);
        if (want.c) expectClose(got.c!, want.c, 1e-5);
        expect(got.grads.length).toBe(want.grads.length);
        got.grads.forEach((g, i) => expectClose(g, want.grads[i]!, 1e-4));
        tf.dispose([want, got]);
      });
    }
  }

  it('leaks no tensors, forward + backward, every cell', async () => {
    await selectBackend({ prefer: backend, log: false });
    setFusedSequenceMode('fused');
    for (const cell of Object.values(CELLS)) expectNoLeak(() => tf.dispose(run(cell, true)));
  });

  it('the reset-after GRU takes the per-step path in every mode (its sequence kernel is registered on webgpu only)', async () => {
    await selectBackend({ prefer: backend, log: false });
    const [B, T, H] = SMALL;
    const xp = randn([B, T, 3 * H], 1, 1) as tf.Tensor3D;
    const W_h = randn([H, 3 * H], 2, 0.5) as tf.Tensor2D;
    const b_h = randn([3 * H], 3, 0.5) as tf.Tensor1D;
    const h0 = randn([B, H], 4, 0.5) as tf.Tensor2D;
    const mask = tf.tensor2d(maskFor(SMALL));
    const loss = (...v: tf.Tensor[]) => tf.sum(gruResetAfterSequence(v[0] as tf.Tensor3D, v[1] as tf.Tensor2D, v[2] as tf.Tensor1D, v[3] as tf.Tensor2D, mask).hs);
    for (const m of ['auto', 'fused', 'composite'] as const) {
      setFusedSequenceMode(m);
      const names = (await tf.profile(() => tf.dispose(tf.grads(loss)([xp, W_h, b_h, h0])))).kernels.map((k) => k.name);
      expect(names, m).not.toContain(GRU_RESET_AFTER_SEQUENCE);
      expect(names, m).not.toContain(GRU_RESET_AFTER_SEQUENCE_GRAD);
      expect(names, m).toContain('BatchMatMul'); // the per-step recurrent matmuls
    }
    tf.dispose([xp, W_h, b_h, h0, mask]);
  });
});

// The kernels above run on the WebAssembly SIMD module (packages/core/assembly/sequence.ts) wherever
// H is a multiple of 4; at SMALL sizes only its scalar edges. These sizes fill its 4 × 8 tiles, leave
// edges (H = 12: 3H and H not multiples of 8, so the GRU and RNN weight gradients take the per-step
// product; H = 16: the packed one), and split the batch over two threads (B = 9: slices of 5 and 4).
describe.each(['cpu', 'wasm'] as const)('the SIMD sequence kernels on %s', (backend) => {
  for (const dims of [[9, 6, 12], [8, 5, 16]] as Dims[]) {
    for (const threads of [1, 2]) {
      it(`every cell, masked and not, B, T, H = ${dims.join(', ')}, ${threads} thread${threads > 1 ? 's' : ''}: equals the per-step BPTT`, async () => {
        await selectBackend({ prefer: backend, log: false });
        const before = setSimdThreads(threads);
        const run0 = vi.spyOn(simdKernels()!, 'run');
        try {
          for (const cell of Object.values(CELLS)) {
            for (const withMask of [false, true]) {
              setFusedSequenceMode('composite');
              const want = run(cell, withMask, dims);
              setFusedSequenceMode('fused');
              const got = run(cell, withMask, dims);
              expectClose(got.hs, want.hs, 2e-5);
              expectClose(got.h, want.h, 2e-5);
              if (want.c) expectClose(got.c!, want.c, 2e-5);
              got.grads.forEach((g, i) => expectClose(g, want.grads[i]!, 2e-4));
              tf.dispose([want, got]);
            }
          }
          const jobs = new Set(run0.mock.calls.map(([job]) => job));
          for (const job of ['lstmForward', 'lstmBackward', 'gruForward', 'gruBackward', 'rnnForward', 'rnnBackward']) expect(jobs).toContain(job);
          expect(jobs).toContain(dims[2] % 8 === 0 ? 'weightGradPacked' : 'weightGrad');
          if (threads > 1) expect(Math.max(...run0.mock.calls.map(([, parts]) => parts.length))).toBe(2);
        } finally {
          setSimdThreads(before);
          run0.mockRestore();
        }
      });
    }
  }
});

describe('RNNLayer on cpu', () => {
  it('runs each taught cell through its fused kernel by default (mode auto), the per-step path with mode composite', async () => {
    await selectBackend({ prefer: 'cpu', log: false });
    const [B, T, H] = SMALL;
    // H = 4: the LSTM runs as the whole-layer kernel (./fused-layer.test.ts), the GRU and RNN (H not a multiple of 8) as sequence kernels.
    for (const [cell, kernel] of [['lstm', LSTM_LAYER_GRAD], ['gru', GRU_SEQUENCE_GRAD], ['rnn', RNN_SEQUENCE_GRAD]] as const) {
      const layer = new RNNLayer({ cell, inputSize: 3, hidden: H, seed: 1 });
      const x = randn([B, T, 3], 9, 1) as tf.Tensor3D;
      const kernels = async () => (await tf.profile(() => tf.dispose(tf.grad((xx: tf.Tensor) => tf.sum(layer.forward(xx as tf.Tensor3D).output))(x)))).kernels.map((k) => k.name);
      expect(await kernels(), cell).toContain(kernel);
      setFusedSequenceMode('composite');
      expect(await kernels(), cell).not.toContain(kernel);
      setFusedSequenceMode('auto');
      x.dispose();
      layer.dispose();
    }
    expect(() => setFusedSequenceMode('fast' as never)).toThrow('setFusedSequenceMode: expected one of auto, fused, composite, got "fast"');
  });
});
