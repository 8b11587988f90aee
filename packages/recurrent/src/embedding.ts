// Token embeddings: a lookup (gather) of rows from a `[V, E]` table (Bengio et al. 2003, "A neural
// probabilistic language model"). Also pretrained vectors in the word2vec text format (Mikolov et
// al. 2013): a header line "V E", then one line per word, "word v1 v2 … vE", mapped onto a
// tokenizer's vocabulary; words the file lacks are drawn at random (seeded) with the same spread.
import * as tf from '@tensorflow/tfjs-core';
import { assertBool, assertInt, assertNumber, assignWeights, ConfigError, configure, countParams, DataError, hashSeed, makeVariable, Rng, ShapeError, type SetWeightsOptions } from '@attend/core';

export interface EmbeddingConfig {
  /** V: rows of the table. */
  vocabSize: number;
  /** E: embedding size. */
  dim: number;
  /** Whether optimizers update the table (default true). */
  trainable?: boolean;
  /** Seed of the N(0, 1) initial table (default 0; PyTorch's nn.Embedding initialisation). */
  seed?: number;
}

export const DEFAULT_EMBEDDING = { trainable: true, seed: 0 };

/** A `[V, E]` matrix as plain values (what the word2vec loader returns), a nested array, or a tensor. */
export type PretrainedMatrix = tf.Tensor2D | number[][] | { values: Float32Array; shape: [number, number] };

export class Embedding {
  /** `[V, E]`. Named `table` in `variables()`. */
  readonly table: tf.Variable;
  readonly vocabSize: number;
  readonly dim: number;

  /** `initial`: the table's starting values, `[V, E]` row-major (default: seeded N(0, 1) draws). */
  constructor(config: EmbeddingConfig, initial?: Float32Array) {
    const c = configure<Required<EmbeddingConfig>>('Embedding', DEFAULT_EMBEDDING, ['vocabSize', 'dim'], config);
    assertInt('Embedding.vocabSize', c.vocabSize);
    assertInt('Embedding.dim', c.dim);
    assertBool('Embedding.trainable', c.trainable);
    assertInt('Embedding.seed', c.seed, 0);
    this.vocabSize = c.vocabSize;
    this.dim = c.dim;
    let values = initial;
    if (values === undefined) {
      const rng = new Rng(hashSeed(`${c.seed}/table`));
      values = new Float32Array(c.vocabSize * c.dim);
      for (let i = 0; i < values.length; i++) values[i] = rng.normal();
    } else if (values.length !== c.vocabSize * c.dim) {
      throw new ShapeError(`Embedding: initial values must hold ${c.vocabSize} × ${c.dim} = ${c.vocabSize * c.dim} numbers, got ${values.length}`);
    }
    this.table = makeVariable(values, [c.vocabSize, c.dim], c.trainable);
  }

  /**
   * An embedding initialised from pretrained vectors, frozen unless `trainable` (default false, as
   * PyTorch's `from_pretrained(freeze=True)`). The matrix is copied; a tensor passed in stays yours.
   */
  static fromPretrained(matrix: PretrainedMatrix, options: { trainable?: boolean } = {}): Embedding {
    const { trainable = false, ...rest } = options;
    if (Object.keys(rest).length > 0) throw new ConfigError(`Embedding.fromPretrained: unknown option "${Object.keys(rest)[0]}"; known options are trainable`);
    assertBool('Embedding.fromPretrained trainable', trainable);
    let values: Float32Array;
    let shape: [number, number];
    if (matrix instanceof tf.Tensor) {
      if (matrix.rank !== 2) throw new ShapeError(`Embedding.fromPretrained: expected a [V, E] matrix, got shape [${matrix.shape.join(', ')}]`);
      values = Float32Array.from(matrix.dataSync());
      shape = [matrix.shape[0], matrix.shape[1]];
    } else if (Array.isArray(matrix)) {
      const E = matrix[0]?.length ?? 0;
      matrix.forEach((row, i) => {
        if (!Array.isArray(row) || row.length !== E) throw new ShapeError(`Embedding.fromPretrained: row ${i} has ${Array.isArray(row) ? row.length : 'no'} values, expected ${E}`);
      });
      values = Float32Array.from(matrix.flat());
      shape = [matrix.length, E];
    } else {
      values = Float32Array.from(matrix.values); // a copy: later edits to the caller's array must not reach the table
      shape = matrix.shape;
      if (values.length !== shape[0] * shape[1]) {
        throw new ShapeError(`Embedding.fromPretrained: shape [${shape.join(', ')}] needs ${shape[0] * shape[1]} values, got ${values.length}`);
      }
    }
    if (shape[0] < 1 || shape[1] < 1) throw new ShapeError(`Embedding.fromPretrained: expected a non-empty [V, E] matrix, got [${shape.join(', ')}]`);
    return new Embedding({ vocabSize: shape[0], dim: shape[1], trainable }, values);
  }

  /** Looks up `ids` (int32, any shape `[…]`) → `[…, E]`. Its gradient flows into the used rows. */
  forward(ids: tf.Tensor): tf.Tensor {
    if (!(ids instanceof tf.Tensor) || ids.dtype !== 'int32') {
      throw new ShapeError(`Embedding.forward: expected int32 token ids, got ${ids instanceof tf.Tensor ? ids.dtype : typeof ids}; build them with tf.tensor(ids, shape, 'int32')`);
    }
    return tf.tidy(() => tf.reshape(tf.gather(this.table, tf.reshape(ids, [-1])), [...ids.shape, this.dim])); // [..., E]
  }

