// The hand-written BPTT paths (rnn-sequence.ts, lstm-sequence.ts, gru-sequence.ts) through the
// sequence layers, against the autodiff reference (setHandWrittenBackward(false)): for every cell,
// with and without a mask, with and without an initial state, as one layer, a 2-layer stack and a
// bidirectional layer — the same outputs, final states and gradients w.r.t. the input, the initial
// state and every weight (within 1e-4, cpu backend); the fast path really runs (a much shorter
// tape); and no tensor leaks across repeated forward + backward passes.
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@attend/core/node';
import { beforeAll, describe, expect, it } from 'vitest';
import { randn } from '@attend/test-utils';
import { Bidirectional, RNNLayer, StackedRNN, setHandWrittenBackward, type RNNLayerConfig, type RNNState, type SequenceLayer } from '../src/index.js';
import { expectClose, expectNoLeak } from './helpers.js';

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
});

const [B, T, D, H] = [3, 5, 3, 4];
const TOL = 1e-4;

const CELLS: [string, Omit<RNNLayerConfig, 'inputSize' | 'hidden'>][] = [
  ['rnn tanh', { cell: 'rnn', activation: 'tanh' }],
  ['rnn relu', { cell: 'rnn', activation: 'relu' }],
  ['lstm', { cell: 'lstm' }],
  ['gru', { cell: 'gru' }],
  ['gru resetAfter', { cell: 'gru', resetAfter: true }],
];
const ARCHS = ['layer', 'stacked', 'bidirectional'] as const;
type Arch = (typeof ARCHS)[number];

function build(arch: Arch, cell: Omit<RNNLayerConfig, 'inputSize' | 'hidden'>): SequenceLayer {
  const config = { ...cell, inputSize: D, hidden: H, seed: 11 };
  const model: SequenceLayer =
    arch === 'layer' ? new RNNLayer(config) : arch === 'stacked' ? new StackedRNN({ ...config, layers: 2 }) : new Bidirectional(config);
  let s = 60;
  for (const [name, v] of Object.entries(model.variables())) {
    if (/\/b(_\w+)?$/.test(name)) tf.tidy(() => v.assign(randn(v.shape, s++, 0.3))); // non-zero biases, incl. b_h
  }
  return model;
}

// Padding at the end, in the middle and at the start: the carry is defined for any mask.
const MASK = [
  [1, 1, 1, 1, 1],
  [1, 1, 1, 0, 0],
  [0, 1, 0, 1, 1],
];

interface Inputs {
  x: tf.Variable;
  h0: tf.Variable[];
  c0: tf.Variable[];
  mask?: tf.Tensor2D;
  R: tf.Tensor;
  Rh: tf.Tensor[];
}

function makeInputs(model: SequenceLayer, withMask: boolean, withInit: boolean): Inputs {
  const slots = model.stateSlots;
  return {
    x: tf.variable(randn([B, T, D], 1)),
    h0: withInit ? Array.from({ length: slots }, (_, i) => tf.variable(randn([B, H], 2 + i, 0.5))) : [],
    c0: withInit && model.hasCellState ? Array.from({ length: slots }, (_, i) => tf.variable(randn([B, H], 10 + i, 0.5))) : [],
    mask: withMask ? tf.tensor2d(MASK) : undefined,
    R: randn([B, T, model.outputSize], 3),
    Rh: Array.from({ length: 2 * slots }, (_, i) => randn([B, H], 20 + i)),
  };
}

/** Runs the model; the loss weighs every output and every final-state entry. */
function run(model: SequenceLayer, inp: Inputs) {
  const initialState: RNNState | undefined = inp.h0.length ? (inp.c0.length ? { h: inp.h0 as tf.Tensor2D[], c: inp.c0 as tf.Tensor2D[] } : { h: inp.h0 as tf.Tensor2D[] }) : undefined;
  const r = model.forward(inp.x as tf.Tensor3D, { mask: inp.mask, initialState });
  let L = tf.sum(tf.mul(r.output, inp.R));
  r.state.h.forEach((h, i) => (L = tf.add(L, tf.sum(tf.mul(h, inp.Rh[i]!)))));
  r.state.c?.forEach((c, i) => (L = tf.add(L, tf.sum(tf.mul(c, inp.Rh[model.stateSlots + i]!)))));
  return { r, L: L as tf.Scalar };
}

