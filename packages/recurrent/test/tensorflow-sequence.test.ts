// The recurrent layers as TensorFlow ops step by step (../src/tensorflow-sequence.ts: the LSTM with
// LSTMBlockCellGrad, both GRUs, the vanilla RNN with tanh and relu) against autodiff through
// the per-step cell ops, on the tensorflow backend (tfjs-node), where masked sequences take the SIMD
// layer kernel (./fused-layer.test.ts) instead; and the one-op generation steps (LSTMBlockCell,
// GRUBlockCell; ../src/tensorflow-step.ts). Skipped, with the reason printed, where tfjs-node is not
// built; CI builds it (`attend setup tensorflow`) and sets ATTEND_EXPECT_TENSORFLOW=1. Attend's native
// recurrence ops are turned off here (their own tests, ./tensorflow-native.test.ts, compare them with
// these paths).
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTensorflowNativeOps } from '@attend/core';
import { activateBackend } from '@attend/test-utils';
import { gruLayerTensorflow, gruResetAfterLayerTensorflow, lstmLayerTensorflow, rnnLayerTensorflow } from '../src/tensorflow-sequence.js';
import { tensorflowAvailable } from '../src/tensorflow-step.js';
import { SimpleRNNCell } from '../src/simple-rnn.js';
import { GRUCell } from '../src/gru.js';
import { LSTMCell } from '../src/lstm.js';
import { RNNLayer, setHandWrittenBackward, setTensorflowSequenceOps } from '../src/rnn-layer.js';
import { LSTM_LAYER_GRAD } from '../src/fused-layer.js';

const B = 3;
const T = 5;
const D = 2;
const H = 4;
let skip = '';

beforeAll(async () => {
  skip = await activateBackend('tensorflow');
  if (skip) console.warn(`skipped: ${skip}`);
  setTensorflowNativeOps(false);
});
afterAll(() => void setTensorflowNativeOps(true));

function inputs(seed: number) {
  return [
    tf.randomNormal([B, T, D], 0, 1, 'float32', seed),
    tf.randomNormal([D, 4 * H], 0, 0.5, 'float32', seed + 1),
    tf.randomNormal([H, 4 * H], 0, 0.5, 'float32', seed + 2),
    tf.randomNormal([4 * H], 0, 0.5, 'float32', seed + 3),
    tf.randomNormal([B, H], 0, 0.5, 'float32', seed + 4),
    tf.randomNormal([B, H], 0, 0.5, 'float32', seed + 5),
  ] as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor2D, tf.Tensor2D];
}

/** Reference: our equations step by step (gate order i, f, g, o), tfjs autodiff. */
function composite(x: tf.Tensor3D, W_x: tf.Tensor2D, W_h: tf.Tensor2D, b: tf.Tensor1D, h0: tf.Tensor2D, c0: tf.Tensor2D) {
  let h: tf.Tensor2D = h0;
  let c: tf.Tensor2D = c0;
  const hs: tf.Tensor2D[] = [];
  for (const xt of tf.unstack(x, 1) as tf.Tensor2D[]) {
    const z = tf.add(tf.add(tf.matMul(xt, W_x), tf.matMul(h, W_h)), b);
    const [zi, zf, zg, zo] = tf.split(z, 4, 1);
    c = tf.add(tf.mul(tf.sigmoid(zf!), c), tf.mul(tf.sigmoid(zi!), tf.tanh(zg!)));
    h = tf.mul(tf.sigmoid(zo!), tf.tanh(c));
    hs.push(h);
  }
  return { hs: tf.stack(hs, 1) as tf.Tensor3D, h, c };
}

function loss(f: typeof composite, xs: tf.Tensor[]) {
  const r = f(...(xs as Parameters<typeof composite>));
  const w = tf.sin(tf.reshape(tf.range(0, B * T * H), [B, T, H]));
  return tf.add(tf.add(tf.sum(tf.mul(r.hs, w)), tf.sum(tf.mul(r.h, 0.7))), tf.sum(tf.mul(r.c, -1.3))) as tf.Scalar;
}

const maxDiff = (a: tf.Tensor, b: tf.Tensor) => Math.max(...Array.from(a.dataSync(), (v, i) => Math.abs(v - b.dataSync()[i]!)));

