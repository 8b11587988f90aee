// Gradients against central finite differences, on float32 with a relative tolerance of 1e-2:
// for every variable v and a seeded random unit direction d, the analytic directional derivative
// Σ ∂L/∂v · d must match (L(v + εd) − L(v − εd)) / 2ε. Covers every cell type through the
// sequence layer (with a mask and an initial state), the stack, and the language-model loss
// w.r.t. the embedding table (which exercises gather's gradient).
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@attend/core/node';
import { checkDirectional, randn } from '@attend/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { RNNLanguageModel, RNNLayer, StackedRNN, type RNNLayerConfig } from '../src/index.js';

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
});

const CELLS: [string, Omit<RNNLayerConfig, 'inputSize' | 'hidden'>][] = [
  ['rnn tanh', { cell: 'rnn', activation: 'tanh' }],
  ['rnn relu', { cell: 'rnn', activation: 'relu' }],
  ['lstm', { cell: 'lstm' }],
  ['gru', { cell: 'gru' }],
  ['gru resetAfter', { cell: 'gru', resetAfter: true }],
];

describe.each(CELLS)('finite differences: %s', (_name, cell) => {
  it('layer (masked, with an initial state): every weight, the input and the initial state', () => {
    const layer = new RNNLayer({ ...cell, inputSize: 3, hidden: 4, seed: 1 });
    for (const [n, v] of Object.entries(layer.variables())) {
      if (/\/b(_\w+)?$/.test(n)) tf.tidy(() => v.assign(randn(v.shape, 50, 0.3)));
    }
    const x = tf.variable(randn([2, 3, 3], 2));
    const h0 = tf.variable(randn([2, 4], 3, 0.5));
    const c0 = tf.variable(randn([2, 4], 4, 0.5));
    const mask = tf.tensor2d([[1, 1, 1], [1, 1, 0]]);
    const R = randn([2, 3, 4], 5);
    const Rh = randn([2, 4], 6);
    const withC = cell.cell === 'lstm';
    const loss = () =>
      tf.tidy(() => {
        const r = layer.forward(x as tf.Tensor3D, { mask, initialState: withC ? { h: [h0 as tf.Tensor2D], c: [c0 as tf.Tensor2D] } : { h: [h0 as tf.Tensor2D] } });
        let L = tf.add(tf.sum(tf.mul(r.output, R)), tf.sum(tf.mul(r.state.h[0]!, Rh)));
        if (withC) L = tf.add(L, tf.sum(tf.mul(r.state.c![0]!, Rh)));
        return L as tf.Scalar;
      });
    checkDirectional(loss, { ...layer.variables(), x, h0, ...(withC ? { c0 } : {}) });
    tf.dispose([x, h0, c0, mask, R, Rh]);
    layer.dispose();
  });
});

describe('finite differences: stacks and the language model', () => {
  it('2-layer stacked GRU', () => {
    const stack = new StackedRNN({ cell: 'gru', inputSize: 3, hidden: 4, layers: 2, seed: 2 });
    const x = randn([2, 3, 3], 7) as tf.Tensor3D;
    const R = randn([2, 3, 4], 8);
    checkDirectional(() => tf.tidy(() => tf.sum(tf.mul(stack.forward(x).output, R)) as tf.Scalar), stack.variables());
    tf.dispose([x, R]);
    stack.dispose();
  });

  it.each(['rnn', 'lstm', 'gru'] as const)('%s language-model loss w.r.t. every variable, incl. the embedding table', (cell) => {
    const lm = new RNNLanguageModel({ cell, vocabSize: 6, embed: 4, hidden: 5, layers: 2, seed: 3 });
    const inputs = tf.tensor2d([[0, 1, 2, 1], [3, 3, 1, 0]], undefined, 'int32');
    const targets = tf.tensor2d([[1, 2, 1, 3], [3, 1, 0, 2]], undefined, 'int32');
    const loss = () => lm.loss(inputs, targets);
    checkDirectional(loss, lm.variables());
    // Gather's gradient lands on the used rows only; check single entries too.
    const table = lm.embedding.table;
    const { grads, value } = tf.variableGrads(loss, [table]);
    const g = grads[table.name]!.arraySync() as number[][];
    expect(g[4]!.every((v) => v === 0) && g[5]!.every((v) => v === 0)).toBe(true); // ids 4, 5 never appear
    for (const [row, col] of [[1, 2], [3, 0]] as const) {
      const orig = table.clone();
      const eps = 1e-2;
      const at = (s: number) => {
        tf.tidy(() => table.assign(tf.add(orig, tf.mul(tf.reshape(tf.oneHot(tf.tensor1d([row * 4 + col], 'int32'), 24), [6, 4]), s))));
        return tf.tidy(() => loss().dataSync()[0]!);
      };
      const numeric = (at(eps) - at(-eps)) / (2 * eps);
      table.assign(orig);
      orig.dispose();
      expect(Math.abs(numeric - g[row]![col]!)).toBeLessThan(1e-2 * Math.max(Math.abs(numeric), 1e-1));
    }
    tf.dispose([grads, value, inputs, targets]);
    lm.dispose();
  });
});
