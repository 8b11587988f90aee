// The generation step as kernels (AttendLSTMStep; AttendGRUStepGates + AttendGRUStepOut — the
// taught GRU — ../src/step-kernel.ts) through RNNLayer.step, against the cell's composite stepper:
// the same output and state on cpu and wasm (batch 3, H = 5 — no SIMD-friendly sizes), the kernels
// really run, none under a gradient tape, no tensor leaks.
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@attend/core/node';
import { describe, expect, it } from 'vitest';
import { randn } from '@attend/test-utils';
import { GRUCell, LSTMCell, RNNLayer } from '../src/index.js';
import { GRU_STEP_GATES, GRU_STEP_OUT, LSTM_STEP } from '../src/step-kernel.js';
import { expectClose } from './helpers.js';

const [B, D, H] = [3, 4, 5];

describe.each(['cpu', 'wasm'] as const)('step kernels on %s', (backend) => {
  for (const [name, make, kernels] of [
    ['lstm', () => new LSTMCell({ inputSize: D, hidden: H, seed: 2 }), [LSTM_STEP]],
    ['gru', () => new GRUCell({ inputSize: D, hidden: H, seed: 3 }), [GRU_STEP_GATES, GRU_STEP_OUT]],
  ] as const) {
    it(`${name}: RNNLayer.step equals the composite stepper, runs the kernels, leaks nothing`, async () => {
      await selectBackend({ prefer: backend, log: false });
      const cell = make();
      const layer = new RNNLayer(cell);
      const x = randn([B, D], 4, 1) as tf.Tensor2D;
      const h = randn([B, H], 5, 0.7) as tf.Tensor2D;
      const c = randn([B, H], 6, 0.7) as tf.Tensor2D;
      const state = cell instanceof LSTMCell ? { h: [h], c: [c] } : { h: [h] };
      const want = tf.tidy(() => cell.stepper()(cell.projectInput(x), cell instanceof LSTMCell ? { h, c } : { h }));
      const names = (await tf.profile(() => { const r = layer.step(x, state); tf.dispose([r.y, r.state.h, r.state.c ?? []]); })).kernels.map((k) => k.name);
      for (const k of kernels) expect(names).toContain(k);
      const got = layer.step(x, state);
      expectClose(got.y, want.h, 1e-6);
      expectClose(got.state.h[0]!, want.h, 1e-6);
      if (want.c) expectClose(got.state.c![0]!, want.c, 1e-6);
      // Under a gradient tape the composite runs (the kernels have no gradient).
      const taped = await tf.profile(() => tf.dispose(tf.grad((xx: tf.Tensor) => tf.sum(layer.step(xx as tf.Tensor2D, state).y))(x)));
      for (const k of kernels) expect(taped.kernels.map((kk) => kk.name)).not.toContain(k);
      tf.dispose([got.y, got.state.h, got.state.c ?? [], want.h, want.c ?? []]);
      const before = tf.memory().numTensors;
      const again = layer.step(x, state);
      tf.dispose([again.y, again.state.h, again.state.c ?? []]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, h, c]);
      layer.dispose();
    });
  }
});