describe('lstmLayerTensorflow (TensorFlow ops per step, LSTMBlockCellGrad)', () => {
  it('is used only on the tensorflow backend', (ctx) => {
    if (skip) return ctx.skip();
    expect(tensorflowAvailable()).toBe(true);
  });

  it('computes the same outputs and gradients as the step-by-step cell', (ctx) => {
    if (skip) return ctx.skip();
    const xs = inputs(11);
    const a = lstmLayerTensorflow(...xs);
    const r = composite(...xs);
    for (const k of ['hs', 'h', 'c'] as const) expect(maxDiff(a[k], r[k]), k).toBeLessThan(1e-5);
    const ga = tf.grads((...v: tf.Tensor[]) => loss(lstmLayerTensorflow as typeof composite, v))(xs);
    const gb = tf.grads((...v: tf.Tensor[]) => loss(composite, v))(xs);
    ga.forEach((g, k) => {
      expect(g.shape, `input ${k}`).toEqual(gb[k]!.shape);
      expect(maxDiff(g, gb[k]!), `input ${k}`).toBeLessThan(1e-4);
    });
  });

  it('RNNLayer picks it for unmasked LSTMs and agrees with the reference path', (ctx) => {
    if (skip) return ctx.skip();
    const layer = new RNNLayer(new LSTMCell({ inputSize: D, hidden: H, seed: 3 }));
    const x = inputs(5)[0];
    const f = () => tf.sum(tf.square(layer.forward(x).output)) as tf.Scalar;
    const fused = tf.variableGrads(f);
    const before = setHandWrittenBackward(false);
    const ref = tf.variableGrads(f);
    setHandWrittenBackward(before);
    expect(Math.abs(fused.value.dataSync()[0]! - ref.value.dataSync()[0]!)).toBeLessThan(1e-4);
    for (const k of Object.keys(ref.grads)) expect(maxDiff(fused.grads[k]!, ref.grads[k]!), k).toBeLessThan(1e-4);
    layer.dispose();
  });

  it('RNNLayer runs masked LSTMs as the SIMD layer kernel here, agreeing with the reference path', async (ctx) => {
    if (skip) return ctx.skip();
    const layer = new RNNLayer(new LSTMCell({ inputSize: D, hidden: H, seed: 3 }));
    const x = inputs(6)[0];
    const mask = tf.tensor2d([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]]);
    const f = () => {
      const r = layer.forward(x, { mask });
      return tf.add(tf.sum(tf.square(r.output)), tf.sum(tf.mul(r.state.c![0]!, 0.5))) as tf.Scalar;
    };
    const names = (await tf.profile(() => tf.dispose(tf.variableGrads(f)))).kernels.map((k) => k.name);
    expect(names).toContain(LSTM_LAYER_GRAD);
    const fast = tf.variableGrads(f);
    const before = setHandWrittenBackward(false);
    const ref = tf.variableGrads(f);
    setHandWrittenBackward(before);
    expect(Math.abs(fast.value.dataSync()[0]! - ref.value.dataSync()[0]!)).toBeLessThan(1e-4);
    for (const k of Object.keys(ref.grads)) expect(maxDiff(fast.grads[k]!, ref.grads[k]!), k).toBeLessThan(1e-4);
    tf.dispose([fast.value, fast.grads, ref.value, ref.grads, x, mask]);
    layer.dispose();
  });

  it('leaks no tensors', (ctx) => {
    if (skip) return ctx.skip();
    const xs = inputs(2);
    const run = () => tf.dispose(tf.grads((...v: tf.Tensor[]) => loss(lstmLayerTensorflow as typeof composite, v))(xs));
    run();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) run();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('RNNLayer.step runs one fused LSTMBlockCell op here: the same h and c as the composite step, no leaks, repacked after the weights change', async (ctx) => {
    if (skip) return ctx.skip();
    const cell = new LSTMCell({ inputSize: D, hidden: H, seed: 4 });
    const layer = new RNNLayer(cell);
    const [x3, , , , h0, c0] = inputs(9);
    const x = tf.reshape(tf.slice(x3, [0, 0, 0], [B, 1, D]), [B, D]) as tf.Tensor2D;
    const state = { h: [h0], c: [c0] };
    const reference = () => tf.tidy(() => composite(tf.expandDims(x, 1) as tf.Tensor3D, cell.W_x as tf.Tensor2D, cell.W_h as tf.Tensor2D, cell.b as tf.Tensor1D, h0, c0));
    const check = async () => {
      const prof = await tf.profile(() => tf.dispose(layer.step(x, state)));
      expect(prof.kernels.map((k) => k.name)).not.toContain('BatchMatMul'); // no per-gate matmuls: the fused cell ran
      const r = layer.step(x, state);
      const ref = reference();
      expect(maxDiff(r.y, ref.h)).toBeLessThan(1e-5);
      expect(maxDiff(r.state.c![0]!, ref.c)).toBeLessThan(1e-5);
      tf.dispose([r, ref]);
    };
    await check();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) tf.dispose(layer.step(x, state));
    expect(tf.memory().numTensors).toBe(before);
    cell.W_h.assign(tf.mul(cell.W_h, 0.5) as tf.Tensor2D); // new weights: the packed copy must follow
    await check();
    // Under a gradient tape the composite step runs (the fused cell has no gradient).
    const g = tf.grad((xx: tf.Tensor) => tf.sum(layer.step(xx as tf.Tensor2D, state).y))(x);
    expect(Number.isFinite(tf.sum(g).dataSync()[0])).toBe(true);
    tf.dispose([g, x, x3, h0, c0]);
    layer.dispose();
  });

  it('RNNLayer.step of the taught GRU runs one fused GRUBlockCell op here: the same h as the cell\'s own step', async (ctx) => {
    if (skip) return ctx.skip();
    const cell = new GRUCell({ inputSize: D, hidden: H, seed: 5 });
    const layer = new RNNLayer(cell);
    const x = tf.randomNormal([B, D], 0, 1, 'float32', 11) as tf.Tensor2D;
    const h0 = tf.randomNormal([B, H], 0, 0.5, 'float32', 12) as tf.Tensor2D;
    cell.b.assign(tf.randomNormal([3 * H], 0, 0.5, 'float32', 13) as tf.Tensor1D); // non-zero biases: the z block's sign matters
    const prof = await tf.profile(() => tf.dispose(layer.step(x, { h: [h0] })));
    expect(prof.kernels.map((k) => k.name)).not.toContain('BatchMatMul'); // the fused cell ran
    const r = layer.step(x, { h: [h0] });
    const ref = tf.tidy(() => cell.stepper()(cell.projectInput(x), { h: h0 }).h);
    expect(maxDiff(r.y, ref)).toBeLessThan(1e-5);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) tf.dispose(layer.step(x, { h: [h0] }));
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([r, ref, x, h0]);
    layer.dispose();
  });
});

