// Sequence layers: the step API equals the full-sequence pass, padding never changes results,
// bidirectional equals a manual reverse, stacking shapes, seeded dropout, initialisation, and no
// tensor leaks across repeated calls.
import * as tf from '@tensorflow/tfjs-core';
import { Rng, ShapeError, ConfigError } from '@attend/core';
import { selectBackend } from '@attend/core/node';
import { beforeAll, describe, expect, it } from 'vitest';
import { randn } from '@attend/test-utils';
import {
  Bidirectional,
  GRUCell,
  LSTMCell,
  RNNLayer,
  SimpleRNNCell,
  StackedRNN,
  createCell,
  glorotUniform,
  orthogonal,
  reverseSequences,
  type RNNLayerConfig,
  type RNNState,
} from '../src/index.js';
import { expectClose, expectNoLeak } from './helpers.js';

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
});

const D = 3;
const H = 4;
const CELLS: [string, Omit<RNNLayerConfig, 'inputSize' | 'hidden'>][] = [
  ['rnn tanh', { cell: 'rnn', activation: 'tanh' }],
  ['rnn relu', { cell: 'rnn', activation: 'relu' }],
  ['lstm', { cell: 'lstm' }],
  ['gru', { cell: 'gru' }],
  ['gru resetAfter', { cell: 'gru', resetAfter: true }],
];

/** Gives a layer's zero biases some random values, so the tests exercise them. */
function perturbBiases(vars: Record<string, tf.Variable>, seed: number): void {
  let s = seed;
  for (const [name, v] of Object.entries(vars)) {
    if (/\/b(_\w+)?$/.test(name)) tf.tidy(() => v.assign(tf.add(v, randn(v.shape, s++, 0.3))));
  }
}

describe.each(CELLS)('%s layer', (_name, cellConfig) => {
  const config = { ...cellConfig, inputSize: D, hidden: H, seed: 7 };

  it('step() run token by token equals forward() over the sequence', () => {
    const layer = new RNNLayer(config);
    perturbBiases(layer.variables(), 1);
    const x = randn([2, 5, D], 2) as tf.Tensor3D;
    const init = tf.tidy(() => {
      const s = layer.initialState(2);
      return { h: s.h.map((h, i) => tf.add(h, randn(h.shape, 10 + i, 0.5))), c: s.c?.map((c, i) => tf.add(c, randn(c.shape, 20 + i, 0.5))) };
    }) as RNNState;
    if (!init.c) delete init.c;
    const full = layer.forward(x, { initialState: init });
    let state = init;
    const ys: tf.Tensor2D[] = [];
    for (let t = 0; t < 5; t++) {
      const xt = tf.tidy(() => tf.squeeze(tf.slice(x, [0, t, 0], [2, 1, D]), [1])) as tf.Tensor2D;
      const r = layer.step(xt, state);
      if (state !== init) tf.dispose(state);
      state = r.state;
      ys.push(r.y);
      xt.dispose();
    }
    const stepped = tf.stack(ys, 1);
    expectClose(stepped, full.output, 1e-6, 'outputs');
    expectClose(state.h[0]!, full.state.h[0]!, 1e-6, 'h');
    if (state.c) expectClose(state.c[0]!, full.state.c![0]!, 1e-6, 'c');
    tf.dispose([x, init, full, state, ys, stepped]);
    layer.dispose();
  });

  it('padding never changes results: a padded batch equals each sequence run alone', () => {
    const layer = new RNNLayer(config);
    perturbBiases(layer.variables(), 3);
    const lengths = [5, 2, 3];
    const T = 5;
    // Padded positions hold garbage: the mask alone must make them irrelevant.
    const x = randn([3, T, D], 4) as tf.Tensor3D;
    const mask = tf.tensor2d(lengths.map((n) => Array.from({ length: T }, (_, t) => (t < n ? 1 : 0))));
    const padded = layer.forward(x, { mask });
    const out = padded.output.arraySync();
    lengths.forEach((n, b) => {
      const alone = tf.tidy(() => layer.forward(tf.slice(x, [b, 0, 0], [1, n, D]) as tf.Tensor3D));
      expectClose(tf.slice(padded.output, [b, 0, 0], [1, n, H]), alone.output, 1e-6, `outputs of sequence ${b}`);
      expectClose(tf.slice(padded.state.h[0]!, [b, 0], [1, H]), alone.state.h[0]!, 1e-6, `final h of sequence ${b}`);
      if (alone.state.c) expectClose(tf.slice(padded.state.c![0]!, [b, 0], [1, H]), alone.state.c[0]!, 1e-6, `final c of sequence ${b}`);
      for (let t = n; t < T; t++) expect(out[b]![t]!.every((v) => v === 0)).toBe(true);
      tf.dispose(alone);
    });
    // …and the padded inputs get no gradient.
    const xv = tf.variable(x);
    const { grads, value } = tf.variableGrads(() => tf.sum(tf.square(layer.forward(xv as tf.Tensor3D, { mask }).output)) as tf.Scalar, [xv]);
    const g = grads[xv.name]!.arraySync() as number[][][];
    lengths.forEach((n, b) => {
      for (let t = n; t < T; t++) expect(g[b]![t]!.every((v) => v === 0)).toBe(true);
    });
    tf.dispose([x, mask, padded, xv, grads, value]);
    layer.dispose();
  });

  it('does not leak tensors across forward, masked forward, returnSequences: false and step', () => {
    const layer = new RNNLayer(config);
    const x = randn([2, 3, D], 5) as tf.Tensor3D;
    const mask = tf.tensor2d([[1, 1, 1], [1, 1, 0]]);
    expectNoLeak(() => tf.dispose(layer.forward(x)));
    expectNoLeak(() => tf.dispose(layer.forward(x, { mask, returnSequences: false })));
    expectNoLeak(() => {
      const s = layer.initialState(2);
      const xt = tf.tidy(() => tf.squeeze(tf.slice(x, [0, 0, 0], [2, 1, D]), [1])) as tf.Tensor2D;
      const r = layer.step(xt, s);
      tf.dispose([s, xt, r]);
    });
    tf.dispose([x, mask]);
    layer.dispose();
  });
});

