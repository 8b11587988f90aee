// The LSTM cell, exactly as taught (Hochreiter & Schmidhuber 1997, with the forget gate of
// Gers et al. 2000):
//   i, f, o = σ(W_h·h_{t-1} + W_x·x_t + b)         input, forget, output gates
//   g       = tanh(W_gx·x_t + W_gh·h_{t-1} + b_g)  candidate
//   c_t     = f ⊙ c_{t-1} + i ⊙ g
//   h_t     = o ⊙ tanh(c_t)
// Fused weights, gate blocks in PyTorch's order i, f, g, o:
//   W_x `[D, 4H]` (= nn.LSTM weight_ih_l0.T), W_h `[H, 4H]` (= weight_hh_l0.T),
//   b `[4H]` (= bias_ih_l0 + bias_hh_l0), initialised to 0 except the forget block, 1
//   (Jozefowicz et al. 2015: remember by default early in training).
import * as tf from '@tensorflow/tfjs-core';
import { assertInt, assertNumber, configure, glorotUniform, hashSeed, makeVariable, Rng } from '@attend/core';
import { BaseCell, type StepFn } from './cell.js';
import { orthogonalBlocks } from './init.js';

export interface LSTMCellConfig {
  /** D: input features. */
  inputSize: number;
  /** H: hidden units. */
  hidden: number;
  /** Initial value of the forget-gate bias (default 1). */
  forgetBias?: number;
  /** Seed for the initial weights (default 0). */
  seed?: number;
}

export const DEFAULT_LSTM_CELL = { forgetBias: 1, seed: 0 };

/** Where each gate sits in the fused `4H` axis. */
export const LSTM_GATE_ORDER = ['i', 'f', 'g', 'o'] as const;

export class LSTMCell extends BaseCell {
  readonly kind = 'lstm' as const;
  readonly gates = 4;
  readonly hasCellState = true;
  /** Input kernel `[D, 4H]` (i, f, g, o): Glorot uniform. */
  readonly W_x: tf.Variable;
  /** Recurrent kernel `[H, 4H]` (i, f, g, o): one orthogonal `[H, H]` block per gate. */
  readonly W_h: tf.Variable;
  /** Bias `[4H]` (i, f, g, o): zeros, forget block `forgetBias`. */
  readonly b: tf.Variable;

  constructor(config: LSTMCellConfig) {
    const c = configure<Required<LSTMCellConfig>>('LSTMCell', DEFAULT_LSTM_CELL, ['inputSize', 'hidden'], config);
    assertInt('LSTMCell.inputSize', c.inputSize);
    assertInt('LSTMCell.hidden', c.hidden);
    assertNumber('LSTMCell.forgetBias', c.forgetBias);
    assertInt('LSTMCell.seed', c.seed, 0);
    super(c.inputSize, c.hidden);
    const D = c.inputSize;
    const H = c.hidden;
    const rng = (name: string) => new Rng(hashSeed(`${c.seed}/${name}`));
    this.W_x = makeVariable(glorotUniform(rng('W_x'), D, 4 * H), [D, 4 * H]);
    this.W_h = makeVariable(orthogonalBlocks(rng('W_h'), H, 4), [H, 4 * H]);
    const b = new Float32Array(4 * H);
    b.fill(c.forgetBias, H, 2 * H); // the f block
    this.b = makeVariable(b, [4 * H]);
  }

  projectInput(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.add(tf.matMul(x, this.W_x), this.b)); // [N, 4H]
  }

  stepper(): StepFn {
    return (xp, state) => {
      const z = tf.add(xp, tf.matMul(state.h, this.W_h)); // [B, 4H]: all gates, one matmul
      const [zi, zf, zg, zo] = tf.split(z, 4, 1) as tf.Tensor2D[]; // 4 × [B, H]
      const i = tf.sigmoid(zi!);
      const f = tf.sigmoid(zf!);
      const g = tf.tanh(zg!);
      const o = tf.sigmoid(zo!);
      const c = tf.add(tf.mul(f, state.c!), tf.mul(i, g)) as tf.Tensor2D;
      const h = tf.mul(o, tf.tanh(c)) as tf.Tensor2D;
      return { h, c };
    };
  }

  variables(): Record<string, tf.Variable> {
    return { W_x: this.W_x, W_h: this.W_h, b: this.b };
  }
}
