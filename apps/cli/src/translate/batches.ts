// Padded, length-bucketed batches of sentence pairs for the encoder–decoder (the bucketing of
// OpenNMT / fairseq, small): every epoch the examples are shuffled (seeded), cut into windows of
// `window` batches, sorted by source length within each window (so a batch holds similar lengths
// and little padding), cut into batches, and the batches of the epoch shuffled. Padding is [PAD] = 0
// with masks; teacher forcing: tgtIn = [BOS] y_1 … y_n, tgtOut = y_1 … y_n [EOS].
import * as tf from '@tensorflow/tfjs-core';
import { DataError } from '@attend/core';
import { SPECIALS } from '@attend/tokenizers';

/** One encoded pair: token ids of the source and of the target (no specials). */
export interface Example {
  src: number[];
  tgt: number[];
}

/** A padded batch as plain arrays (row-major `[B, S]` and `[B, T]`). */
export interface PaddedBatch {
  batchSize: number;
  srcLen: number;
  tgtLen: number;
  src: Int32Array; // [B, S]
  srcLengths: number[];
  tgtIn: Int32Array; // [B, T]
  tgtOut: Int32Array; // [B, T]
  tgtMask: Float32Array; // [B, T]
}

/** The same batch as tensors (yours to dispose, except `srcLengths`). */
export interface TensorBatch {
  src: tf.Tensor2D;
  srcLengths: number[];
  tgtIn: tf.Tensor2D;
  tgtOut: tf.Tensor2D;
  tgtMask: tf.Tensor2D;
}

/** Pads `examples` to the longest source (S) and the longest target + 1 (T). */
export function padBatch(examples: readonly Example[]): PaddedBatch {
  if (examples.length === 0) throw new DataError('padBatch: expected at least one example');
  const B = examples.length;
  const S = Math.max(1, ...examples.map((e) => e.src.length));
  const T = Math.max(...examples.map((e) => e.tgt.length)) + 1;
  const src = new Int32Array(B * S).fill(SPECIALS.pad);
  const tgtIn = new Int32Array(B * T).fill(SPECIALS.pad);
  const tgtOut = new Int32Array(B * T).fill(SPECIALS.pad);
  const tgtMask = new Float32Array(B * T);
  examples.forEach((e, b) => {
    src.set(e.src, b * S);
    tgtIn[b * T] = SPECIALS.bos;
    tgtIn.set(e.tgt, b * T + 1);
    tgtOut.set(e.tgt, b * T);
    tgtOut[b * T + e.tgt.length] = SPECIALS.eos;
    tgtMask.fill(1, b * T, b * T + e.tgt.length + 1);
  });
  return { batchSize: B, srcLen: S, tgtLen: T, src, srcLengths: examples.map((e) => e.src.length), tgtIn, tgtOut, tgtMask };
}

export function toTensors(b: PaddedBatch): TensorBatch {
  return {
    src: tf.tensor2d(b.src, [b.batchSize, b.srcLen], 'int32'),
    srcLengths: b.srcLengths,
    tgtIn: tf.tensor2d(b.tgtIn, [b.batchSize, b.tgtLen], 'int32'),
    tgtOut: tf.tensor2d(b.tgtOut, [b.batchSize, b.tgtLen], 'int32'),
    tgtMask: tf.tensor2d(b.tgtMask, [b.batchSize, b.tgtLen], 'float32'),
  };
}

export function disposeBatch(t: TensorBatch): void {
  tf.dispose([t.src, t.tgtIn, t.tgtOut, t.tgtMask]);
}

/** Batches of `examples` in order of source length (evaluation: least padding, deterministic). */
export function* sortedBatches(examples: readonly Example[], batchSize: number): Generator<PaddedBatch> {
  const order = examples.map((_, i) => i).sort((a, b) => examples[a]!.src.length - examples[b]!.src.length || a - b);
  for (let i = 0; i < order.length; i += batchSize) yield padBatch(order.slice(i, i + batchSize).map((j) => examples[j]!));
}

/** mulberry32: a small seeded PRNG in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(xs: T[], rand: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

export interface PairBatcherState {
  epoch: number;
  index: number;
}

/** Endless training batches, deterministic in `seed`; `state()`/`setState()` resume exactly. */
export class PairBatcher {
  private plan: number[][] = [];
  private epoch = 0;
  private index = 0;

  constructor(
    private readonly examples: readonly Example[],
    private readonly opts: { batchSize: number; seed: number; window?: number },
  ) {
    if (examples.length === 0) throw new DataError('no training pairs left (after the length filter); use a larger --max-length or more data');
    this.plan = this.planEpoch(0);
  }

  /** The batches (as example indices) of one epoch. */
  private planEpoch(epoch: number): number[][] {
    const rand = mulberry32(this.opts.seed * 1000003 + epoch);
    const B = Math.min(this.opts.batchSize, this.examples.length);
    const order = shuffle(this.examples.map((_, i) => i), rand);
    const windowSize = B * (this.opts.window ?? 20);
    const batches: number[][] = [];
    for (let w = 0; w < order.length; w += windowSize) {
      const win = order.slice(w, w + windowSize).sort((a, b) => this.examples[a]!.src.length - this.examples[b]!.src.length);
      for (let i = 0; i + B <= win.length; i += B) batches.push(win.slice(i, i + B));
    }
    if (batches.length === 0) batches.push(order.slice(0, B));
    return shuffle(batches, rand);
  }

  next(): PaddedBatch {
    if (this.index >= this.plan.length) this.setState({ epoch: this.epoch + 1, index: 0 });
    const batch = this.plan[this.index++]!;
    return padBatch(batch.map((i) => this.examples[i]!));
  }

  state(): PairBatcherState {
    return { epoch: this.epoch, index: this.index };
  }

  setState(s: PairBatcherState): void {
    if (s.epoch !== this.epoch || this.plan.length === 0) this.plan = this.planEpoch(s.epoch);
    this.epoch = s.epoch;
    this.index = s.index;
  }
}