describe('gruLayerTensorflow (TensorFlow ops per step)', () => {
  /** The taught GRU's own step, autodiff: the reference. */
  function reference(x: tf.Tensor3D, cell: GRUCell, h0: tf.Tensor2D) {
    let h = h0;
    const hs: tf.Tensor2D[] = [];
    const step = cell.stepper();
    for (const xt of tf.unstack(x, 1) as tf.Tensor2D[]) {
      h = step(cell.projectInput(xt), { h }).h;
      hs.push(h);
    }
    return { hs: tf.stack(hs, 1) as tf.Tensor3D, h };
  }
  const weight = () => tf.sin(tf.reshape(tf.range(0, B * T * H), [B, T, H]));

  it('computes the same outputs and gradients (x, W_x, W_h, b, h0) as the step-by-step cell, with non-zero biases', (ctx) => {
    if (skip) return ctx.skip();
    const cell = new GRUCell({ inputSize: D, hidden: H, seed: 7 });
    cell.b.assign(tf.randomNormal([3 * H], 0, 0.5, 'float32', 21) as tf.Tensor1D); // the z block's sign matters
    const x = tf.randomNormal([B, T, D], 0, 1, 'float32', 22) as tf.Tensor3D;
    const h0 = tf.randomNormal([B, H], 0, 0.5, 'float32', 23) as tf.Tensor2D;
    const w = weight();
    const fused = (xx: tf.Tensor3D, W_x: tf.Tensor2D, W_h: tf.Tensor2D, b: tf.Tensor1D, hh: tf.Tensor2D) => gruLayerTensorflow(xx, W_x, W_h, b, hh);
    const a = fused(x, cell.W_x as tf.Tensor2D, cell.W_h as tf.Tensor2D, cell.b as tf.Tensor1D, h0);
    const r = reference(x, cell, h0);
    expect(maxDiff(a.hs, r.hs)).toBeLessThan(1e-5);
    expect(maxDiff(a.h, r.h)).toBeLessThan(1e-5);
    const lossOf = (o: { hs: tf.Tensor3D; h: tf.Tensor2D }) => tf.add(tf.sum(tf.mul(o.hs, w)), tf.sum(tf.mul(o.h, 0.7))) as tf.Scalar;
    const inputsOf = [x, cell.W_x, cell.W_h, cell.b, h0] as tf.Tensor[];
    const ga = tf.grads((...v: tf.Tensor[]) => lossOf(fused(v[0] as tf.Tensor3D, v[1] as tf.Tensor2D, v[2] as tf.Tensor2D, v[3] as tf.Tensor1D, v[4] as tf.Tensor2D)))(inputsOf);
    // The reference differentiates through the cell's variables: rebuild it from plain tensors.
    const refLoss = (...v: tf.Tensor[]) => {
      const [xx, W_x, W_h, b, hh] = v as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor2D];
      let h = hh;
      const hs: tf.Tensor2D[] = [];
      for (const xt of tf.unstack(xx, 1) as tf.Tensor2D[]) {
        const [xr, xz, xn] = tf.split(tf.add(tf.matMul(xt, W_x), b), 3, 1);
        const [Wr, Wz, Wn] = tf.split(W_h, 3, 1);
        const rg = tf.sigmoid(tf.add(xr!, tf.matMul(h, Wr!)));
        const z = tf.sigmoid(tf.add(xz!, tf.matMul(h, Wz!)));
        const n = tf.tanh(tf.add(xn!, tf.matMul(tf.mul(rg, h), Wn!)));
        h = tf.add(tf.mul(tf.sub(1, z), h), tf.mul(z, n)) as tf.Tensor2D;
        hs.push(h);
      }
      return lossOf({ hs: tf.stack(hs, 1) as tf.Tensor3D, h });
    };
    const gb = tf.grads(refLoss)(inputsOf);
    ga.forEach((g, k) => {
      expect(g.shape, `input ${k}`).toEqual(gb[k]!.shape);
      expect(maxDiff(g, gb[k]!), `input ${k}`).toBeLessThan(1e-4);
    });
    tf.dispose([a, r, ga, gb, x, h0, w]);
    cell.dispose();
  });

  it('RNNLayer picks it for unmasked taught GRUs (no per-step BatchMatMul), agreeing with the hand-written path; masked ones stay hand-written', async (ctx) => {
    if (skip) return ctx.skip();
    const layer = new RNNLayer(new GRUCell({ inputSize: D, hidden: H, seed: 8 }));
    const x = tf.randomNormal([B, T, D], 0, 1, 'float32', 24) as tf.Tensor3D;
    const f = () => tf.sum(tf.mul(layer.forward(x).output, tf.sin(tf.reshape(tf.range(0, B * T * H), [B, T, H])))) as tf.Scalar;
    const prof = await tf.profile(() => tf.dispose(layer.forward(x)));
    const names = prof.kernels.map((k) => k.name);
    expect(names.filter((n) => n === 'BatchMatMul').length).toBeLessThanOrEqual(2); // the input projections ([r, z] and n) at most: the steps run past tfjs
    const fused = tf.variableGrads(f);
    const before = setTensorflowSequenceOps(false);
    const hand = tf.variableGrads(f);
    setTensorflowSequenceOps(before);
    expect(Math.abs(fused.value.dataSync()[0]! - hand.value.dataSync()[0]!)).toBeLessThan(1e-4);
    for (const k of Object.keys(hand.grads)) expect(maxDiff(fused.grads[k]!, hand.grads[k]!), k).toBeLessThan(1e-4);
    const mask = tf.tensor2d([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]]);
    const masked = await tf.profile(() => tf.dispose(layer.forward(x, { mask })));
    expect(masked.kernels.map((k) => k.name).filter((n) => n === 'BatchMatMul').length).toBeGreaterThan(T); // per-step matmuls: the hand-written path
    tf.dispose([fused.value, fused.grads, hand.value, hand.grads, x, mask]);
    layer.dispose();
  });

  it('leaks no tensors', (ctx) => {
    if (skip) return ctx.skip();
    const cell = new GRUCell({ inputSize: D, hidden: H, seed: 9 });
    const x = tf.randomNormal([B, T, D], 0, 1, 'float32', 25) as tf.Tensor3D;
    const h0 = tf.zeros([B, H]) as tf.Tensor2D;
    const run = () => tf.dispose(tf.grads((xx: tf.Tensor, hh: tf.Tensor) => tf.sum(gruLayerTensorflow(xx as tf.Tensor3D, cell.W_x as tf.Tensor2D, cell.W_h as tf.Tensor2D, cell.b as tf.Tensor1D, hh as tf.Tensor2D).hs))([x, h0]));
    run();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) run();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, h0]);
    cell.dispose();
  });
});

