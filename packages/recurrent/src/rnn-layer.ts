// The sequence layer: one cell run over time.
//   1. the input half of every gate for ALL timesteps in one matmul: [B·T, D] × [D, k·H]
//   2. per step, only the recurrent part (all gates in one matmul; two for the taught GRU)
//   3. a mask [B, T] (1 = real token, 0 = padding): at padded steps the state is carried through
//      unchanged and the output is zero, so padding never changes the results at real positions
//      nor the final state (which is the state after each sequence's last real token).
// Also the one-step API, `step(x_t, state)`, so generation costs O(1) per token, and the cell
// factory `createCell`.
import * as tf from '@tensorflow/tfjs-core';
import { assertChoice, assertInt, assignWeights, ConfigError, configure, countParams, prefixed, ShapeError, type SetWeightsOptions } from '@attend/core';
import { ACTIVATIONS, CELL_KINDS, type Activation, type CellKind, type RecurrentCell } from './cell.js';
import { GRUCell } from './gru.js';
import { LSTMCell } from './lstm.js';
import { lstmSequence } from './lstm-sequence.js';
import { gruResetAfterSequence, gruSequence } from './gru-sequence.js';
import { gruStepTensorflow, lstmStepTensorflow, tensorflowAvailable, tensorflowStepAvailable } from './tensorflow-step.js';
import { gruLayerTensorflow, gruResetAfterLayerTensorflow, lstmLayerTensorflow, rnnLayerTensorflow } from './tensorflow-sequence.js';
import { rnnSequence } from './rnn-sequence.js';
import { fusedLayerAvailable, fusedLayerPacked } from './fused-layer.js';
import { unpackSequence } from './sequence-mask.js';
import { gruStepKernel, lstmStepKernel, stepKernelAvailable } from './step-kernel.js';
import { SimpleRNNCell } from './simple-rnn.js';
import { cellStateAt, checkState, joinCellStates, type CellState, type RNNState } from './state.js';

let useHandWrittenBackward = true;
/**
 * Turns the hand-written backward passes (vanilla RNN, LSTM, both GRUs; masked or not) on or off (default
 * on); off, every cell runs on tfjs's autodiff through the per-step ops — the reference path. Returns the
 * previous setting.
 */
export function setHandWrittenBackward(on: boolean): boolean {
  const before = useHandWrittenBackward;
  useHandWrittenBackward = on;
  return before;
}

let useTensorflowOps = true;
/**
 * Turns the TensorFlow-op sequences on tfjs-node (./tensorflow-sequence.ts: the LSTM, both GRUs and
 * the vanilla RNN, unmasked) on or off (default on); off, those cells take the SIMD layer kernels
 * or the hand-written BPTT there too (for benchmarks and tests). Returns the previous setting.
 */
export function setTensorflowSequenceOps(on: boolean): boolean {
  const before = useTensorflowOps;
  useTensorflowOps = on;
  return before;
}

/** Options of a full-sequence pass. */
export interface SequenceOptions<R extends boolean = boolean> {
  /** The state before the first step (default zeros). Not disposed: it stays yours. */
  initialState?: RNNState;
  /** `[B, T]`, 1 = real token, 0 = padding (any numeric dtype). Default: all real. */
  mask?: tf.Tensor2D;
  /** Return every step's output `[B, T, H]` (default true), or only the last real one `[B, H]`. */
  returnSequences?: R;
  /** Training mode: enables dropout in stacks (default false). */
  training?: boolean;
}

/** The result of a full-sequence pass: fresh tensors, all yours to dispose (`tf.dispose(result)` works: a plain tensor container). */
export type SequenceResult<R extends boolean = true> = {
  /** `[B, T, H]` with `returnSequences` (zeros at padded steps), else `[B, H]`. */
  output: R extends false ? tf.Tensor2D : tf.Tensor3D;
  /** The final state (after each sequence's last real token). */
  state: RNNState;
};

/** The result of one step: fresh tensors, all yours to dispose. */
export type StepResult = {
  /** `[B, H]`: this step's output. */
  y: tf.Tensor2D;
  state: RNNState;
};