describe('RNNLayer', () => {
  it('returns the output and state tensors as fresh tensors the caller owns', () => {
    const layer = new RNNLayer({ cell: 'lstm', inputSize: D, hidden: H });
    const x = randn([1, 2, D], 6) as tf.Tensor3D;
    const init = layer.initialState(1);
    const r = layer.forward(x, { initialState: init, returnSequences: false });
    tf.dispose(init); // the input state is the caller's to dispose; the result must survive it
    expect(r.output.shape).toEqual([1, H]);
    expect(r.output).not.toBe(r.state.h[0]);
    r.state.h[0]!.dispose();
    expect(() => r.output.dataSync()).not.toThrow();
    tf.dispose([x, r]);
    layer.dispose();
  });

  it('rejects bad inputs and states with shape errors', () => {
    const layer = new RNNLayer({ cell: 'lstm', inputSize: D, hidden: H });
    const x = tf.zeros([2, 3, D]) as tf.Tensor3D;
    const bad = tf.zeros([2, 3, D + 1]) as tf.Tensor3D;
    expect(() => layer.forward(bad)).toThrow(new ShapeError('RNNLayer.forward: expected x of shape [B, T, 3], got [2, 3, 4]'));
    expect(() => layer.forward(x, { mask: tf.ones([2, 4]) as tf.Tensor2D })).toThrow(/expected mask of shape \[2, 3\]/);
    expect(() => layer.forward(x, { initialState: { h: [tf.zeros([2, H]) as tf.Tensor2D] } })).toThrow(/memory cell/);
    expect(() => layer.forward(x, { initialState: { h: [tf.zeros([3, H]) as tf.Tensor2D], c: [tf.zeros([3, H]) as tf.Tensor2D] } })).toThrow(
      'RNNLayer.forward initialState: expected state.h[0] of shape [2, 4], got [3, 4]',
    );
    expect(() => layer.step(tf.zeros([2, D + 1]) as tf.Tensor2D)).toThrow(ShapeError);
    tf.dispose([x, bad]);
    layer.dispose();
  });

  it('createCell builds each cell type and rejects unknown ones and misplaced options', () => {
    expect(createCell({ cell: 'rnn', inputSize: 2, hidden: 3 })).toBeInstanceOf(SimpleRNNCell);
    expect(createCell({ cell: 'lstm', inputSize: 2, hidden: 3 })).toBeInstanceOf(LSTMCell);
    expect(createCell({ cell: 'gru', inputSize: 2, hidden: 3 })).toBeInstanceOf(GRUCell);
    expect(() => createCell({ cell: 'foo' as 'rnn', inputSize: 2, hidden: 3 })).toThrow(
      new ConfigError('createCell.cell: expected one of "rnn", "lstm", "gru", got "foo"'),
    );
    expect(() => createCell({ cell: 'lstm', inputSize: 2, hidden: 3, resetAfter: true })).toThrow(/resetAfter: does not apply to cell "lstm"/);
    expect(() => new LSTMCell({ inputSize: 2, hidden: 0 })).toThrow('LSTMCell.hidden: expected an integer ≥ 1, got 0');
    expect(() => new GRUCell({ inputSize: 2 } as never)).toThrow('GRUCell: option "hidden" is required');
    expect(() => new SimpleRNNCell({ inputSize: 2, hidden: 3, activaton: 'relu' } as never)).toThrow(/unknown option "activaton"/);
  });
});

