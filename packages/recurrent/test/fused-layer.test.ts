// The whole-layer kernels (AttendLSTMLayer, AttendGRULayer, AttendGRUResetAfterLayer, AttendRNNLayer: the fused sequence with
// the input projection inside, on the WebAssembly SIMD module) through RNNLayer, against the per-step
// path (mode 'composite'): the same outputs, final states and gradients w.r.t. the input, the initial
// state and every weight, masked and not, one thread and two, on cpu, wasm and tensorflow; the layer
// kernels really run (and only where they apply: the GRU and RNN need H a multiple of 8; on tensorflow
// only masked sequences take them, unmasked ones running as TensorFlow ops); no tensor leaks.
import * as tf from '@tensorflow/tfjs-core';
import { setSimdThreads } from '@attend/core';
import { afterEach, describe, expect, it } from 'vitest';
import { activateBackend, randn } from '@attend/test-utils';
import { GRU_LAYER, GRU_RESET_AFTER_LAYER, LSTM_LAYER, RNN_LAYER, RNNLayer, fusedLayerAvailable, setFusedSequenceMode, type LayerCell, type RNNLayerConfig } from '../src/index.js';
import { expectClose, expectNoLeak } from './helpers.js';

afterEach(() => {
  setFusedSequenceMode('auto');
  setSimdThreads(2);
});

const CELLS: [string, Omit<RNNLayerConfig, 'inputSize' | 'hidden'>, string, LayerCell][] = [
  ['lstm', { cell: 'lstm' }, LSTM_LAYER, 'lstm'],
  ['gru', { cell: 'gru' }, GRU_LAYER, 'gru'],
  ['gru reset-after', { cell: 'gru', resetAfter: true }, GRU_RESET_AFTER_LAYER, 'gruResetAfter'],
  ['rnn tanh', { cell: 'rnn', activation: 'tanh' }, RNN_LAYER, 'rnn'],
  ['rnn relu', { cell: 'rnn', activation: 'relu' }, RNN_LAYER, 'rnn'],
];
const [B, T, D] = [9, 6, 5];
const MASK = Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => (b % 3 === 1 ? (t < T - 2 ? 1 : 0) : b % 3 === 2 ? (t % 2 === 0 || t === T - 1 ? 1 : 0) : 1)));

function build(cell: Omit<RNNLayerConfig, 'inputSize' | 'hidden'>, H: number): RNNLayer {
  const layer = new RNNLayer({ ...cell, inputSize: D, hidden: H, seed: 3 });
  let s = 40;
  for (const v of Object.values(layer.variables())) tf.tidy(() => v.assign(tf.mul(randn(v.shape, s++, 1), v.name.endsWith('/b') ? 0.3 : 1 / Math.sqrt(H))));
  return layer;
}

/** Outputs, final state and the gradients of a weighted sum of them w.r.t. x, h0 (c0) and every weight. */
function run(layer: RNNLayer, withMask: boolean) {
  return tf.tidy(() => {
    const H = layer.hidden;
    const x = randn([B, T, D], 7, 1) as tf.Tensor3D;
    const h0 = randn([B, H], 8, 0.5) as tf.Tensor2D;
    const c0 = randn([B, H], 9, 0.5) as tf.Tensor2D;
    const mask = withMask ? tf.tensor2d(MASK) : undefined;
    const R = randn([B, T, H], 10, 1);
    const vars = Object.values(layer.variables());
    const forward = (xx: tf.Tensor, hh: tf.Tensor, cc: tf.Tensor) =>
      layer.forward(xx as tf.Tensor3D, { mask, initialState: layer.hasCellState ? { h: [hh as tf.Tensor2D], c: [cc as tf.Tensor2D] } : { h: [hh as tf.Tensor2D] } });
    const f = (xx: tf.Tensor, hh: tf.Tensor, cc: tf.Tensor) => {
      const r = forward(xx, hh, cc);
      const terms = [tf.sum(tf.mul(r.output, R)), tf.sum(tf.mul(r.state.h[0]!, 0.7))];
      if (r.state.c) terms.push(tf.sum(tf.mul(r.state.c[0]!, -1.3)));
      return tf.addN(terms) as tf.Scalar;
    };
    const { value, grads } = tf.variableGrads(() => f(x, h0, c0), vars);
    const inputGrads = layer.hasCellState ? tf.grads(f)([x, h0, c0]) : tf.grads((xx: tf.Tensor, hh: tf.Tensor) => f(xx, hh, c0))([x, h0]);
    const out = forward(x, h0, c0);
    return { value, output: out.output, h: out.state.h[0]!, grads: vars.map((v) => grads[v.name]!), inputGrads };
  });
}

describe.each(['cpu', 'wasm', 'tensorflow'] as const)('whole-layer kernels on %s', (backend) => {
  for (const H of [16, 12]) {
    for (const [name, cell, kernel, layerCell] of CELLS) {
      it(`${name}, H = ${H}: equals the per-step path — outputs, final state, every gradient; masked and not; 1 and 2 threads`, async (ctx) => {
        const skip = await activateBackend(backend);
        if (skip) return ctx.skip(skip);
        const layer = build(cell, H);
        for (const withMask of [false, true]) {
          // On tensorflow unmasked sequences run as TensorFlow ops (../src/tensorflow-sequence.ts); the GRU and RNN need H a multiple of 8 everywhere.
          const applies = (layerCell === 'lstm' || H % 8 === 0) && (backend !== 'tensorflow' || withMask);
          expect(fusedLayerAvailable(layerCell, H, withMask), `${name}${withMask ? ', masked' : ''}`).toBe(applies);
          setFusedSequenceMode('composite');
          const want = run(layer, withMask);
          setFusedSequenceMode('auto');
          for (const threads of [1, 2]) {
            setSimdThreads(threads);
            const names = (await tf.profile(() => tf.dispose(run(layer, withMask)))).kernels.map((k) => k.name);
            if (applies) expect(names).toContain(`${kernel}Grad`);
            else expect(names).not.toContain(kernel);
            const got = run(layer, withMask);
            expectClose(got.output, want.output, 2e-5);
            expectClose(got.h, want.h, 2e-5);
            got.grads.forEach((g, i) => expectClose(g, want.grads[i]!, 2e-4));
            got.inputGrads.forEach((g, i) => expectClose(g, want.inputGrads[i]!, 2e-4));
            tf.dispose(got);
          }
          tf.dispose(want);
        }
        layer.dispose();
      });
    }
  }

  it('leaks no tensors, forward + backward, every cell', async (ctx) => {
    const skip = await activateBackend(backend);
    if (skip) return ctx.skip(skip);
    for (const [, cell] of CELLS) {
      const layer = build(cell, 16);
      expectNoLeak(() => tf.dispose(run(layer, true)));
      layer.dispose();
    }
  });
});