describe('rnnLayerTensorflow (TensorFlow ops per step)', () => {
  /** The vanilla RNN step by step, autodiff: the reference. */
  function reference(x: tf.Tensor3D, W_xh: tf.Tensor2D, W_hh: tf.Tensor2D, b: tf.Tensor1D, h0: tf.Tensor2D, activation: 'tanh' | 'relu') {
    let h = h0;
    const hs: tf.Tensor2D[] = [];
    for (const xt of tf.unstack(x, 1) as tf.Tensor2D[]) {
      const z = tf.add(tf.add(tf.matMul(xt, W_xh), tf.matMul(h, W_hh)), b);
      h = (activation === 'tanh' ? tf.tanh(z) : tf.relu(z)) as tf.Tensor2D;
      hs.push(h);
    }
    return { hs: tf.stack(hs, 1) as tf.Tensor3D, h };
  }
  const args = (seed: number) =>
    [
      tf.randomNormal([B, T, D], 0, 1, 'float32', seed),
      tf.randomNormal([D, H], 0, 0.5, 'float32', seed + 1),
      tf.randomNormal([H, H], 0, 0.5, 'float32', seed + 2),
      tf.randomNormal([H], 0, 0.5, 'float32', seed + 3),
      tf.randomNormal([B, H], 0, 0.5, 'float32', seed + 4),
    ] as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor2D];
  const lossOf = (o: { hs: tf.Tensor3D; h: tf.Tensor2D }) => tf.add(tf.sum(tf.mul(o.hs, tf.sin(tf.reshape(tf.range(0, B * T * H), [B, T, H])))), tf.sum(tf.mul(o.h, -0.9))) as tf.Scalar;

  for (const activation of ['tanh', 'relu'] as const) {
    it(`computes the same outputs and gradients (x, W_xh, W_hh, b, h0) as the step-by-step cell (${activation})`, (ctx) => {
      if (skip) return ctx.skip();
      const xs = args(activation === 'tanh' ? 31 : 41);
      const a = rnnLayerTensorflow(...xs, activation);
      const r = reference(...xs, activation);
      expect(maxDiff(a.hs, r.hs)).toBeLessThan(1e-5);
      expect(maxDiff(a.h, r.h)).toBeLessThan(1e-5);
      const ga = tf.grads((...v: tf.Tensor[]) => lossOf(rnnLayerTensorflow(...(v as typeof xs), activation)))(xs);
      const gb = tf.grads((...v: tf.Tensor[]) => lossOf(reference(...(v as typeof xs), activation)))(xs);
      ga.forEach((g, k) => {
        expect(g.shape, `input ${k}`).toEqual(gb[k]!.shape);
        expect(maxDiff(g, gb[k]!), `input ${k}`).toBeLessThan(1e-4);
      });
      tf.dispose([a, r, ga, gb, xs]);
    });
  }

  it('RNNLayer picks it for unmasked sequences (no per-step BatchMatMul), agreeing with the hand-written path', async (ctx) => {
    if (skip) return ctx.skip();
    const layer = new RNNLayer(new SimpleRNNCell({ inputSize: D, hidden: H, seed: 10 }));
    const x = tf.randomNormal([B, T, D], 0, 1, 'float32', 26) as tf.Tensor3D;
    const f = () => {
      const r = layer.forward(x);
      return lossOf({ hs: r.output as tf.Tensor3D, h: r.state.h[0]! });
    };
    const prof = await tf.profile(() => tf.dispose(layer.forward(x)));
    expect(prof.kernels.map((k) => k.name).filter((n) => n === 'BatchMatMul').length).toBeLessThanOrEqual(1); // the input projection at most
    const fast = tf.variableGrads(f);
    const before = setTensorflowSequenceOps(false);
    const hand = tf.variableGrads(f);
    setTensorflowSequenceOps(before);
    expect(Math.abs(fast.value.dataSync()[0]! - hand.value.dataSync()[0]!)).toBeLessThan(1e-4);
    for (const k of Object.keys(hand.grads)) expect(maxDiff(fast.grads[k]!, hand.grads[k]!), k).toBeLessThan(1e-4);
    tf.dispose([fast.value, fast.grads, hand.value, hand.grads, x]);
    layer.dispose();
  });

  it('leaks no tensors', (ctx) => {
    if (skip) return ctx.skip();
    const xs = args(51);
    const run = () => tf.dispose(tf.grads((...v: tf.Tensor[]) => lossOf(rnnLayerTensorflow(...(v as typeof xs), 'tanh')))(xs));
    run();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) run();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(xs);
  });
});