/** What layers, bidirectional wrappers and stacks have in common. */
export interface SequenceLayer {
  /** Input features D. */
  readonly inputSize: number;
  /** Output features (H; 2H for a concatenating bidirectional layer). */
  readonly outputSize: number;
  /** Hidden units H per direction. */
  readonly hidden: number;
  /** Entries in this layer's `RNNState` lists (1 per layer and direction). */
  readonly stateSlots: number;
  /** Whether the state has `c` (LSTM). */
  readonly hasCellState: boolean;
  forward(x: tf.Tensor3D, options?: SequenceOptions<true>): SequenceResult<true>;
  forward(x: tf.Tensor3D, options: SequenceOptions<false>): SequenceResult<false>;
  forward(x: tf.Tensor3D, options?: SequenceOptions): SequenceResult<boolean>;
  /** One timestep: `x_t` `[B, D]` → `{ y [B, H], state }`. `state` defaults to zeros. */
  step(x: tf.Tensor2D, state?: RNNState): StepResult;
  /** Zeros for a batch of `batch`; you own them. */
  initialState(batch: number): RNNState;
  variables(): Record<string, tf.Variable>;
  setWeights(record: Record<string, tf.Tensor>, options?: SetWeightsOptions): void;
  paramCount(): number;
  dispose(): void;
}

export interface RNNLayerConfig {
  /** `'rnn'` (vanilla), `'lstm'` or `'gru'`. */
  cell: CellKind;
  /** D: input features. */
  inputSize: number;
  /** H: hidden units. */
  hidden: number;
  /** Vanilla RNN nonlinearity (default `'tanh'`; rnn only). */
  activation?: Activation;
  /** GRU reset-after variant (default false; gru only). */
  resetAfter?: boolean;
  /** LSTM forget-gate bias init (default 1; lstm only). */
  forgetBias?: number;
  /** Weight seed (default 0). */
  seed?: number;
}

export const DEFAULT_RNN_LAYER = { activation: 'tanh' as Activation, resetAfter: false, forgetBias: 1, seed: 0 };

/** Builds the cell a layer config names. Options that do not apply to the cell type must stay at their defaults. */
export function createCell(config: RNNLayerConfig, what = 'createCell'): RecurrentCell {
  const c = configure<Required<RNNLayerConfig>>(what, DEFAULT_RNN_LAYER, ['cell', 'inputSize', 'hidden'], config);
  assertChoice(`${what}.cell`, c.cell, CELL_KINDS);
  assertChoice(`${what}.activation`, c.activation, ACTIVATIONS);
  const unused = (key: keyof typeof DEFAULT_RNN_LAYER) => {
    if (c[key] !== DEFAULT_RNN_LAYER[key]) {
      throw new ConfigError(`${what}.${key}: does not apply to cell "${c.cell}" (got ${JSON.stringify(c[key])}); remove it`);
    }
  };
  switch (c.cell) {
    case 'rnn':
      unused('resetAfter');
      unused('forgetBias');
      return new SimpleRNNCell({ inputSize: c.inputSize, hidden: c.hidden, activation: c.activation, seed: c.seed });
    case 'lstm':
      unused('activation');
      unused('resetAfter');
      return new LSTMCell({ inputSize: c.inputSize, hidden: c.hidden, forgetBias: c.forgetBias, seed: c.seed });
    case 'gru':
      unused('activation');
      unused('forgetBias');
      return new GRUCell({ inputSize: c.inputSize, hidden: c.hidden, resetAfter: c.resetAfter, seed: c.seed });
    default:
      throw new ConfigError(`Unknown cell type: ${String(c.cell)}`);
  }
}

