// Attend's native recurrence ops on the tensorflow backend (@attend/core's native/attend_ops.cc:
// AttendLstmRecurrence, AttendGruRecurrence, AttendGruResetAfterRecurrence, AttendRnnRecurrence and
// their gradients; ../src/tensorflow-sequence.ts's *Native paths) against the TensorFlow-op paths,
// which ./tensorflow-sequence.test.ts checks against autodiff through the cells' own steps: outputs,
// final states and every gradient, for every cell, at a size that runs on one thread and at one that
// splits the hidden units over two (uneven shards, batch rows not a multiple of the 4-row tile);
// inference without a tape; no leaks; shape errors; and the language model's one-op LSTM step
// (AttendLstmLmStep) against its TensorFlow-op step. Skipped where tfjs-node is not built; where CI
// builds it (ATTEND_EXPECT_TENSORFLOW=1) the native ops must be loaded.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTensorflowOp, setTensorflowNativeOps, tensorflowNativeOps } from '@attend/core';
import { activateTensorflowNative } from '@attend/test-utils';
import { GRUCell } from '../src/gru.js';
import { LSTMCell } from '../src/lstm.js';
import { SimpleRNNCell } from '../src/simple-rnn.js';
import { RNNLayer } from '../src/rnn-layer.js';
import { RNNLanguageModel } from '../src/language-model.js';
import type { RecurrentCell } from '../src/cell.js';

let skip = '';
beforeAll(async () => {
  skip = await activateTensorflowNative();
  if (skip) console.warn(`skipped: ${skip}`);
});
afterAll(() => void setTensorflowNativeOps(true));

const maxDiff = (a: tf.Tensor, b: tf.Tensor) => {
  const x = a.dataSync();
  const y = b.dataSync();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
};
const maxAbs = (a: tf.Tensor) => (a.dataSync() as Float32Array).reduce((m: number, v: number) => Math.max(m, Math.abs(v)), 1);

const D = 3;
const cells: [string, (H: number, seed: number) => RecurrentCell][] = [
  ['LSTM', (H, seed) => new LSTMCell({ inputSize: D, hidden: H, seed })],
  ['taught GRU', (H, seed) => new GRUCell({ inputSize: D, hidden: H, seed })],
  ['reset-after GRU', (H, seed) => new GRUCell({ inputSize: D, hidden: H, resetAfter: true, seed })],
  ['RNN tanh', (H, seed) => new SimpleRNNCell({ inputSize: D, hidden: H, seed })],
  ['RNN relu', (H, seed) => new SimpleRNNCell({ inputSize: D, hidden: H, activation: 'relu', seed })],
];

/** Random non-zero biases and initial states, so that every term of the equations shows. */
function perturb(cell: RecurrentCell, seed: number): void {
  for (const [k, v] of Object.entries(cell.variables()) as [string, tf.Variable][]) if (k.startsWith('b')) v.assign(tf.randomNormal(v.shape, 0, 0.5, 'float32', seed++));
}

describe.each([
  [3, 5, 4], // one shard
  [18, 4, 300], // two shards of 160 and 140 units; 18 rows = 4 tiles of 4 + 2
])('native recurrence ops, B %i, T %i, H %i', (B, T, H) => {
  for (const [name, make] of cells) {
    it(`${name}: outputs, final state and every gradient match the TensorFlow-op path`, (ctx) => {
      if (skip) return ctx.skip();
      const cell = make(H, 7);
      perturb(cell, 100);
      const layer = new RNNLayer(cell);
      const x = tf.randomNormal([B, T, D], 0, 1, 'float32', 11) as tf.Tensor3D;
      const h0 = tf.randomNormal([B, H], 0, 0.5, 'float32', 12) as tf.Tensor2D;
      const c0 = tf.randomNormal([B, H], 0, 0.5, 'float32', 13) as tf.Tensor2D;
      const initial = { h: [h0], ...(name === 'LSTM' ? { c: [c0] } : {}) };
      const w = tf.sin(tf.reshape(tf.range(0, B * T * H), [B, T, H]));
      const f = () => {
        const r = layer.forward(x, { initialState: initial });
        const last = tf.add(tf.sum(tf.mul(r.state.h[0]!, 0.3)), r.state.c ? tf.sum(tf.mul(r.state.c[0]!, -0.6)) : 0);
        return tf.add(tf.sum(tf.mul(r.output, w)), last) as tf.Scalar;
      };
      const gradsOf = () => tf.grads((xx: tf.Tensor, hh: tf.Tensor, cc: tf.Tensor) => {
        const r = layer.forward(xx as tf.Tensor3D, { initialState: { h: [hh as tf.Tensor2D], ...(name === 'LSTM' ? { c: [cc as tf.Tensor2D] } : {}) } });
        const last = tf.add(tf.sum(tf.mul(r.state.h[0]!, 0.3)), r.state.c ? tf.sum(tf.mul(r.state.c[0]!, -0.6)) : tf.mul(tf.sum(cc), 0));
        return tf.add(tf.sum(tf.mul(r.output, w)), last) as tf.Scalar;
      })([x, h0, c0]);
      expect(tensorflowNativeOps()).toBe(true);
      const native = tf.variableGrads(f);
      const nativeInputs = gradsOf();
      const before = setTensorflowNativeOps(false);
      const ops = tf.variableGrads(f);
      const opsInputs = gradsOf();
      setTensorflowNativeOps(before);
      const rel = (a: tf.Tensor, b: tf.Tensor) => maxDiff(a, b) / maxAbs(b);
      expect(rel(native.value, ops.value), 'loss').toBeLessThan(1e-5);
      for (const k of Object.keys(ops.grads)) expect(rel(native.grads[k]!, ops.grads[k]!), `∂${k}`).toBeLessThan(1e-4);
      ['∂x', '∂h0', '∂c0'].forEach((what, i) => expect(rel(nativeInputs[i]!, opsInputs[i]!), what).toBeLessThan(1e-4));
      // Inference (no tape) gives the same output and keeps nothing.
      const start = tf.memory().numTensors;
      const plain = layer.forward(x, { initialState: initial });
      const taped = tf.tidy(() => {
        let out: tf.Tensor | undefined;
        tf.grad((xx: tf.Tensor) => {
          const o = layer.forward(xx as tf.Tensor3D, { initialState: initial }).output;
          out = tf.keep(tf.clone(o));
          return tf.sum(o);
        })(x);
        return out!;
      });
      expect(maxDiff(plain.output, taped)).toBe(0);
      tf.dispose([plain, taped]);
      expect(tf.memory().numTensors, 'no tensors kept or leaked').toBe(start);
      tf.dispose([native.value, native.grads, ops.value, ops.grads, nativeInputs, opsInputs, x, h0, c0, w]);
      layer.dispose();
    });
  }
});

