// Golden values: our layers loaded with the weights in fixtures/golden.json must reproduce the
// reference outputs, final states and gradients (PyTorch's nn.RNN / nn.LSTM / nn.GRU, and a float64
// transcription of the taught GRU; see fixtures/make_fixtures.py) within 1e-5.
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@attend/core/node';
import { beforeAll, describe, expect, it } from 'vitest';
import { Bidirectional, RNNLayer, StackedRNN, type RNNState } from '../src/index.js';
import { expectClose, loadGolden, type GoldenCase, type Nested } from './helpers.js';

const golden = loadGolden();
const { D, H } = golden.meta;

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
});

const t = (v: Nested) => tf.tensor(v as number[]);
const weightsOf = (prefix: string, w: Record<string, Nested>) =>
  Object.fromEntries(Object.entries(w).map(([k, v]) => [`${prefix}/${k}`, t(v)]));
/** `[S, B, H]` nested → S tensors `[B, H]`. */
const slots = (v: Nested) => (v as Nested[]).map((s) => t(s) as tf.Tensor2D);

describe.each(['rnn_tanh', 'rnn_relu', 'lstm', 'gru', 'gru_reset_after'])('golden %s', (name) => {
  const c = golden.cases[name] as GoldenCase;
  const weights = c.weights as Record<string, Nested>;

  function build(): RNNLayer {
    const layer = new RNNLayer({ cell: c.cell, inputSize: D, hidden: H, ...(c.options ?? {}) });
    const record = weightsOf(c.cell, weights);
    layer.setWeights(record);
    tf.dispose(record);
    return layer;
  }

  it(`forward and final state match (${c.source})`, () => {
    const layer = build();
    const x = t(c.x) as tf.Tensor3D;
    const state: RNNState = c.c0 ? { h: [t(c.h0) as tf.Tensor2D], c: [t(c.c0) as tf.Tensor2D] } : { h: [t(c.h0) as tf.Tensor2D] };
    const r = layer.forward(x, { initialState: state });
    expectClose(r.output, c.output, 1e-5, 'output');
    expectClose(r.state.h[0]!, c.h_n, 1e-5, 'h_n');
    if (c.c_n) expectClose(r.state.c![0]!, c.c_n, 1e-5, 'c_n');
    const last = layer.forward(x, { initialState: state, returnSequences: false });
    expectClose(last.output, c.h_n, 1e-5, 'returnSequences: false');
    tf.dispose([x, state, r, last]);
    layer.dispose();
  });

  it('masked forward matches packed sequences', () => {
    const layer = build();
    const x = t(c.x) as tf.Tensor3D;
    const mask = t(c.masked.mask) as tf.Tensor2D;
    const state: RNNState = c.c0 ? { h: [t(c.h0) as tf.Tensor2D], c: [t(c.c0) as tf.Tensor2D] } : { h: [t(c.h0) as tf.Tensor2D] };
    const r = layer.forward(x, { initialState: state, mask });
    expectClose(r.output, c.masked.output, 1e-5, 'masked output');
    expectClose(r.state.h[0]!, c.masked.h_n, 1e-5, 'masked h_n');
    if (c.masked.c_n) expectClose(r.state.c![0]!, c.masked.c_n, 1e-5, 'masked c_n');
    tf.dispose([x, mask, state, r]);
    layer.dispose();
  });

  it('loss and gradients w.r.t. inputs, initial state and every weight match', () => {
    const layer = build();
    const x = tf.variable(t(c.x));
    const h0 = tf.variable(t(c.h0));
    const c0 = c.c0 ? tf.variable(t(c.c0)) : undefined;
    const R = Object.fromEntries(Object.entries(c.loss_weights!).map(([k, v]) => [k, t(v)]));
    const vars = layer.variables();
    const { value, grads } = tf.variableGrads(() => {
      const r = layer.forward(x as tf.Tensor3D, { initialState: c0 ? { h: [h0 as tf.Tensor2D], c: [c0 as tf.Tensor2D] } : { h: [h0 as tf.Tensor2D] } });
      let L = tf.add(tf.sum(tf.mul(r.output, R.output!)), tf.sum(tf.mul(r.state.h[0]!, R.h_n!)));
      if (c0) L = tf.add(L, tf.sum(tf.mul(r.state.c![0]!, R.c_n!)));
      return L as tf.Scalar;
    }, [x, h0, ...(c0 ? [c0] : []), ...Object.values(vars)]);
    expect(value.dataSync()[0]).toBeCloseTo(c.loss!, 4);
    const byName: Record<string, tf.Tensor> = { x: grads[x.name]!, h0: grads[h0.name]! };
    if (c0) byName.c0 = grads[c0.name]!;
    for (const [k, v] of Object.entries(vars)) byName[k.slice(c.cell.length + 1)] = grads[v.name]!;
    expect(Object.keys(byName).sort()).toEqual(Object.keys(c.grads!).sort());
    for (const [k, g] of Object.entries(c.grads!)) expectClose(byName[k]!, g, 1e-5, `d loss / d ${k}`);
    tf.dispose([value, grads, x, h0, c0 ?? [], R]);
    layer.dispose();
  });
});