/** Checks `x` `[B, T, D]` and `mask` `[B, T]`; returns `[B, T]`. */
export function checkSequenceInput(what: string, x: tf.Tensor, inputSize: number, mask?: tf.Tensor): [number, number] {
  if (!(x instanceof tf.Tensor) || x.rank !== 3 || x.shape[2] !== inputSize) {
    const got = x instanceof tf.Tensor ? `[${x.shape.join(', ')}]` : String(x);
    throw new ShapeError(`${what}: expected x of shape [B, T, ${inputSize}], got ${got}`);
  }
  const [B, T] = x.shape as [number, number, number];
  if (T < 1) throw new ShapeError(`${what}: expected at least one timestep, got T = 0`);
  if (mask !== undefined && (!(mask instanceof tf.Tensor) || mask.rank !== 2 || mask.shape[0] !== B || mask.shape[1] !== T)) {
    const got = mask instanceof tf.Tensor ? `[${mask.shape.join(', ')}]` : String(mask);
    throw new ShapeError(`${what}: expected mask of shape [${B}, ${T}] (1 = real token, 0 = padding), got ${got}`);
  }
  return [B, T];
}

/** A cell run over time. Variables are named `<cell>/<weight>`, e.g. `lstm/W_x`. */
export class RNNLayer implements SequenceLayer {
  readonly cell: RecurrentCell;
  readonly stateSlots = 1;

  /** From a layer config, or around an existing cell (which the layer then owns). */
  constructor(config: RNNLayerConfig | RecurrentCell) {
    this.cell = 'stepper' in config ? config : createCell(config, 'RNNLayer');
  }

  get inputSize(): number {
    return this.cell.inputSize;
  }
  get hidden(): number {
    return this.cell.hidden;
  }
  get outputSize(): number {
    return this.cell.hidden;
  }
  get hasCellState(): boolean {
    return this.cell.hasCellState;
  }

  forward(x: tf.Tensor3D, options?: SequenceOptions<true>): SequenceResult<true>;
  forward(x: tf.Tensor3D, options: SequenceOptions<false>): SequenceResult<false>;
  forward(x: tf.Tensor3D, options?: SequenceOptions): SequenceResult<boolean>;
  forward(x: tf.Tensor3D, options: SequenceOptions = {}): SequenceResult<boolean> {
    const { initialState, mask, returnSequences = true } = options;
    const [B, T] = checkSequenceInput('RNNLayer.forward', x, this.inputSize, mask);
    const H = this.hidden;
    if (initialState) checkState('RNNLayer.forward initialState', initialState, 1, B, H, this.hasCellState);
    return tf.tidy(() => {
      const s0: CellState = initialState ? cellStateAt(initialState, 0) : this.cell.zeroState(B);
      const fast = useHandWrittenBackward ? this.wholeSequence(x, s0, mask) : undefined;
      if (fast) return { output: returnSequences ? fast.hs : tf.clone(fast.last.h), state: joinCellStates([fast.last]) };
      const xp = this.projectAll(x); // [B, T, kH]
      const xs = tf.unstack(xp, 1) as tf.Tensor2D[]; // T × [B, kH]
      const ms = mask ? (tf.unstack(tf.reshape(tf.cast(mask, 'float32'), [B, T, 1]), 1) as tf.Tensor2D[]) : undefined; // T × [B, 1]
      const step = this.cell.stepper();
      let state = s0;
      const ys: tf.Tensor2D[] = [];
      for (let t = 0; t < T; t++) {
        const next = step(xs[t]!, state);
        if (ms) {
          const m = ms[t]!; // [B, 1]
          state = carry(m, next, state);
          ys.push(tf.mul(next.h, m));
        } else {
          state = next;
          ys.push(next.h);
        }
      }
      const output = returnSequences ? (tf.stack(ys, 1) as tf.Tensor3D) : tf.clone(state.h); // [B, T, H] | [B, H]
      return { output, state: joinCellStates([state]) };
    }) as SequenceResult<boolean>;
  }

  /** The input projection of every timestep in one matmul: x `[B, T, D]` → `[B, T, kH]`. */
  private projectAll(x: tf.Tensor3D): tf.Tensor3D {
    const [B, T, D] = x.shape;
    return tf.reshape(this.cell.projectInput(tf.reshape(x, [B * T, D])), [B, T, this.cell.gates * this.hidden]);
  }