describe('initialisation', () => {
  it('orthogonal() gives QᵀQ = I and glorotUniform() stays within ±√(6/(fanIn+fanOut))', () => {
    const n = 16;
    const q = orthogonal(new Rng(1), n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let dot = 0;
        for (let k = 0; k < n; k++) dot += q[k * n + i]! * q[k * n + j]!;
        expect(Math.abs(dot - (i === j ? 1 : 0))).toBeLessThan(1e-5);
      }
    }
    const g = glorotUniform(new Rng(2), 10, 30);
    const a = Math.sqrt(6 / 40);
    expect(g.every((v) => Math.abs(v) <= a)).toBe(true);
    expect(Math.max(...g.map(Math.abs))).toBeGreaterThan(0.9 * a);
  });

  it('LSTM: forget bias 1, other biases 0, each gate block of W_h orthogonal; seeded', () => {
    const cell = new LSTMCell({ inputSize: 3, hidden: 5, seed: 3 });
    const b = Array.from(cell.b.dataSync());
    expect(b).toEqual([...Array(5).fill(0), ...Array(5).fill(1), ...Array(10).fill(0)]);
    const W = cell.W_h.arraySync() as number[][];
    for (let g = 0; g < 4; g++) {
      for (let i = 0; i < 5; i++) {
        let norm = 0;
        for (let k = 0; k < 5; k++) norm += W[k]![g * 5 + i]! ** 2;
        expect(norm).toBeCloseTo(1, 5);
      }
    }
    const same = new LSTMCell({ inputSize: 3, hidden: 5, seed: 3 });
    const other = new LSTMCell({ inputSize: 3, hidden: 5, seed: 4 });
    expect(Array.from(same.W_x.dataSync())).toEqual(Array.from(cell.W_x.dataSync()));
    expect(Array.from(other.W_x.dataSync())).not.toEqual(Array.from(cell.W_x.dataSync()));
    for (const c of [cell, same, other]) c.dispose();
  });
});

