// What every recurrent cell provides, and the parts they share. A cell is one time step:
// (x_t, state_{t-1}) → state_t. The time loop lives in `rnn-layer.ts`; the cells split their work so
// the loop can project the inputs of ALL timesteps in one matmul (`projectInput`) and then run only
// the recurrent part per step (`stepper`).
//
// Weight layout (all cells): input kernel `[D, k·H]`, recurrent kernel `[H, k·H]`, bias `[k·H]`,
// with the k gate blocks side by side in PyTorch's order (LSTM i, f, g, o; GRU r, z, n), so
// `x·W_x` computes every gate at once and PyTorch's `weight_ih.T` maps onto `W_x` directly.
import * as tf from '@tensorflow/tfjs-core';
import { assignWeights, countParams, ShapeError, type SetWeightsOptions } from '@attend/core';
import type { CellState } from './state.js';

/** The cell types: vanilla (Elman) RNN, LSTM, GRU. */
export type CellKind = 'rnn' | 'lstm' | 'gru';
export const CELL_KINDS: readonly CellKind[] = ['rnn', 'lstm', 'gru'];

/** The vanilla RNN's nonlinearity. */
export type Activation = 'tanh' | 'relu';
export const ACTIVATIONS: readonly Activation[] = ['tanh', 'relu'];

/** A step over a projected input `xp = x·W_x + b` `[B, k·H]`. Returns fresh tensors. */
export type StepFn = (xp: tf.Tensor2D, state: CellState) => CellState;

export interface RecurrentCell {
  readonly kind: CellKind;
  /** D: input features. */
  readonly inputSize: number;
  /** H: hidden units. */
  readonly hidden: number;
  /** k: gate blocks in the fused kernels (rnn 1, lstm 4, gru 3). */
  readonly gates: number;
  /** Whether the state has a memory cell `c` (LSTM). */
  readonly hasCellState: boolean;
  /** The input half of every gate for many rows at once: `[N, D]` → `[N, k·H]`. */
  projectInput(x: tf.Tensor2D): tf.Tensor2D;
  /**
   * A step function bound to this cell's weights (any weight slicing happens once, here, not per
   * step). Call inside a `tf.tidy`; the function's results are tidied with it.
   */
  stepper(): StepFn;
  /** One step from a raw input `x` `[B, D]`; returns a fresh state you own. */
  step(x: tf.Tensor2D, state: CellState): CellState;
  /** Zeros `[batch, H]` (and `c`); you own them. */
  zeroState(batch: number): CellState;
  /** The weights, keyed by their names in the equations (`W_x`, `W_h`, `b`, …). */
  variables(): Record<string, tf.Variable>;
  setWeights(record: Record<string, tf.Tensor>, options?: SetWeightsOptions): void;
  paramCount(): number;
  dispose(): void;
}

/** Shared plumbing: input checks, the one-step API, weights bookkeeping. */
export abstract class BaseCell implements RecurrentCell {
  abstract readonly kind: CellKind;
  abstract readonly gates: number;
  abstract readonly hasCellState: boolean;
  abstract projectInput(x: tf.Tensor2D): tf.Tensor2D;
  abstract stepper(): StepFn;
  abstract variables(): Record<string, tf.Variable>;

  constructor(
    readonly inputSize: number,
    readonly hidden: number,
  ) {}

  step(x: tf.Tensor2D, state: CellState): CellState {
    const name = `${this.constructor.name}.step`;
    if (x.rank !== 2 || x.shape[1] !== this.inputSize) {
      throw new ShapeError(`${name}: expected x of shape [B, ${this.inputSize}], got [${x.shape.join(', ')}]`);
    }
    checkCellState(name, state, x.shape[0], this.hidden, this.hasCellState);
    return tf.tidy(() => this.stepper()(this.projectInput(x), state));
  }

  zeroState(batch: number): CellState {
    const h = tf.zeros([batch, this.hidden]) as tf.Tensor2D;
    return this.hasCellState ? { h, c: tf.zeros([batch, this.hidden]) as tf.Tensor2D } : { h };
  }

  setWeights(record: Record<string, tf.Tensor>, options?: SetWeightsOptions): void {
    assignWeights(this.constructor.name, this.variables(), record, options);
  }

  paramCount(): number {
    return countParams(this.variables());
  }

  dispose(): void {
    for (const v of Object.values(this.variables())) v.dispose();
  }
}

function checkCellState(what: string, state: CellState, batch: number, hidden: number, withCell: boolean): void {
  const check = (name: string, t: tf.Tensor | undefined) => {
    if (!(t instanceof tf.Tensor) || t.rank !== 2 || t.shape[0] !== batch || t.shape[1] !== hidden) {
      const got = t instanceof tf.Tensor ? `[${t.shape.join(', ')}]` : String(t);
      throw new ShapeError(`${what}: expected state.${name} of shape [${batch}, ${hidden}], got ${got}`);
    }
  };
  check('h', state?.h);
  if (withCell) check('c', state.c);
}
