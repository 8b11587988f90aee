// The bidirectional wrapper (Schuster & Paliwal 1997, "Bidirectional recurrent neural networks"):
// one layer reads the sequence left to right, a second reads it right to left, and their outputs
// at each position are merged (concatenated, or summed).
// With a mask, the backward direction reads each sequence from ITS OWN last real token: the real
// positions of every row are reversed among themselves and padding stays where it is, so a padded
// batch gives the same results as each sequence run alone (as PyTorch's packed sequences do).
import * as tf from '@tensorflow/tfjs-core';
import { assertChoice, assertInt, assignWeights, ConfigError, configure, countParams, hashSeed, prefixed, type SetWeightsOptions } from '@attend/core';
import {
  DEFAULT_RNN_LAYER,
  RNNLayer,
  checkSequenceInput,
  type RNNLayerConfig,
  type SequenceLayer,
  type SequenceOptions,
  type SequenceResult,
  type StepResult,
} from './rnn-layer.js';
import { checkState, concatStates, sliceState, type RNNState } from './state.js';

/** How the two directions' outputs are combined: `[B, T, 2H]` or `[B, T, H]`. */
export type MergeMode = 'concat' | 'sum';
export const MERGE_MODES: readonly MergeMode[] = ['concat', 'sum'];

export interface BidirectionalConfig extends RNNLayerConfig {
  /** Default `'concat'` (forward first). */
  merge?: MergeMode;
}

export const DEFAULT_BIDIRECTIONAL = { ...DEFAULT_RNN_LAYER, merge: 'concat' as MergeMode };

/**
 * Reverses each sequence of `x` `[B, T, F]` along time within its own length: without a mask the
 * whole time axis; with a mask `[B, T]` the real positions of each row among themselves (padding
 * stays in place). Applying it twice gives `x` back. Reads the mask's values (a sync).
 */
export function reverseSequences<T extends tf.Tensor3D>(x: T, mask?: tf.Tensor2D): T {
  if (!mask) return tf.reverse(x, 1);
  const [B, T, F] = x.shape;
  const m = mask.dataSync();
  const index = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    const real: number[] = [];
    for (let t = 0; t < T; t++) {
      index[b * T + t] = b * T + t;
      if (m[b * T + t]! > 0.5) real.push(t);
    }
    for (let i = 0; i < real.length; i++) index[b * T + real[i]!] = b * T + real[real.length - 1 - i]!;
  }
  return tf.tidy(() => tf.reshape(tf.gather(tf.reshape(x, [B * T, F]), tf.tensor1d(index, 'int32')), [B, T, F])) as T;
}

/**
 * Two layers over opposite directions. Variables are named `forward/<cell>/…` and
 * `backward/<cell>/…`; the state holds two entries, forward then backward.
 */
export class Bidirectional implements SequenceLayer {
  readonly forwardLayer: RNNLayer;
  readonly backwardLayer: RNNLayer;
  readonly merge: MergeMode;
  readonly stateSlots = 2;

  /** From a config (the two directions get seeds derived from `seed`), or around two layers it then owns. */
  constructor(config: BidirectionalConfig | { forward: RNNLayer; backward: RNNLayer; merge?: MergeMode }) {
    if ('forward' in config) {
      const { forward, backward, merge = 'concat' } = config;
      assertChoice('Bidirectional.merge', merge, MERGE_MODES);
      if (forward.inputSize !== backward.inputSize || forward.hidden !== backward.hidden || forward.cell.kind !== backward.cell.kind) {
        throw new ConfigError(
          `Bidirectional: the two directions must match, got forward ${forward.cell.kind} ${forward.inputSize}→${forward.hidden} and backward ${backward.cell.kind} ${backward.inputSize}→${backward.hidden}`,
        );
      }
      this.forwardLayer = forward;
      this.backwardLayer = backward;
      this.merge = merge;
      return;
    }
    const c = configure<Required<BidirectionalConfig>>('Bidirectional', DEFAULT_BIDIRECTIONAL, ['cell', 'inputSize', 'hidden'], config);
    assertChoice('Bidirectional.merge', c.merge, MERGE_MODES);
    assertInt('Bidirectional.seed', c.seed, 0);
    const { merge, seed, ...layer } = c;
    this.merge = merge;
    this.forwardLayer = new RNNLayer({ ...layer, seed: hashSeed(`${seed}/forward`) });
    this.backwardLayer = new RNNLayer({ ...layer, seed: hashSeed(`${seed}/backward`) });
  }

  get inputSize(): number {
    return this.forwardLayer.inputSize;
  }
  get hidden(): number {
    return this.forwardLayer.hidden;
  }
  get outputSize(): number {
    return this.merge === 'concat' ? 2 * this.hidden : this.hidden;
  }
  get hasCellState(): boolean {
    return this.forwardLayer.hasCellState;
  }

  forward(x: tf.Tensor3D, options?: SequenceOptions<true>): SequenceResult<true>;
  forward(x: tf.Tensor3D, options: SequenceOptions<false>): SequenceResult<false>;
  forward(x: tf.Tensor3D, options?: SequenceOptions): SequenceResult<boolean>;
  forward(x: tf.Tensor3D, options: SequenceOptions = {}): SequenceResult<boolean> {
    const { initialState, mask, returnSequences = true } = options;
    const [B] = checkSequenceInput('Bidirectional.forward', x, this.inputSize, mask);
    if (initialState) checkState('Bidirectional.forward initialState', initialState, 2, B, this.hidden, this.hasCellState);
    return tf.tidy(() => {
      const fwd = this.forwardLayer.forward(x, { mask, initialState: initialState && sliceState(initialState, 0, 1) });
      const bwd = this.backwardLayer.forward(reverseSequences(x, mask), {
        mask, // reversing within each row's length leaves the mask unchanged
        initialState: initialState && sliceState(initialState, 1, 1),
      });
      const state = concatStates([fwd.state, bwd.state]);
      const output = returnSequences
        ? this.mergeOutputs(fwd.output, reverseSequences(bwd.output, mask)) // [B, T, H'] (H' = 2H or H)
        : this.mergeOutputs(fwd.state.h[0]!, bwd.state.h[0]!); // [B, H']
      return { output, state };
    }) as SequenceResult<boolean>;
  }

  /** Not possible: the backward direction starts from the END of the sequence. Always throws. */
  step(_x: tf.Tensor2D, _state?: RNNState): StepResult {
    throw new ConfigError(
      'Bidirectional.step: a bidirectional layer cannot run one timestep at a time, because its backward direction reads the sequence from the end; use forward() on the whole sequence',
    );
  }

  initialState(batch: number): RNNState {
    assertInt('Bidirectional.initialState batch', batch);
    return concatStates([this.forwardLayer.initialState(batch), this.backwardLayer.initialState(batch)]);
  }

  variables(): Record<string, tf.Variable> {
    return { ...prefixed('forward', this.forwardLayer.variables()), ...prefixed('backward', this.backwardLayer.variables()) };
  }

  setWeights(record: Record<string, tf.Tensor>, options?: SetWeightsOptions): void {
    assignWeights('Bidirectional', this.variables(), record, options);
  }

  paramCount(): number {
    return countParams(this.variables());
  }

  dispose(): void {
    this.forwardLayer.dispose();
    this.backwardLayer.dispose();
  }

  private mergeOutputs<T extends tf.Tensor>(f: T, b: T): T {
    return (this.merge === 'concat' ? tf.concat([f, b], -1) : tf.add(f, b)) as T;
  }
}