describe('golden multi-layer', () => {
  it('bidirectional LSTM (concat) matches nn.LSTM(bidirectional=True), with and without padding', () => {
    const c = golden.cases.lstm_bidirectional!;
    const layer = new Bidirectional({ cell: 'lstm', inputSize: D, hidden: H, merge: 'concat' });
    const w = c.weights as Record<string, Record<string, Nested>>;
    const record = { ...weightsOf('forward/lstm', w.forward!), ...weightsOf('backward/lstm', w.backward!) };
    layer.setWeights(record);
    const x = t(c.x) as tf.Tensor3D;
    const mask = t(c.masked.mask) as tf.Tensor2D;
    const state: RNNState = { h: slots(c.h0), c: slots(c.c0!) };
    for (const [m, ref] of [[undefined, c], [mask, c.masked]] as const) {
      const r = layer.forward(x, { initialState: state, mask: m });
      expectClose(r.output, ref.output, 1e-5, 'output');
      (ref.h_n as Nested[]).forEach((h, i) => expectClose(r.state.h[i]!, h, 1e-5, `h_n[${i}]`));
      (ref.c_n as Nested[]).forEach((cc, i) => expectClose(r.state.c![i]!, cc, 1e-5, `c_n[${i}]`));
      tf.dispose(r);
    }
    tf.dispose([record, x, mask, state]);
    layer.dispose();
  });

  it('2-layer stacked LSTM matches nn.LSTM(num_layers=2), with and without padding', () => {
    const c = golden.cases.lstm_2layer!;
    const stack = new StackedRNN({ cell: 'lstm', inputSize: D, hidden: H, layers: 2 });
    const w = c.weights as Record<string, Record<string, Nested>>;
    const record = { ...weightsOf('layer0/lstm', w.layer0!), ...weightsOf('layer1/lstm', w.layer1!) };
    stack.setWeights(record);
    const x = t(c.x) as tf.Tensor3D;
    const mask = t(c.masked.mask) as tf.Tensor2D;
    const state: RNNState = { h: slots(c.h0), c: slots(c.c0!) };
    for (const [m, ref] of [[undefined, c], [mask, c.masked]] as const) {
      const r = stack.forward(x, { initialState: state, mask: m });
      expectClose(r.output, ref.output, 1e-5, 'output');
      (ref.h_n as Nested[]).forEach((h, i) => expectClose(r.state.h[i]!, h, 1e-5, `h_n[${i}]`));
      (ref.c_n as Nested[]).forEach((cc, i) => expectClose(r.state.c![i]!, cc, 1e-5, `c_n[${i}]`));
      tf.dispose(r);
    }
    tf.dispose([record, x, mask, state]);
    stack.dispose();
  });
});
