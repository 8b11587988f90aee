// Embedding lookups, pretrained tables and the word2vec text loader.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, DataError, ShapeError } from '@attend/core';
import { selectBackend } from '@attend/core/node';
import { beforeAll, describe, expect, it } from 'vitest';
import { Embedding, alignWord2Vec, loadWord2VecText, parseWord2VecText } from '../src/index.js';
import { expectNoLeak } from './helpers.js';

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
});

const W2V = `4 3
the 0.1 0.2 0.3
cat -1 0.5 2
sat 0 0 1e-1
the 9 9 9
`;

describe('Embedding', () => {
  it('gathers rows of the table for ids of any shape, seeded', () => {
    const e = new Embedding({ vocabSize: 5, dim: 3, seed: 4 });
    const table = e.table.arraySync() as number[][];
    const ids = tf.tensor2d([[0, 4], [2, 2]], undefined, 'int32');
    const out = e.forward(ids);
    expect(out.shape).toEqual([2, 2, 3]);
    expect(out.arraySync()).toEqual([[table[0], table[4]], [table[2], table[2]]]);
    const same = new Embedding({ vocabSize: 5, dim: 3, seed: 4 });
    expect(Array.from(same.table.dataSync())).toEqual(table.flat());
    same.dispose();
    expect(() => e.forward(tf.tensor1d([0, 1]))).toThrow(ShapeError);
    expectNoLeak(() => e.forward(ids).dispose());
    tf.dispose([ids, out]);
    e.dispose();
  });

  it('fromPretrained copies a matrix, frozen unless trainable', () => {
    const frozen = Embedding.fromPretrained([[1, 2], [3, 4], [5, 6]]);
    expect(frozen.trainable).toBe(false);
    expect(frozen.table.arraySync()).toEqual([[1, 2], [3, 4], [5, 6]]);
    const m = tf.tensor2d([[1, 0], [0, 1]]);
    const trainable = Embedding.fromPretrained(m, { trainable: true });
    m.dispose(); // the embedding holds its own copy
    expect(trainable.trainable).toBe(true);
    expect(trainable.table.arraySync()).toEqual([[1, 0], [0, 1]]);
    expect(() => Embedding.fromPretrained([[1, 2], [3]])).toThrow(/row 1 has 1 values, expected 2/);
    expect(() => Embedding.fromPretrained([[1]], { freeze: true } as never)).toThrow(ConfigError);
    frozen.dispose();
    trainable.dispose();
  });
});

describe('word2vec text format', () => {
  it('parses the header and vectors', () => {
    const w = parseWord2VecText(W2V);
    expect(w.words).toEqual(['the', 'cat', 'sat', 'the']);
    expect(w.dim).toBe(3);
    expect(Array.from(w.vectors.subarray(3, 6))).toEqual([-1, 0.5, 2]);
  });

  it('rejects malformed files with the line at fault', () => {
    expect(() => parseWord2VecText('hello\n')).toThrow(new DataError('word2vec text: expected a header line "<vocab size> <dimension>", got "hello"'));
    expect(() => parseWord2VecText('2 2\na 1 2\n')).toThrow(/announces 2 vectors, but 1 lines follow/);
    expect(() => parseWord2VecText('1 2\na 1\n')).toThrow('word2vec text, line 2: expected a word and 2 numbers, got 1 values');
    expect(() => parseWord2VecText('1 2\na 1 x\n')).toThrow(/"x" is not a number/);
  });

  it('maps vectors onto a vocabulary; unknown words get seeded random vectors', () => {
    const vocab = ['[PAD]', 'cat', 'the', 'dog'];
    const a = loadWord2VecText(W2V, vocab, { seed: 1 });
    expect(a.shape).toEqual([4, 3]);
    expect(a.found).toBe(2);
    expect(a.missing).toEqual(['[PAD]', 'dog']);
    expect(Array.from(a.values.subarray(3, 6))).toEqual([-1, 0.5, 2]);
    expect(Array.from(a.values.subarray(6, 9))).toEqual(Array.from(Float32Array.of(0.1, 0.2, 0.3))); // the first "the" wins
    const again = loadWord2VecText(W2V, vocab, { seed: 1 });
    const other = loadWord2VecText(W2V, vocab, { seed: 2 });
    expect(Array.from(again.values)).toEqual(Array.from(a.values));
    expect(Array.from(other.values.subarray(0, 3))).not.toEqual(Array.from(a.values.subarray(0, 3)));
    const scaled = alignWord2Vec(parseWord2VecText(W2V), vocab, { scale: 0.01 });
    expect(Array.from(scaled.values.subarray(9, 12)).every((v) => Math.abs(v) <= 0.01 && v !== 0)).toBe(true);
    const e = Embedding.fromPretrained(a, { trainable: true });
    expect(Array.from(e.table.dataSync())).toEqual(Array.from(a.values));
    e.dispose();
  });
});