describe('the TensorFlow-op sequences at the edges', () => {
  it('without a gradient tape (inference) they give the same outputs and keep nothing', (ctx) => {
    if (skip) return ctx.skip();
    for (const cell of [new LSTMCell({ inputSize: D, hidden: H, seed: 37 }), new GRUCell({ inputSize: D, hidden: H, seed: 38 }), new GRUCell({ inputSize: D, hidden: H, resetAfter: true, seed: 39 }), new SimpleRNNCell({ inputSize: D, hidden: H, seed: 40 })]) {
      const layer = new RNNLayer(cell);
      const x = tf.randomNormal([B, T, D], 0, 1, 'float32', 71) as tf.Tensor3D;
      const taped = tf.grad((xx: tf.Tensor) => tf.sum(layer.forward(xx as tf.Tensor3D).output)); // keeps its per-step values for the backward pass
      const g = taped(x);
      const before = tf.memory().numTensors;
      const plain = layer.forward(x); // no tape
      const withTape = tf.tidy(() => {
        let out: tf.Tensor | undefined;
        tf.grad((xx: tf.Tensor) => {
          const o = layer.forward(xx as tf.Tensor3D).output;
          out = tf.keep(tf.clone(o));
          return tf.sum(o);
        })(x);
        return out!;
      });
      expect(maxDiff(plain.output, withTape), cell.constructor.name).toBe(0);
      tf.dispose([plain, withTape]);
      expect(tf.memory().numTensors, `${cell.constructor.name}: nothing kept`).toBe(before);
      tf.dispose([g, x]);
      layer.dispose();
    }
  });

  it('T = 1 and B = 1: every cell agrees with the hand-written path (output, final state, every gradient)', (ctx) => {
    if (skip) return ctx.skip();
    const cells = [
      () => new LSTMCell({ inputSize: D, hidden: H, seed: 31 }),
      () => new GRUCell({ inputSize: D, hidden: H, seed: 32 }),
      () => new GRUCell({ inputSize: D, hidden: H, resetAfter: true, seed: 35 }),
      () => new SimpleRNNCell({ inputSize: D, hidden: H, seed: 33 }),
      () => new SimpleRNNCell({ inputSize: D, hidden: H, activation: 'relu', seed: 34 }),
    ];
    for (const make of cells) {
      const layer = new RNNLayer(make());
      for (const [b, t] of [[1, 1], [2, 1], [1, 3]] as const) {
        const x = tf.randomNormal([b, t, D], 0, 1, 'float32', 40 + b * 10 + t) as tf.Tensor3D;
        const f = () => {
          const r = layer.forward(x);
          const w = tf.sin(tf.reshape(tf.range(0, b * t * H), [b, t, H]));
          const last = tf.add(tf.sum(tf.mul(r.state.h[0]!, 0.3)), r.state.c ? tf.sum(tf.mul(r.state.c[0]!, -0.6)) : 0);
          return tf.add(tf.sum(tf.mul(r.output, w)), last) as tf.Scalar;
        };
        const fast = tf.variableGrads(f);
        const before = setTensorflowSequenceOps(false);
        const hand = tf.variableGrads(f);
        setTensorflowSequenceOps(before);
        const what = `${layer.cell.constructor.name} B ${b} T ${t}`;
        expect(Math.abs(fast.value.dataSync()[0]! - hand.value.dataSync()[0]!), what).toBeLessThan(1e-5);
        for (const k of Object.keys(hand.grads)) expect(maxDiff(fast.grads[k]!, hand.grads[k]!), `${what} ${k}`).toBeLessThan(1e-5);
        tf.dispose([fast.value, fast.grads, hand.value, hand.grads, x]);
      }
      layer.dispose();
    }
  });
});