  /**
   * The sequence on a fast path with its own backward pass, where the cell has one: TensorFlow ops
   * step by step with batched weight gradients on tfjs-node (./tensorflow-sequence.ts: the LSTM, both
   * GRUs, the vanilla RNN; unmasked only), else the hand-written BPTT of the
   * vanilla RNN (./rnn-sequence.ts), the LSTM (./lstm-sequence.ts) or either GRU (./gru-sequence.ts),
   * masked or not. Undefined (a cell of another class): use the time loop.
   */
  private wholeSequence(x: tf.Tensor3D, s0: CellState, mask?: tf.Tensor2D): { hs: tf.Tensor3D; last: CellState } | undefined {
    const layer = this.fusedLayer(x, s0, mask);
    if (layer) return layer;
    const cell = this.cell;
    const tensorflow = useTensorflowOps && !mask && tensorflowAvailable();
    if (cell instanceof LSTMCell) {
      const r =
        tensorflow
          ? lstmLayerTensorflow(x, cell.W_x as tf.Tensor2D, cell.W_h as tf.Tensor2D, cell.b as tf.Tensor1D, s0.h, s0.c!)
          : lstmSequence(this.projectAll(x), cell.W_h as tf.Tensor2D, s0.h, s0.c!, mask);
      return { hs: r.hs, last: { h: r.h, c: r.c } };
    }
    let r: { hs: tf.Tensor3D; h: tf.Tensor2D } | undefined;
    if (cell instanceof GRUCell) {
      r = cell.resetAfter
        ? tensorflow
          ? gruResetAfterLayerTensorflow(x, cell.W_x as tf.Tensor2D, cell.W_h as tf.Tensor2D, cell.b as tf.Tensor1D, cell.b_h as tf.Tensor1D, s0.h)
          : gruResetAfterSequence(this.projectAll(x), cell.W_h as tf.Tensor2D, cell.b_h as tf.Tensor1D, s0.h, mask)
        : tensorflow
          ? gruLayerTensorflow(x, cell.W_x as tf.Tensor2D, cell.W_h as tf.Tensor2D, cell.b as tf.Tensor1D, s0.h)
          : gruSequence(this.projectAll(x), cell.W_h as tf.Tensor2D, s0.h, mask);
    } else if (cell instanceof SimpleRNNCell) {
      r = tensorflow
        ? rnnLayerTensorflow(x, cell.W_xh as tf.Tensor2D, cell.W_hh as tf.Tensor2D, cell.b as tf.Tensor1D, s0.h, cell.activation)
        : rnnSequence(this.projectAll(x), cell.W_hh as tf.Tensor2D, s0.h, cell.activation, mask);
    }
    return r && { hs: r.hs, last: { h: r.h } };
  }

  /** The whole layer, input projection included, as one kernel each way (./fused-layer.ts), where available. */
  private fusedLayer(x: tf.Tensor3D, s0: CellState, mask?: tf.Tensor2D): { hs: tf.Tensor3D; last: CellState } | undefined {
    const cell = this.cell;
    const H = this.hidden;
    let packed: tf.Tensor3D | undefined;
    const masked = mask !== undefined;
    if (cell instanceof LSTMCell && fusedLayerAvailable('lstm', H, masked)) {
      packed = fusedLayerPacked('lstm', x, cell.W_x as tf.Tensor2D, cell.b as tf.Tensor1D, cell.W_h as tf.Tensor2D, s0.h, { c0: s0.c!, mask });
    } else if (cell instanceof GRUCell && !cell.resetAfter && fusedLayerAvailable('gru', H, masked)) {
      packed = fusedLayerPacked('gru', x, cell.W_x as tf.Tensor2D, cell.b as tf.Tensor1D, cell.W_h as tf.Tensor2D, s0.h, { mask });
    } else if (cell instanceof GRUCell && cell.resetAfter && fusedLayerAvailable('gruResetAfter', H, masked)) {
      packed = fusedLayerPacked('gruResetAfter', x, cell.W_x as tf.Tensor2D, cell.b as tf.Tensor1D, cell.W_h as tf.Tensor2D, s0.h, { mask, b_h: cell.b_h as tf.Tensor1D });
    } else if (cell instanceof SimpleRNNCell && fusedLayerAvailable('rnn', H, masked)) {
      packed = fusedLayerPacked('rnn', x, cell.W_xh as tf.Tensor2D, cell.b as tf.Tensor1D, cell.W_hh as tf.Tensor2D, s0.h, { mask, activation: cell.activation });
    }
    if (!packed) return undefined;
    const { hs, finals } = unpackSequence(packed, cell instanceof LSTMCell ? 2 : 1);
    return { hs, last: cell instanceof LSTMCell ? { h: finals[0]!, c: finals[1]! } : { h: finals[0]! } };
  }

