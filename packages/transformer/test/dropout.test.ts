// Dropout: with training true and a rate > 0 the outputs change (and each call draws fresh masks);
// two models built with the same seed draw the same masks (reproducible runs); the same weights
// under another seed draw other masks; training false — or a rate of 0 — is deterministic and equal
// to the eval output. For GPT, TransformerEncoderLayer, TransformerDecoder, MultiHeadAttention
// (attention dropout) and FeedForward.
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@attend/core/node';
import { beforeAll, describe, expect, it } from 'vitest';
import { FeedForward, GPT, MultiHeadAttention, TransformerDecoder, TransformerEncoderLayer } from '../src/index.js';
import { expectSame, free, maxDiff, randn, randomIds } from './helpers.js';

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
});

interface Case {
  /** A model with dropout `rate` and weights/dropout seed `seed`. */
  build: (rate: number, seed: number) => { variables(): Record<string, tf.Variable>; setWeights(r: Record<string, tf.Tensor>): void; dispose(): void };
  /** Runs the model (in a tidy; returns one tensor). */
  run: (model: never, training: boolean) => tf.Tensor;
}

const x = () => randn([2, 5, 8], 1) as tf.Tensor3D;
const memory = () => randn([2, 3, 8], 2) as tf.Tensor3D;

const CASES: [string, Case][] = [
  [
    'GPT',
    {
      build: (rate, seed) => new GPT({ vocabSize: 10, contextLength: 6, layers: 2, dModel: 8, heads: 2, dropout: rate, seed }),
      run: (m: GPT, training) => tf.tidy(() => m.logits(randomIds(2, 6, 10, 3), { training })),
    },
  ],
  [
    'TransformerEncoderLayer',
    {
      build: (rate, seed) => new TransformerEncoderLayer({ dModel: 8, heads: 2, dropout: rate, seed }),
      run: (m: TransformerEncoderLayer, training) => tf.tidy(() => m.apply(x(), { training }).output),
    },
  ],
  [
    'TransformerDecoder',
    {
      build: (rate, seed) => new TransformerDecoder({ dModel: 8, heads: 2, layers: 2, dropout: rate, seed }),
      run: (m: TransformerDecoder, training) =>
        tf.tidy(() => {
          const r = m.apply(x(), { memory: memory(), training });
          free(r.cache);
          return r.output;
        }),
    },
  ],
  [
    'MultiHeadAttention (attention dropout)',
    {
      build: (rate, seed) => new MultiHeadAttention({ dModel: 8, heads: 2, dropout: rate, seed }),
      run: (m: MultiHeadAttention, training) => tf.tidy(() => m.apply(x(), memory(), { training }).output),
    },
  ],
  [
    'FeedForward',
    {
      build: (rate, seed) => new FeedForward({ dModel: 8, dropout: rate, seed }),
      run: (m: FeedForward, training) => tf.tidy(() => m.apply(x(), training)),
    },
  ],
];

describe.each(CASES)('dropout: %s', (_name, c) => {
  const run = c.run as (m: unknown, training: boolean) => tf.Tensor;

  it('training changes the output, draws fresh masks per call, and is reproducible from the seed', () => {
    const a = c.build(0.3, 7);
    const b = c.build(0.3, 7);
    const evalA = run(a, false);
    const trainA1 = run(a, true);
    const trainA2 = run(a, true);
    const trainB1 = run(b, true);
    const trainB2 = run(b, true);
    expect(maxDiff(trainA1, evalA), 'training vs eval').toBeGreaterThan(1e-4);
    expect(maxDiff(trainA2, trainA1), 'second training call vs first').toBeGreaterThan(1e-4);
    expectSame(trainB1, trainA1, 'same seed, first call');
    expectSame(trainB2, trainA2, 'same seed, second call');
    free(evalA, trainA1, trainA2, trainB1, trainB2);
    a.dispose();
    b.dispose();
  });

  it('the same weights under another seed draw other masks; eval is deterministic and seed-independent', () => {
    const a = c.build(0.3, 7);
    const b = c.build(0.3, 8);
    b.setWeights(a.variables());
    const evalA1 = run(a, false);
    const evalA2 = run(a, false);
    const evalB = run(b, false);
    expectSame(evalA2, evalA1, 'eval twice');
    expectSame(evalB, evalA1, 'eval, same weights, other seed');
    const trainA = run(a, true);
    const trainB = run(b, true);
    expect(maxDiff(trainB, trainA), 'training, other seed').toBeGreaterThan(1e-4);
    free(evalA1, evalA2, evalB, trainA, trainB);
    a.dispose();
    b.dispose();
  });

  it('a rate of 0 makes training the same as eval', () => {
    const m = c.build(0, 7);
    const e = run(m, false);
    const tr = run(m, true);
    expectSame(tr, e, 'rate 0');
    free(e, tr);
    m.dispose();
  });
});