describe('gruResetAfterLayerTensorflow (TensorFlow ops per step)', () => {
  it('computes the same outputs and gradients (x, W_x, W_h, b_x, b_h, h0) as the cell\'s own step, with non-zero biases', (ctx) => {
    if (skip) return ctx.skip();
    const cell = new GRUCell({ inputSize: D, hidden: H, resetAfter: true, seed: 36 });
    const x = tf.randomNormal([B, T, D], 0, 1, 'float32', 61) as tf.Tensor3D;
    const h0 = tf.randomNormal([B, H], 0, 0.5, 'float32', 62) as tf.Tensor2D;
    const b_x = tf.randomNormal([3 * H], 0, 0.5, 'float32', 63) as tf.Tensor1D;
    const b_h = tf.randomNormal([3 * H], 0, 0.5, 'float32', 64) as tf.Tensor1D; // its n block sits inside r ⊙ (…)
    const w = tf.sin(tf.reshape(tf.range(0, B * T * H), [B, T, H]));
    const lossOf = (o: { hs: tf.Tensor3D; h: tf.Tensor2D }) => tf.add(tf.sum(tf.mul(o.hs, w)), tf.sum(tf.mul(o.h, 0.7))) as tf.Scalar;
    /** PyTorch's equations written out, autodiff: the reference. */
    const reference = (xx: tf.Tensor3D, W_x: tf.Tensor2D, W_h: tf.Tensor2D, bx: tf.Tensor1D, bh: tf.Tensor1D, hh: tf.Tensor2D) => {
      let h = hh;
      const hs: tf.Tensor2D[] = [];
      for (const xt of tf.unstack(xx, 1) as tf.Tensor2D[]) {
        const [xr, xz, xn] = tf.split(tf.add(tf.matMul(xt, W_x), bx), 3, 1);
        const [ar, az, an] = tf.split(tf.add(tf.matMul(h, W_h), bh), 3, 1);
        const r = tf.sigmoid(tf.add(xr!, ar!));
        const z = tf.sigmoid(tf.add(xz!, az!));
        const n = tf.tanh(tf.add(xn!, tf.mul(r, an!)));
        h = tf.add(tf.mul(tf.sub(1, z), h), tf.mul(z, n)) as tf.Tensor2D;
        hs.push(h);
      }
      return { hs: tf.stack(hs, 1) as tf.Tensor3D, h };
    };
    const args = [x, cell.W_x, cell.W_h, b_x, b_h, h0] as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor1D, tf.Tensor2D];
    const a = gruResetAfterLayerTensorflow(...args);
    const r = reference(...args);
    expect(maxDiff(a.hs, r.hs)).toBeLessThan(1e-5);
    expect(maxDiff(a.h, r.h)).toBeLessThan(1e-5);
    const ga = tf.grads((...v: tf.Tensor[]) => lossOf(gruResetAfterLayerTensorflow(...(v as typeof args))))(args);
    const gb = tf.grads((...v: tf.Tensor[]) => lossOf(reference(...(v as typeof args))))(args);
    ga.forEach((g, k) => {
      expect(g.shape, `input ${k}`).toEqual(gb[k]!.shape);
      expect(maxDiff(g, gb[k]!), `input ${k}`).toBeLessThan(1e-4);
    });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) tf.dispose(tf.grads((...v: tf.Tensor[]) => lossOf(gruResetAfterLayerTensorflow(...(v as typeof args))))(args));
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, r, ga, gb, x, h0, b_x, b_h, w]);
    cell.dispose();
  });
});