/** Forward values, gradients of everything and the tape length, on the current path. */
function measure(model: SequenceLayer, inp: Inputs) {
  const vars = [...Object.values(model.variables()), inp.x, ...inp.h0, ...inp.c0];
  let tape = 0;
  let kept: tf.Tensor[] = [];
  const { value, grads } = tf.variableGrads(() => {
    const { r, L } = run(model, inp);
    tape = tf.engine().state.activeTape?.length ?? 0;
    kept = [r.output, ...r.state.h, ...(r.state.c ?? [])].map((t) => tf.keep(t.clone())); // ours: disposed by the caller
    return L;
  }, vars);
  return { value, grads, kept, tape, names: vars.map((v) => v.name) };
}

describe.each(CELLS)('hand-written BPTT vs autodiff: %s', (_name, cell) => {
  describe.each(ARCHS)('%s', (arch) => {
    it.each([
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ])('mask %s, initial state %s: same outputs, final states and gradients', (withMask, withInit) => {
      const model = build(arch, cell);
      const inp = makeInputs(model, withMask, withInit);
      const fast = measure(model, inp);
      const before = setHandWrittenBackward(false);
      let ref: ReturnType<typeof measure>;
      try {
        ref = measure(model, inp);
      } finally {
        setHandWrittenBackward(before);
      }
      expect(fast.tape, 'the fast path records far fewer tape entries').toBeLessThan(ref.tape / 2);
      expectClose(fast.value, ref.value, TOL, 'loss');
      fast.kept.forEach((t, i) => expectClose(t, ref.kept[i]!, TOL, i === 0 ? 'output' : `final state ${i}`));
      let largest = 0;
      for (const name of fast.names) {
        expectClose(fast.grads[name]!, ref.grads[name]!, TOL, `d/d${name}`);
        largest = Math.max(largest, ...Array.from(ref.grads[name]!.dataSync(), Math.abs));
      }
      expect(largest).toBeGreaterThan(1e-2); // not vacuous
      if (withInit) for (const v of [...inp.h0, ...inp.c0]) expect(Math.max(...Array.from(fast.grads[v.name]!.dataSync(), Math.abs))).toBeGreaterThan(1e-4);
      tf.dispose([fast.value, ref.value, fast.grads, ref.grads, fast.kept, ref.kept, inp.x, inp.h0, inp.c0, inp.mask, inp.R, inp.Rh].flat() as tf.Tensor[]);
      model.dispose();
    });
  });

  it('returnSequences false (masked, layer): the last real output, same gradients', () => {
    const model = build('layer', cell);
    const inp = makeInputs(model, true, true);
    const f = () => tf.sum(tf.mul(model.forward(inp.x as tf.Tensor3D, { mask: inp.mask, returnSequences: false }).output, inp.Rh[0]!)) as tf.Scalar;
    const fast = tf.variableGrads(f);
    const before = setHandWrittenBackward(false);
    const ref = tf.variableGrads(f);
    setHandWrittenBackward(before);
    expectClose(fast.value, ref.value, TOL, 'loss');
    for (const k of Object.keys(ref.grads)) expectClose(fast.grads[k]!, ref.grads[k]!, TOL, k);
    tf.dispose([fast.value, ref.value, fast.grads, ref.grads, inp.x, inp.h0, inp.c0, inp.mask, inp.R, inp.Rh].flat() as tf.Tensor[]);
    model.dispose();
  });

  it.each(ARCHS)('%s, masked, with an initial state: no tensor leaks across forward + backward', (arch) => {
    const model = build(arch, cell);
    const inp = makeInputs(model, true, true);
    const vars = [...Object.values(model.variables()), inp.x, ...inp.h0, ...inp.c0];
    expectNoLeak(() => {
      const { value, grads } = tf.variableGrads(() => run(model, inp).L, vars);
      tf.dispose([value, grads]);
    });
    expectNoLeak(() => tf.dispose(tf.tidy(() => run(model, inp).L)));
    tf.dispose([inp.x, inp.h0, inp.c0, inp.mask, inp.R, inp.Rh].flat() as tf.Tensor[]);
    model.dispose();
  });
});