describe('Bidirectional', () => {
  it('reverseSequences reverses each row within its own length (left or right padding) and is an involution', () => {
    const x = tf.tensor3d([[[1], [2], [3], [4]], [[5], [6], [0], [0]], [[0], [7], [8], [9]]]);
    const mask = tf.tensor2d([[1, 1, 1, 1], [1, 1, 0, 0], [0, 1, 1, 1]]);
    const r = reverseSequences(x, mask);
    expect(r.arraySync()).toEqual([[[4], [3], [2], [1]], [[6], [5], [0], [0]], [[0], [9], [8], [7]]]);
    const back = reverseSequences(r, mask);
    expect(back.arraySync()).toEqual(x.arraySync());
    const full = reverseSequences(x);
    expect((full.arraySync() as number[][][])[1]).toEqual([[0], [0], [6], [5]]);
    tf.dispose([x, mask, r, back, full]);
  });

  it.each(['concat', 'sum'] as const)('%s merge equals running the two directions by hand', (merge) => {
    const bi = new Bidirectional({ cell: 'gru', inputSize: D, hidden: H, merge, seed: 2 });
    const x = randn([2, 4, D], 8) as tf.Tensor3D;
    const r = bi.forward(x);
    const f = bi.forwardLayer.forward(x);
    const b = bi.backwardLayer.forward(tf.reverse(x, 1));
    const bOut = tf.reverse(b.output, 1);
    const expected = merge === 'concat' ? tf.concat([f.output, bOut], 2) : tf.add(f.output, bOut);
    expectClose(r.output, expected, 1e-6, 'output');
    expect(r.output.shape).toEqual([2, 4, merge === 'concat' ? 2 * H : H]);
    expectClose(r.state.h[0]!, f.state.h[0]!, 1e-6, 'forward final state');
    expectClose(r.state.h[1]!, b.state.h[0]!, 1e-6, 'backward final state');
    const last = bi.forward(x, { returnSequences: false });
    const lastExpected = merge === 'concat' ? tf.concat([f.state.h[0]!, b.state.h[0]!], 1) : tf.add(f.state.h[0]!, b.state.h[0]!);
    expectClose(last.output, lastExpected, 1e-6, 'returnSequences: false');
    tf.dispose([x, r, f, b, bOut, expected, last, lastExpected]);
    bi.dispose();
  });

  it('respects the mask: a padded batch equals each sequence run alone; cannot step', () => {
    const bi = new Bidirectional({ cell: 'lstm', inputSize: D, hidden: H, seed: 3 });
    const lengths = [4, 2];
    const x = randn([2, 4, D], 9) as tf.Tensor3D;
    const mask = tf.tensor2d([[1, 1, 1, 1], [1, 1, 0, 0]]);
    const padded = bi.forward(x, { mask });
    lengths.forEach((n, b) => {
      const alone = tf.tidy(() => bi.forward(tf.slice(x, [b, 0, 0], [1, n, D]) as tf.Tensor3D));
      expectClose(tf.slice(padded.output, [b, 0, 0], [1, n, 2 * H]), alone.output, 1e-6, `outputs of ${b}`);
      for (let i = 0; i < 2; i++) expectClose(tf.slice(padded.state.h[i]!, [b, 0], [1, H]), alone.state.h[i]!, 1e-6, `state ${i} of ${b}`);
      tf.dispose(alone);
    });
    expect(() => bi.step(tf.zeros([2, D]) as tf.Tensor2D)).toThrow(/cannot run one timestep at a time/);
    expectNoLeak(() => tf.dispose(bi.forward(x, { mask })));
    tf.dispose([x, mask, padded]);
    bi.dispose();
  });
});