describe('native recurrence ops: bad shapes', () => {
  it('are refused with the expected and actual shapes', (ctx) => {
    if (skip) return ctx.skip();
    const zx = tf.zeros([2, 3, 8]);
    const wh = tf.zeros([3, 12]); // an LSTM of 3 units needs zx [B, T, 12]
    const h0 = tf.zeros([2, 3]);
    expect(() => runTensorflowOp('AttendLstmRecurrence', [zx, wh, h0, h0], [], 3)).toThrow(/AttendLstmRecurrence: expected w_h \[H,4H\] and zx \[B,T,4H\], got \[3,12\] and \[2,3,8\]/);
    expect(() => runTensorflowOp('AttendRnnRecurrence', [tf.zeros([2, 0, 3]), tf.zeros([3, 3]), h0], [], 1)).toThrow(/T > 0/);
    tf.dispose([zx, wh, h0]);
  });
});

describe('native LSTM language-model step (AttendLstmLmStep)', () => {
  it('gives the logits and states of the TensorFlow-op step, samples the same ids, keeps nothing, and leaves training steps to the taped path', (ctx) => {
    if (skip) return ctx.skip(skip);
    const model = new RNNLanguageModel({ cell: 'lstm', vocabSize: 11, embed: 6, hidden: 40, layers: 2, seed: 3 });
    tf.tidy(() => {
      for (const v of Object.values(model.variables())) if (v.name.includes('b')) v.assign(tf.randomNormal(v.shape, 0, 0.5, 'float32', 5));
    });
    const ids = tf.tensor1d([3, 0, 10], 'int32');
    const state = { h: [0, 1].map((l) => tf.randomNormal([3, 40], 0, 0.5, 'float32', 7 + l)) as tf.Tensor2D[], c: [0, 1].map((l) => tf.randomNormal([3, 40], 0, 0.5, 'float32', 9 + l)) as tf.Tensor2D[] };
    const both = (f: () => { logits: tf.Tensor2D; state: { h: tf.Tensor2D[]; c?: tf.Tensor2D[] } }) => {
      const native = f();
      const before = setTensorflowNativeOps(false);
      const ops = f();
      setTensorflowNativeOps(before);
      return { native, ops };
    };
    for (const s of [state, undefined]) {
      const { native, ops } = both(() => model.step(ids, s));
      expect(maxDiff(native.logits, ops.logits), 'logits').toBeLessThan(1e-5);
      for (const k of ['h', 'c'] as const) native.state[k]!.forEach((t, l) => expect(maxDiff(t, ops.state[k]![l]!), `${k}[${l}]`).toBeLessThan(1e-5));
      tf.dispose([native, ops] as unknown as tf.TensorContainer);
    }
    const start = tf.memory().numTensors;
    const a = model.sample({ prime: [1, 2, 3], length: 40, seed: 4, temperature: 0.9 });
    const before = setTensorflowNativeOps(false);
    const b = model.sample({ prime: [1, 2, 3], length: 40, seed: 4, temperature: 0.9 });
    setTensorflowNativeOps(before);
    expect(a).toEqual(b);
    expect(tf.memory().numTensors).toBe(start);
    // Under a tape the step keeps its differentiable path (the native op has no gradient).
    const g = tf.grad((w: tf.Tensor) => tf.sum(tf.mul(model.step(ids, state).logits, w)))(tf.ones([3, 11]));
    expect(g.shape).toEqual([3, 11]);
    const gw = tf.variableGrads(() => tf.sum(model.step(ids, state).logits) as tf.Scalar, [model.W_hy]);
    expect(tf.sum(tf.abs(gw.grads[model.W_hy.name]!)).dataSync()[0]).toBeGreaterThan(0);
    expect(() => model.step(tf.tensor1d([1, 11, 0], 'int32'), state)).toThrow(/ids\[1\] = 11 is not a token id in \[0, 11\)/);
    tf.dispose([ids, g, gw.value, gw.grads] as unknown as tf.TensorContainer);
    tf.dispose(state as unknown as tf.TensorContainer);
    model.dispose();
  });
});
