// A character-level (or any token-level) recurrent language model, as in Karpathy's char-rnn
// ("The unreasonable effectiveness of recurrent neural networks", 2015) and Graves 2013:
//   e_t = E[x_t]                        embedding `[V, E]`
//   h_t = stack of rnn / lstm / gru layers over e_1..e_t
//   y_t = W_hy·h_t + b_y                logits over the next token
// trained with the mean softmax cross-entropy (nats per token), sampled one token at a time with
// `step` (O(1) per token) and a seeded categorical draw (temperature, top-k, top-p).
//
// Variables (stable names, for checkpoints): `embedding/table`, `layer<ℓ>/<cell>/<weight>`
// (e.g. `layer0/lstm/W_x`), `head/W_hy`, `head/b_y`.
import * as tf from '@tensorflow/tfjs-core';
import { assertBool, assertChoice, assertInt, assertNumber, assignWeights, ConfigError, configure, countParams, glorotUniform, hashSeed, makeVariable, prefixed, Rng, runTensorflowOp, ShapeError, sparseSoftmaxCrossEntropy, tensorflowNativeOps, tfAttrs, type SetWeightsOptions } from '@attend/core';
import { ACTIVATIONS, CELL_KINDS, type Activation, type CellKind } from './cell.js';
import { Embedding } from './embedding.js';
import { checkSamplingOptions, sampleToken, type SamplingOptions } from './sampling.js';
import { StackedRNN } from './stacked.js';
import { checkState, zeroState, type RNNState } from './state.js';
import { recordingGradients } from './derived-weights.js';
import type { RNNLayer } from './rnn-layer.js';
import type { LSTMCell } from './lstm.js';

export interface RNNLanguageModelConfig {
  /** `'rnn'`, `'lstm'` or `'gru'` (default `'lstm'`). */
  cell: CellKind;
  /** V: number of tokens. Required. */
  vocabSize: number;
  /** E: embedding size (default 64). */
  embed: number;
  /** H: hidden units per layer (default 256). */
  hidden: number;
  /** Stacked layers (default 2). */
  layers: number;
  /** Dropout between layers while training, in [0, 1) (default 0). */
  dropout: number;
  /** Vanilla RNN nonlinearity (default `'tanh'`). */
  activation: Activation;
  /** GRU reset-after variant (default false). */
  resetAfter: boolean;
  /** Seed of every initial weight and of dropout (default 0). */
  seed: number;
}

export const DEFAULT_RNN_LANGUAGE_MODEL: Omit<RNNLanguageModelConfig, 'vocabSize'> = {
  cell: 'lstm',
  embed: 64,
  hidden: 256,
  layers: 2,
  dropout: 0,
  activation: 'tanh',
  resetAfter: false,
  seed: 0,
};

export interface LogitsOptions {
  /** Training mode (dropout on); default false. */
  training?: boolean;
  /** State to start from (default zeros); stays yours. */
  initialState?: RNNState;
  /** `[B, T]`, 1 = real token, 0 = padding. */
  mask?: tf.Tensor2D;
}

export interface SampleOptions extends SamplingOptions {
  /** Token ids to condition on (at least one). */
  prime: number[];
  /** How many tokens to generate. */
  length: number;
  /** Seed of the draws (default 0). */
  seed?: number;
}

/** An embedding, a stack of recurrent layers and a linear head. */
export class RNNLanguageModel {
  /** The full config, defaults filled in: plain JSON, enough to rebuild the model. */
  readonly config: Readonly<RNNLanguageModelConfig>;
  readonly embedding: Embedding;
  readonly rnn: StackedRNN;
  /** `[H, V]`: Glorot uniform. */
  readonly W_hy: tf.Variable;
  /** `[V]`: zeros. */
  readonly b_y: tf.Variable;