  step(x: tf.Tensor2D, state?: RNNState): StepResult {
    if (!(x instanceof tf.Tensor) || x.rank !== 2 || x.shape[1] !== this.inputSize) {
      const got = x instanceof tf.Tensor ? `[${x.shape.join(', ')}]` : String(x);
      throw new ShapeError(`RNNLayer.step: expected x_t of shape [B, ${this.inputSize}], got ${got}`);
    }
    const B = x.shape[0];
    if (state) checkState('RNNLayer.step state', state, 1, B, this.hidden, this.hasCellState);
    return tf.tidy(() => {
      const prev = state ? cellStateAt(state, 0) : this.cell.zeroState(B);
      const next = this.nextState(x, prev);
      return { y: tf.clone(next.h), state: joinCellStates([next]) };
    });
  }

  /** One step's new state (call inside a tidy), on the fastest path the backend has for this cell. */
  private nextState(x: tf.Tensor2D, prev: CellState): CellState {
    const cell = this.cell;
    const taught = cell instanceof LSTMCell || (cell instanceof GRUCell && !cell.resetAfter);
    if (taught && tensorflowStepAvailable()) {
      // Generation on tfjs-node: the LSTM and the taught GRU step as one fused TensorFlow op each (inference only).
      return cell instanceof LSTMCell
        ? lstmStepTensorflow(cell, x, cell.W_x as tf.Tensor2D, cell.W_h as tf.Tensor2D, cell.b as tf.Tensor1D, prev.h, prev.c!)
        : { h: gruStepTensorflow(cell, x, cell.W_x as tf.Tensor2D, cell.W_h as tf.Tensor2D, cell.b as tf.Tensor1D, prev.h) };
    }
    if (taught && stepKernelAvailable()) {
      // On cpu and wasm the LSTM's elementwise step is one kernel after the two matmuls, the taught GRU's two (./step-kernel.ts).
      return cell instanceof LSTMCell
        ? lstmStepKernel(cell.projectInput(x), tf.matMul(prev.h, cell.W_h), prev.c!)
        : { h: gruStepKernel(cell.projectInput(x), prev.h, ...(cell as GRUCell).splitW_h()) };
    }
    return cell.stepper()(cell.projectInput(x), prev);
  }

  initialState(batch: number): RNNState {
    assertInt('RNNLayer.initialState batch', batch);
    return joinCellStates([this.cell.zeroState(batch)]);
  }

  variables(): Record<string, tf.Variable> {
    return prefixed(this.cell.kind, this.cell.variables());
  }

  setWeights(record: Record<string, tf.Tensor>, options?: SetWeightsOptions): void {
    assignWeights('RNNLayer', this.variables(), record, options);
  }

  paramCount(): number {
    return countParams(this.variables());
  }

  dispose(): void {
    this.cell.dispose();
  }
}

/** Masked update: the new state where `m` = 1, the previous one where `m` = 0. `m` is `[B, 1]`. */
function carry(m: tf.Tensor2D, next: CellState, prev: CellState): CellState {
  const keep = tf.sub(1, m); // [B, 1]
  const mix = (a: tf.Tensor2D, b: tf.Tensor2D) => tf.add(tf.mul(m, a), tf.mul(keep, b)) as tf.Tensor2D;
  return next.c ? { h: mix(next.h, prev.h), c: mix(next.c, prev.c!) } : { h: mix(next.h, prev.h) };
}