describe('StackedRNN', () => {
  it('has the right shapes, state layout and variable names', () => {
    const stack = new StackedRNN({ cell: 'lstm', inputSize: D, hidden: H, layers: 3 });
    const x = randn([2, 5, D], 11) as tf.Tensor3D;
    const r = stack.forward(x);
    expect(r.output.shape).toEqual([2, 5, H]);
    expect(r.state.h.map((h) => h.shape)).toEqual([[2, H], [2, H], [2, H]]);
    expect(r.state.c).toHaveLength(3);
    expect(Object.keys(stack.variables())).toEqual([
      'layer0/lstm/W_x', 'layer0/lstm/W_h', 'layer0/lstm/b',
      'layer1/lstm/W_x', 'layer1/lstm/W_h', 'layer1/lstm/b',
      'layer2/lstm/W_x', 'layer2/lstm/W_h', 'layer2/lstm/b',
    ]);
    expect(stack.variables()['layer1/lstm/W_x']!.shape).toEqual([H, 4 * H]);
    const bi = new StackedRNN({ cell: 'gru', inputSize: D, hidden: H, layers: 2, bidirectional: true });
    const rb = bi.forward(x);
    expect(rb.output.shape).toEqual([2, 5, 2 * H]);
    expect(rb.state.h).toHaveLength(4);
    expect(rb.state.c).toBeUndefined();
    expect(bi.variables()['layer1/backward/gru/W_x']!.shape).toEqual([2 * H, 3 * H]);
    const last = bi.forward(x, { returnSequences: false });
    expect(last.output.shape).toEqual([2, 2 * H]);
    expect(() => bi.step(tf.zeros([2, D]) as tf.Tensor2D)).toThrow(/bidirectional stack cannot run one timestep/);
    tf.dispose([x, r, rb, last]);
    stack.dispose();
    bi.dispose();
  });

  it('step() through the stack equals forward()', () => {
    const stack = new StackedRNN({ cell: 'gru', inputSize: D, hidden: H, layers: 2, resetAfter: true, seed: 5 });
    const x = randn([2, 4, D], 12) as tf.Tensor3D;
    const full = stack.forward(x);
    let state = stack.initialState(2);
    const ys: tf.Tensor2D[] = [];
    for (let t = 0; t < 4; t++) {
      const xt = tf.tidy(() => tf.squeeze(tf.slice(x, [0, t, 0], [2, 1, D]), [1])) as tf.Tensor2D;
      const r = stack.step(xt, state);
      tf.dispose([state, xt]);
      state = r.state;
      ys.push(r.y);
    }
    expectClose(tf.stack(ys, 1), full.output, 1e-6, 'outputs');
    state.h.forEach((h, i) => expectClose(h, full.state.h[i]!, 1e-6, `h[${i}]`));
    tf.dispose([x, full, state, ys]);
    stack.dispose();
  });

  it('applies seeded dropout between layers only when training', () => {
    const make = () => new StackedRNN({ cell: 'rnn', inputSize: D, hidden: 8, layers: 2, dropout: 0.5, seed: 9 });
    const a = make();
    const b = make();
    const x = randn([2, 4, D], 13) as tf.Tensor3D;
    const evalA = a.forward(x);
    const evalB = a.forward(x);
    expectClose(evalA.output, evalB.output, 0, 'eval is deterministic');
    const trainA1 = a.forward(x, { training: true });
    const trainA2 = a.forward(x, { training: true });
    const trainB1 = b.forward(x, { training: true });
    expect(tf.max(tf.abs(tf.sub(trainA1.output, evalA.output))).dataSync()[0]).toBeGreaterThan(1e-3);
    expect(tf.max(tf.abs(tf.sub(trainA1.output, trainA2.output))).dataSync()[0]).toBeGreaterThan(1e-3); // a fresh mask each pass
    expectClose(trainB1.output, trainA1.output, 0, 'same seed, same masks');
    expectNoLeak(() => tf.dispose(a.forward(x, { training: true })));
    tf.dispose([x, evalA, evalB, trainA1, trainA2, trainB1]);
    a.dispose();
    b.dispose();
  });

  it('validates its config', () => {
    expect(() => new StackedRNN({ cell: 'lstm', inputSize: D, hidden: H, layers: 0 })).toThrow('StackedRNN.layers: expected an integer ≥ 1, got 0');
    expect(() => new StackedRNN({ cell: 'lstm', inputSize: D, hidden: H, dropout: 1 })).toThrow(/StackedRNN.dropout/);
    expect(() => new StackedRNN({ cell: 'lstm', inputSize: D, hidden: H, merge: 'avg' as 'sum' })).toThrow(/StackedRNN.merge/);
  });
});