  constructor(config: Partial<RNNLanguageModelConfig> & { vocabSize: number }) {
    const c = configure<RNNLanguageModelConfig>('RNNLanguageModel', DEFAULT_RNN_LANGUAGE_MODEL, ['vocabSize'], config);
    assertChoice('RNNLanguageModel.cell', c.cell, CELL_KINDS);
    assertInt('RNNLanguageModel.vocabSize', c.vocabSize);
    assertInt('RNNLanguageModel.embed', c.embed);
    assertInt('RNNLanguageModel.hidden', c.hidden);
    assertInt('RNNLanguageModel.layers', c.layers);
    assertNumber('RNNLanguageModel.dropout', c.dropout, 0, 0.999);
    assertChoice('RNNLanguageModel.activation', c.activation, ACTIVATIONS);
    assertBool('RNNLanguageModel.resetAfter', c.resetAfter);
    assertInt('RNNLanguageModel.seed', c.seed, 0);
    if (c.cell !== 'rnn' && c.activation !== 'tanh') {
      throw new ConfigError(`RNNLanguageModel.activation: only the vanilla RNN (cell "rnn") takes an activation, got cell "${c.cell}" with activation "${c.activation}"`);
    }
    if (c.cell !== 'gru' && c.resetAfter) {
      throw new ConfigError(`RNNLanguageModel.resetAfter: only applies to cell "gru", got cell "${c.cell}"`);
    }
    this.config = Object.freeze({ ...c });
    this.embedding = new Embedding({ vocabSize: c.vocabSize, dim: c.embed, seed: hashSeed(`${c.seed}/embedding`) });
    const cellOptions = c.cell === 'rnn' ? { activation: c.activation } : c.cell === 'gru' ? { resetAfter: c.resetAfter } : {};
    this.rnn = new StackedRNN({
      cell: c.cell,
      inputSize: c.embed,
      hidden: c.hidden,
      layers: c.layers,
      dropout: c.dropout,
      seed: c.seed,
      ...cellOptions,
    });
    this.W_hy = makeVariable(glorotUniform(new Rng(hashSeed(`${c.seed}/head/W_hy`)), c.hidden, c.vocabSize), [c.hidden, c.vocabSize]);
    this.b_y = makeVariable(new Float32Array(c.vocabSize), [c.vocabSize]);
  }

  /** Next-token logits for every position: `inputs` int32 `[B, T]` → `{ logits [B, T, V], state }`, all yours. */
  logits(inputs: tf.Tensor2D, options: LogitsOptions = {}): { logits: tf.Tensor3D; state: RNNState } {
    const { training = false, initialState, mask } = options;
    const [B, T] = this.checkIds('logits', inputs, 2);
    return tf.tidy(() => {
      const e = this.embedding.forward(inputs) as tf.Tensor3D; // [B, T, E]
      const { output, state } = this.rnn.forward(e, { initialState, mask, training }); // [B, T, H]
      const logits = tf.reshape(this.head(tf.reshape(output, [B * T, this.config.hidden])), [B, T, this.config.vocabSize]); // [B, T, V]
      return { logits: logits as tf.Tensor3D, state };
    });
  }

  /**
   * Mean softmax cross-entropy in nats per token of predicting `targets` (int32 `[B, T]`, usually
   * `inputs` shifted left by one) from `inputs`. With a mask, the mean is over real tokens only.
   */
  loss(inputs: tf.Tensor2D, targets: tf.Tensor2D, options: LogitsOptions = {}): tf.Scalar {
    const [B, T] = this.checkIds('loss', inputs, 2);
    this.checkIds('loss', targets, 2, 'targets');
    if (targets.shape[0] !== B || targets.shape[1] !== T) {
      throw new ShapeError(`RNNLanguageModel.loss: expected targets of shape [${B}, ${T}] like inputs, got [${targets.shape.join(', ')}]`);
    }
    return tf.tidy(() => {
      const V = this.config.vocabSize;
      const { logits, state } = this.logits(inputs, options);
      tf.dispose(state);
      const nll = sparseSoftmaxCrossEntropy(tf.reshape(logits, [B * T, V]), tf.reshape(targets, [B * T])); // [B·T]
      if (!options.mask) return tf.mean(nll) as tf.Scalar;
      const m = tf.reshape(tf.cast(options.mask, 'float32'), [B * T]);
      return tf.div(tf.sum(tf.mul(nll, m)), tf.maximum(tf.sum(m), 1)) as tf.Scalar;
    });
  }

  /** A zero state for `batch` sequences; you own it. */
  initialState(batch: number): RNNState {
    return this.rnn.initialState(batch);
  }

  /**
   * One token per sequence: `ids` int32 `[B]` → `{ logits [B, V], state }`. `state` (default zeros)
   * stays yours; the returned state is new and yours too: dispose the old one when you move on.
   */
  step(ids: tf.Tensor1D, state?: RNNState): { logits: tf.Tensor2D; state: RNNState } {
    this.checkIds('step', ids, 1);
    if (this.config.cell === 'lstm' && tensorflowNativeOps() && !recordingGradients()) return this.nativeLstmStep(ids, state);
    return tf.tidy(() => {
      const e = this.embedding.forward(ids) as tf.Tensor2D; // [B, E]
      const r = this.rnn.step(e, state); // [B, H]
      return { logits: this.head(r.y), state: r.state }; // [B, V]
    });
  }

