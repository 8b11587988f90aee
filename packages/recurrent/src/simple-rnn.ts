// The vanilla (Elman) RNN cell, exactly as taught (Elman 1990, "Finding structure in time"):
//   h_t = act(W_hh·h_{t-1} + W_xh·x_t + b)        act ∈ {tanh, relu}
//   y_t = W_hy·h_t                                 (the output projection is the model's head:
//                                                   `head/W_hy` in language-model.ts)
// Row-vector layout: x·W_xh with W_xh `[D, H]`, h·W_hh with W_hh `[H, H]`; PyTorch's nn.RNN maps as
// W_xh = weight_ih_l0.T, W_hh = weight_hh_l0.T, b = bias_ih_l0 + bias_hh_l0.
import * as tf from '@tensorflow/tfjs-core';
import { assertChoice, assertInt, configure, glorotUniform, hashSeed, makeVariable, Rng } from '@attend/core';
import { BaseCell, ACTIVATIONS, type Activation, type StepFn } from './cell.js';
import { orthogonalBlocks } from './init.js';

export interface SimpleRNNCellConfig {
  /** D: input features. */
  inputSize: number;
  /** H: hidden units. */
  hidden: number;
  /** Nonlinearity (default `'tanh'`). */
  activation?: Activation;
  /** Seed for the initial weights (default 0). */
  seed?: number;
}

export const DEFAULT_SIMPLE_RNN_CELL = { activation: 'tanh' as Activation, seed: 0 };

export class SimpleRNNCell extends BaseCell {
  readonly kind = 'rnn' as const;
  readonly gates = 1;
  readonly hasCellState = false;
  readonly activation: Activation;
  /** Input kernel `[D, H]`: Glorot uniform. */
  readonly W_xh: tf.Variable;
  /** Recurrent kernel `[H, H]`: orthogonal. */
  readonly W_hh: tf.Variable;
  /** Bias `[H]`: zeros. */
  readonly b: tf.Variable;

  constructor(config: SimpleRNNCellConfig) {
    const c = configure<Required<SimpleRNNCellConfig>>('SimpleRNNCell', DEFAULT_SIMPLE_RNN_CELL, ['inputSize', 'hidden'], config);
    assertInt('SimpleRNNCell.inputSize', c.inputSize);
    assertInt('SimpleRNNCell.hidden', c.hidden);
    assertChoice('SimpleRNNCell.activation', c.activation, ACTIVATIONS);
    assertInt('SimpleRNNCell.seed', c.seed, 0);
    super(c.inputSize, c.hidden);
    this.activation = c.activation;
    const D = c.inputSize;
    const H = c.hidden;
    const rng = (name: string) => new Rng(hashSeed(`${c.seed}/${name}`));
    this.W_xh = makeVariable(glorotUniform(rng('W_xh'), D, H), [D, H]);
    this.W_hh = makeVariable(orthogonalBlocks(rng('W_hh'), H, 1), [H, H]);
    this.b = makeVariable(new Float32Array(H), [H]);
  }

  projectInput(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.add(tf.matMul(x, this.W_xh), this.b)); // [N, H]
  }

  stepper(): StepFn {
    const act = this.activation === 'relu' ? tf.relu : tf.tanh;
    return (xp, { h }) => ({ h: act(tf.add(tf.matMul(h, this.W_hh), xp)) as tf.Tensor2D }); // [B, H]
  }

  variables(): Record<string, tf.Variable> {
    return { W_xh: this.W_xh, W_hh: this.W_hh, b: this.b };
  }
}
