// A tiny overfit run: the attention model learns to reverse 20 short sequences (padded batch) in a
// few seconds on the cpu backend, and greedy decoding and beam search then reproduce every target.
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@attend/core';
import { selectBackend } from '@attend/core/node';
import { beforeAll, expect, it } from 'vitest';
import { Seq2Seq } from '../src/index.js';

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
});

const V = 11; // [PAD] [BOS] [EOS] [UNK] + 7 symbols
const BOS = 1;
const EOS = 2;

function reverseTask(n: number, seed: number): { src: number[][]; tgt: number[][] } {
  const rng = new Rng(seed);
  const src: number[][] = [];
  for (let i = 0; i < n; i++) src.push(Array.from({ length: 2 + rng.int(4) }, () => 4 + rng.int(V - 4)));
  return { src, tgt: src.map((s) => [...s].reverse()) };
}

const pad = (rows: number[][]) => {
  const T = Math.max(...rows.map((r) => r.length));
  return tf.tensor2d(rows.map((r) => [...r, ...Array(T - r.length).fill(0)]), undefined, 'int32');
};

it('learns to reverse 20 short sequences; greedy decoding and beam search reproduce the targets', () => {
  const { src, tgt } = reverseTask(20, 3);
  const m = new Seq2Seq({ srcVocab: V, tgtVocab: V, embed: 16, hidden: 32, seed: 0 });
  const x = pad(src);
  const tIn = pad(tgt.map((t) => [BOS, ...t]));
  const tOut = pad(tgt.map((t) => [...t, EOS]));
  const opt = tf.train.adam(0.02);
  const start = performance.now();
  let loss = Infinity;
  for (let step = 0; step < 400 && loss > 0.01; step++) {
    const l = opt.minimize(() => m.loss(x, undefined, tIn, tOut, undefined, { training: true }), true) as tf.Scalar;
    if (step % 10 === 9) loss = l.dataSync()[0]!;
    l.dispose();
  }
  const seconds = (performance.now() - start) / 1000;
  expect(loss).toBeLessThan(0.02);
  expect(seconds).toBeLessThan(15);
  const decoded = m.greedyDecode(x);
  expect(decoded.map((h) => h.ids)).toEqual(tgt);
  expect(decoded.every((h) => h.finished)).toBe(true);
  // The attention of output token j mostly peaks at source position S−1−j: the reversal's alignment
  // (not always: the bidirectional encoder lets a neighbouring position carry the token too).
  let rows = 0;
  let aligned = 0;
  decoded.forEach((h, b) => h.weights!.forEach((row, j) => {
    rows++;
    if (row.indexOf(Math.max(...row)) === src[b]!.length - 1 - j) aligned++;
  }));
  expect(aligned / rows).toBeGreaterThan(0.75);
  for (let b = 0; b < 5; b++) {
    const one = tf.tensor1d(src[b]!, 'int32');
    expect(m.beamSearch(one, { beam: 3 }).ids).toEqual(tgt[b]);
    one.dispose();
  }
  opt.dispose();
  tf.dispose([x, tIn, tOut]);
  m.dispose();
});