  get trainable(): boolean {
    return this.table.trainable;
  }

  variables(): Record<string, tf.Variable> {
    return { table: this.table };
  }

  setWeights(record: Record<string, tf.Tensor>, options?: SetWeightsOptions): void {
    assignWeights('Embedding', this.variables(), record, options);
  }

  paramCount(): number {
    return countParams(this.variables());
  }

  dispose(): void {
    this.table.dispose();
  }
}

/** Vectors parsed from the word2vec text format. */
export interface Word2Vec {
  /** Words in file order. */
  words: string[];
  /** E. */
  dim: number;
  /** `[words.length, E]`, row-major. */
  vectors: Float32Array;
}

/** Parses the word2vec text format: a header "V E", then V lines "word v1 … vE". Throws `DataError` on malformed input. */
export function parseWord2VecText(text: string): Word2Vec {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = (lines[0] ?? '').trim().split(/\s+/);
  const V = Number(header[0]);
  const E = Number(header[1]);
  if (header.length !== 2 || !Number.isInteger(V) || !Number.isInteger(E) || V < 0 || E < 1) {
    throw new DataError(`word2vec text: expected a header line "<vocab size> <dimension>", got "${lines[0] ?? ''}"`);
  }
  if (lines.length - 1 !== V) {
    throw new DataError(`word2vec text: the header announces ${V} vectors, but ${lines.length - 1} lines follow`);
  }
  const words: string[] = [];
  const vectors = new Float32Array(V * E);
  for (let i = 0; i < V; i++) {
    const parts = lines[i + 1]!.trim().split(/\s+/);
    if (parts.length !== E + 1) {
      throw new DataError(`word2vec text, line ${i + 2}: expected a word and ${E} numbers, got ${parts.length - 1} values`);
    }
    words.push(parts[0]!);
    for (let j = 0; j < E; j++) {
      const v = Number(parts[j + 1]);
      if (!Number.isFinite(v)) throw new DataError(`word2vec text, line ${i + 2}: "${parts[j + 1]}" is not a number`);
      vectors[i * E + j] = v;
    }
  }
  return { words, dim: E, vectors };
}

export interface AlignOptions {
  /** Seed for the vectors of words the file lacks (default 0). */
  seed?: number;
  /**
   * Those vectors are U(−a, a); default a = √3 · (standard deviation of the file's values), so they
   * have the pretrained vectors' spread.
   */
  scale?: number;
}

/** A vocabulary-aligned `[V, E]` matrix, ready for `Embedding.fromPretrained`. */
export interface AlignedVectors {
  values: Float32Array;
  shape: [number, number];
  /** How many vocabulary words had a pretrained vector. */
  found: number;
  /** The vocabulary words that were random-initialised, in vocabulary order. */
  missing: string[];
}

/**
 * Maps pretrained vectors onto a tokenizer vocabulary (`vocab[id]` = token): row `id` is the
 * word's vector, or a seeded random one when the file lacks the word. Words are matched exactly;
 * when the file repeats a word, its first vector wins.
 */
export function alignWord2Vec(w2v: Word2Vec, vocab: readonly string[], options: AlignOptions = {}): AlignedVectors {
  const { seed = 0, scale, ...rest } = options;
  if (Object.keys(rest).length > 0) throw new ConfigError(`alignWord2Vec: unknown option "${Object.keys(rest)[0]}"; known options are seed, scale`);
  assertInt('alignWord2Vec seed', seed, 0);
  if (scale !== undefined) assertNumber('alignWord2Vec scale', scale, 0);
  if (vocab.length === 0) throw new DataError('alignWord2Vec: the vocabulary is empty');
  const E = w2v.dim;
  const row = new Map<string, number>();
  w2v.words.forEach((w, i) => {
    if (!row.has(w)) row.set(w, i);
  });
  let a = scale;
  if (a === undefined) {
    let sum = 0;
    let sq = 0;
    for (const v of w2v.vectors) {
      sum += v;
      sq += v * v;
    }
    const n = Math.max(1, w2v.vectors.length);
    a = Math.sqrt(3) * Math.sqrt(Math.max(0, sq / n - (sum / n) ** 2));
    if (!(a > 0)) a = 0.05;
  }
  const rng = new Rng(hashSeed(`${seed}/word2vec-unknown`));
  const values = new Float32Array(vocab.length * E);
  const missing: string[] = [];
  vocab.forEach((word, id) => {
    const i = row.get(word);
    if (i !== undefined) {
      values.set(w2v.vectors.subarray(i * E, (i + 1) * E), id * E);
    } else {
      missing.push(word);
      for (let j = 0; j < E; j++) values[id * E + j] = (2 * rng.next() - 1) * a!;
    }
  });
  return { values, shape: [vocab.length, E], found: vocab.length - missing.length, missing };
}

/** `alignWord2Vec(parseWord2VecText(text), vocab, options)`. */
export function loadWord2VecText(text: string, vocab: readonly string[], options: AlignOptions = {}): AlignedVectors {
  return alignWord2Vec(parseWord2VecText(text), vocab, options);
}