  /**
   * Generates `length` token ids after `prime` (which is not included in the result): the prime
   * runs through the full-sequence pass, then each drawn id is fed back in through `step`. Seeded:
   * the same options give the same ids.
   */
  sample(options: SampleOptions): number[] {
    const { prime, length, seed = 0, ...sampling } = options;
    const V = this.config.vocabSize;
    if (!Array.isArray(prime) || prime.length === 0) throw new ConfigError('RNNLanguageModel.sample prime: expected at least one token id to start from');
    prime.forEach((id, i) => {
      if (!Number.isInteger(id) || id < 0 || id >= V) throw new ConfigError(`RNNLanguageModel.sample prime[${i}]: expected a token id in [0, ${V}), got ${JSON.stringify(id)}`);
    });
    assertInt('RNNLanguageModel.sample length', length, 0);
    assertInt('RNNLanguageModel.sample seed', seed, 0);
    checkSamplingOptions('RNNLanguageModel.sample', sampling);
    const rng = new Rng(seed);
    const out: number[] = [];
    if (length === 0) return out;
    let { logits, state } = tf.tidy(() => {
      const r = this.logits(tf.tensor2d([prime], [1, prime.length], 'int32'));
      return { logits: tf.reshape(tf.slice(r.logits, [0, prime.length - 1, 0], [1, 1, V]), [V]), state: r.state }; // [V]
    });
    try {
      for (;;) {
        const id = sampleToken(logits.dataSync(), rng, sampling);
        out.push(id);
        logits.dispose();
        if (out.length === length) break;
        const ids = tf.tensor1d([id], 'int32');
        const next = this.step(ids, state);
        ids.dispose();
        tf.dispose(state);
        state = next.state;
        logits = next.logits;
      }
    } finally {
      logits.dispose();
      tf.dispose(state);
    }
    return out;
  }

  /** Every variable under its stable name: `embedding/table`, `layer0/lstm/W_x`, …, `head/W_hy`, `head/b_y`. */
  variables(): Record<string, tf.Variable> {
    return {
      ...prefixed('embedding', this.embedding.variables()),
      ...this.rnn.variables(),
      ...prefixed('head', { W_hy: this.W_hy, b_y: this.b_y }),
    };
  }

  /**
   * Loads weights by name (e.g. from a checkpoint). Every name and shape is checked before anything
   * is assigned: unknown or missing names are a `ConfigError`, a wrong shape a `ShapeError`. The
   * tensors passed stay yours.
   */
  setWeights(record: Record<string, tf.Tensor>, options?: SetWeightsOptions): void {
    assignWeights('RNNLanguageModel', this.variables(), record, options);
  }

  /** Number of scalar parameters. */
  paramCount(): number {
    return countParams(this.variables());
  }

  dispose(): void {
    this.embedding.dispose();
    this.rnn.dispose();
    this.W_hy.dispose();
    this.b_y.dispose();
  }

  /** `[N, H]` → `[N, V]`. */
  private head(h: tf.Tensor2D): tf.Tensor2D {
    return tf.add(tf.matMul(h, this.W_hy), this.b_y);
  }

  /**
   * `step` for an LSTM on tensorflow with Attend's native ops (AttendLstmLmStep, @attend/core's
   * native/attend_ops.cc): embedding row, every layer's step and the head in one op — generation,
   * not under a gradient tape (the op has no gradient).
   */
  private nativeLstmStep(ids: tf.Tensor1D, state?: RNNState): { logits: tf.Tensor2D; state: RNNState } {
    const L = this.rnn.layers.length;
    const B = ids.shape[0];
    if (state) checkState('RNNLanguageModel.step state', state, L, B, this.config.hidden, true);
    const s = state ?? zeroState(L, B, this.config.hidden, true);
    try {
      const weights = this.rnn.layers.flatMap((layer) => {
        const cell = (layer as RNNLayer).cell as LSTMCell;
        return [cell.W_x, cell.W_h, cell.b];
      });
      const states = s.h.flatMap((h, l) => [h, s.c![l]!]);
      const [logits, ...next] = runTensorflowOp('AttendLstmLmStep', [ids, this.embedding.table, ...weights, ...states, this.W_hy, this.b_y], (b) => tfAttrs(b, { int: { N: 3 * L, M: 2 * L } }), 1 + 2 * L);
      return { logits: logits as tf.Tensor2D, state: { h: next.filter((_, i) => i % 2 === 0) as tf.Tensor2D[], c: next.filter((_, i) => i % 2 === 1) as tf.Tensor2D[] } };
    } finally {
      if (!state) tf.dispose(s);
    }
  }

  private checkIds(method: string, ids: tf.Tensor, rank: number, name = rank === 1 ? 'ids' : 'inputs'): [number, number] {
    const shape = rank === 1 ? '[B]' : '[B, T]';
    if (!(ids instanceof tf.Tensor) || ids.rank !== rank) {
      throw new ShapeError(`RNNLanguageModel.${method}: expected ${name} of shape ${shape}, got ${ids instanceof tf.Tensor ? `[${ids.shape.join(', ')}]` : typeof ids}`);
    }
    if (ids.dtype !== 'int32') {
      throw new ShapeError(`RNNLanguageModel.${method}: expected int32 ${name}, got ${ids.dtype}; build them with tf.tensor(ids, shape, 'int32')`);
    }
    return [ids.shape[0]!, ids.shape[1] ?? 1];
  }
}
