// The GRU cell, exactly as taught (Cho et al. 2014, "Learning phrase representations using RNN
// encoder-decoder for statistical machine translation"):
//   z  = σ(W_z·[h, x] + b_z)            update gate
//   r  = σ(W_r·[h, x] + b_r)            reset gate
//   h̃  = tanh(W·[r ⊙ h, x] + b_n)       candidate: the reset is applied BEFORE the matmul
//   h  = (1 − z) ⊙ h + z ⊙ h̃            z weights the NEW candidate
// `resetAfter: true` gives the PyTorch / Keras / cuDNN variant, where the reset scales the
// recurrent matmul's result (so all three recurrent products are one matmul):
//   h̃  = tanh(W_x·x + b_x + r ⊙ (W_h·h + b_h))
//
// Fused weights, gate blocks in PyTorch's order r, z, n (n = the candidate h̃):
//   W_x `[D, 3H]`, W_h `[H, 3H]`, and
//     taught:       b `[3H]`
//     resetAfter:   b_x `[3H]` and b_h `[3H]` (b_h's n block sits inside r ⊙ (…)).
// Mapping PyTorch's nn.GRU (which uses h = (1 − z) ⊙ h̃ + z ⊙ h, z weighting the OLD state) onto
// `resetAfter: true`: W_x = weight_ih_l0.T, W_h = weight_hh_l0.T, b_x = bias_ih_l0,
// b_h = bias_hh_l0, each with its z block NEGATED: σ(−a) = 1 − σ(a), so z_ours = 1 − z_torch.
//
// The taught variant needs the reset gate before the candidate's recurrent product, so it runs two
// recurrent matmuls per step ([r, z] together, then the candidate's); reset-after runs one.
import * as tf from '@tensorflow/tfjs-core';
import { assertBool, assertInt, configure, glorotUniform, hashSeed, makeVariable, Rng } from '@attend/core';
import { BaseCell, type StepFn } from './cell.js';
import { DerivedWeights, recordingGradients } from './derived-weights.js';
import { orthogonalBlocks } from './init.js';

export interface GRUCellConfig {
  /** D: input features. */
  inputSize: number;
  /** H: hidden units. */
  hidden: number;
  /** PyTorch/Keras/cuDNN variant: reset applied after the recurrent matmul (default false). */
  resetAfter?: boolean;
  /** Seed for the initial weights (default 0). */
  seed?: number;
}

export const DEFAULT_GRU_CELL = { resetAfter: false, seed: 0 };

/** Where each gate sits in the fused `3H` axis. */
export const GRU_GATE_ORDER = ['r', 'z', 'n'] as const;

export class GRUCell extends BaseCell {
  readonly kind = 'gru' as const;
  readonly gates = 3;
  readonly hasCellState = false;
  readonly resetAfter: boolean;
  /** Input kernel `[D, 3H]` (r, z, n): Glorot uniform. */
  readonly W_x: tf.Variable;
  /** Recurrent kernel `[H, 3H]` (r, z, n): one orthogonal `[H, H]` block per gate. */
  readonly W_h: tf.Variable;
  /** Input bias `[3H]` (`b` taught, `b_x` reset-after): zeros. */
  readonly b: tf.Variable;
  /** Recurrent bias `[3H]`, reset-after only: zeros. */
  readonly b_h: tf.Variable | undefined;

  constructor(config: GRUCellConfig) {
    const c = configure<Required<GRUCellConfig>>('GRUCell', DEFAULT_GRU_CELL, ['inputSize', 'hidden'], config);
    assertInt('GRUCell.inputSize', c.inputSize);
    assertInt('GRUCell.hidden', c.hidden);
    assertBool('GRUCell.resetAfter', c.resetAfter);
    assertInt('GRUCell.seed', c.seed, 0);
    super(c.inputSize, c.hidden);
    this.resetAfter = c.resetAfter;
    const D = c.inputSize;
    const H = c.hidden;
    const rng = (name: string) => new Rng(hashSeed(`${c.seed}/${name}`));
    this.W_x = makeVariable(glorotUniform(rng('W_x'), D, 3 * H), [D, 3 * H]);
    this.W_h = makeVariable(orthogonalBlocks(rng('W_h'), H, 3), [H, 3 * H]);
    this.b = makeVariable(new Float32Array(3 * H), [3 * H]);
    this.b_h = this.resetAfter ? makeVariable(new Float32Array(3 * H), [3 * H]) : undefined;
  }

  projectInput(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.add(tf.matMul(x, this.W_x), this.b)); // [N, 3H]
  }

  stepper(): StepFn {
    const H = this.hidden;
    if (this.resetAfter) {
      return (xp, { h }) => {
        const [x_r, x_z, x_n] = tf.split(xp, 3, 1) as tf.Tensor2D[]; // 3 × [B, H]
        const hp = tf.add(tf.matMul(h, this.W_h), this.b_h!); // [B, 3H]: one recurrent matmul
        const [h_r, h_z, h_n] = tf.split(hp, 3, 1) as tf.Tensor2D[];
        const r = tf.sigmoid(tf.add(x_r!, h_r!));
        const z = tf.sigmoid(tf.add(x_z!, h_z!));
        const n = tf.tanh(tf.add(x_n!, tf.mul(r, h_n!)));
        return { h: tf.add(tf.mul(tf.sub(1, z), h), tf.mul(z, n)) as tf.Tensor2D };
      };
    }
    const [W_hrz, W_hn] = this.splitW_h(); // [H, 2H], [H, H]
    return (xp, { h }) => {
      const [x_r, x_z, x_n] = tf.split(xp, 3, 1) as tf.Tensor2D[]; // 3 × [B, H]
      const [h_r, h_z] = tf.split(tf.matMul(h, W_hrz!), 2, 1) as tf.Tensor2D[]; // [B, H] each
      const r = tf.sigmoid(tf.add(x_r!, h_r!));
      const z = tf.sigmoid(tf.add(x_z!, h_z!));
      const n = tf.tanh(tf.add(x_n!, tf.matMul(tf.mul(r, h), W_hn!))); // reset BEFORE the matmul
      return { h: tf.add(tf.mul(tf.sub(1, z), h), tf.mul(z, n)) as tf.Tensor2D };
    };
  }

  /**
   * W_h split into its [r, z] and n blocks (`[H, 2H]`, `[H, H]`; yours only under a gradient tape —
   * otherwise cached, do not dispose). While no gradient is recorded (generation through the
   * step API calls `stepper()` once per token) the split is cached (./derived-weights.ts; the kept
   * blocks themselves, not clones: a clone is a copy on wasm, and XNNPACK re-packs a matmul's
   * weights for every new tensor); under a tape it is recomputed so the gradient reaches W_h.
   */
  splitW_h(): [tf.Tensor2D, tf.Tensor2D] {
    const H = this.hidden;
    const split = () => tf.split(this.W_h, [2 * H, H], 1) as [tf.Tensor2D, tf.Tensor2D];
    return recordingGradients() ? split() : this.split.get([this.W_h], split);
  }

  private readonly split = new DerivedWeights<[tf.Tensor2D, tf.Tensor2D]>();

  override dispose(): void {
    this.split.dispose();
    super.dispose();
  }

  variables(): Record<string, tf.Variable> {
    return this.resetAfter
      ? { W_x: this.W_x, W_h: this.W_h, b_x: this.b, b_h: this.b_h! }
      : { W_x: this.W_x, W_h: this.W_h, b: this.b };
  }
}
