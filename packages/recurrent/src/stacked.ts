// A stack of recurrent layers: layer ℓ+1 reads layer ℓ's outputs (Graves 2013, "Generating
// sequences with recurrent neural networks"), with dropout between layers while training
// (Zaremba et al. 2014: dropout on the non-recurrent connections only; like PyTorch's nn.LSTM,
// not after the last layer). Dropout is seeded: the stack draws a fresh mask seed for every
// training pass from its own `Rng`, so a run is reproducible from the config seed.
import * as tf from '@tensorflow/tfjs-core';
import { assertBool, assertChoice, assertInt, assertNumber, assignWeights, ConfigError, configure, countParams, hashSeed, prefixed, Rng, type SetWeightsOptions } from '@attend/core';
import { ACTIVATIONS, CELL_KINDS } from './cell.js';
import { Bidirectional, DEFAULT_BIDIRECTIONAL, MERGE_MODES, type MergeMode } from './bidirectional.js';
import {
  RNNLayer,
  checkSequenceInput,
  type RNNLayerConfig,
  type SequenceLayer,
  type SequenceOptions,
  type SequenceResult,
  type StepResult,
} from './rnn-layer.js';
import { checkState, concatStates, sliceState, type RNNState } from './state.js';

export interface StackedRNNConfig extends RNNLayerConfig {
  /** Number of layers (default 2). */
  layers?: number;
  /** Dropout rate on each layer's output except the last, while training (default 0). */
  dropout?: number;
  /** Bidirectional layers (default false); a bidirectional stack cannot `step`. */
  bidirectional?: boolean;
  /** Merge mode of bidirectional layers (default `'concat'`). */
  merge?: MergeMode;
}

export const DEFAULT_STACKED_RNN = { ...DEFAULT_BIDIRECTIONAL, layers: 2, dropout: 0, bidirectional: false };

/**
 * `layers` recurrent layers, bottom first. Variables are named `layer<ℓ>/<cell>/…` (bidirectional:
 * `layer<ℓ>/forward/<cell>/…`); the state lists hold one entry per layer and direction, bottom first.
 */
export class StackedRNN implements SequenceLayer {
  readonly layers: SequenceLayer[];
  readonly dropout: number;
  readonly stateSlots: number;
  private readonly dropoutRng: Rng;

  constructor(config: StackedRNNConfig) {
    const c = configure<Required<StackedRNNConfig>>('StackedRNN', DEFAULT_STACKED_RNN, ['cell', 'inputSize', 'hidden'], config);
    assertChoice('StackedRNN.cell', c.cell, CELL_KINDS);
    assertChoice('StackedRNN.activation', c.activation, ACTIVATIONS);
    assertInt('StackedRNN.inputSize', c.inputSize);
    assertInt('StackedRNN.hidden', c.hidden);
    assertInt('StackedRNN.layers', c.layers);
    assertNumber('StackedRNN.dropout', c.dropout, 0, 0.999);
    assertBool('StackedRNN.bidirectional', c.bidirectional);
    assertChoice('StackedRNN.merge', c.merge, MERGE_MODES);
    assertInt('StackedRNN.seed', c.seed, 0);
    const { layers, dropout, bidirectional, merge, seed, inputSize, ...cell } = c;
    this.dropout = dropout;
    this.dropoutRng = new Rng(hashSeed(`${seed}/dropout`));
    this.layers = [];
    let d = inputSize;
    for (let l = 0; l < layers; l++) {
      const layerSeed = hashSeed(`${seed}/layer${l}`);
      const layer: SequenceLayer = bidirectional
        ? new Bidirectional({ ...cell, inputSize: d, merge, seed: layerSeed })
        : new RNNLayer({ ...cell, inputSize: d, seed: layerSeed });
      this.layers.push(layer);
      d = layer.outputSize;
    }
    this.stateSlots = this.layers.reduce((n, l) => n + l.stateSlots, 0);
  }

  get inputSize(): number {
    return this.layers[0]!.inputSize;
  }
  get hidden(): number {
    return this.layers[0]!.hidden;
  }
  get outputSize(): number {
    return this.layers[this.layers.length - 1]!.outputSize;
  }
  get hasCellState(): boolean {
    return this.layers[0]!.hasCellState;
  }

  forward(x: tf.Tensor3D, options?: SequenceOptions<true>): SequenceResult<true>;
  forward(x: tf.Tensor3D, options: SequenceOptions<false>): SequenceResult<false>;
  forward(x: tf.Tensor3D, options?: SequenceOptions): SequenceResult<boolean>;
  forward(x: tf.Tensor3D, options: SequenceOptions = {}): SequenceResult<boolean> {
    const { initialState, mask, returnSequences = true, training = false } = options;
    const [B] = checkSequenceInput('StackedRNN.forward', x, this.inputSize, mask);
    if (initialState) checkState('StackedRNN.forward initialState', initialState, this.stateSlots, B, this.hidden, this.hasCellState);
    return tf.tidy(() => {
      let input: tf.Tensor3D = x;
      let slot = 0;
      const states: RNNState[] = [];
      let last: tf.Tensor2D | undefined;
      this.layers.forEach((layer, l) => {
        const top = l === this.layers.length - 1;
        const init = initialState && sliceState(initialState, slot, layer.stateSlots);
        slot += layer.stateSlots;
        if (top && !returnSequences) {
          const r = layer.forward(input, { mask, initialState: init, returnSequences: false });
          last = r.output; // [B, H']
          states.push(r.state);
          return;
        }
        const r = layer.forward(input, { mask, initialState: init }); // [B, T, H']
        states.push(r.state);
        input = training && !top && this.dropout > 0 ? (tf.dropout(r.output, this.dropout, undefined, this.dropoutRng.seed()) as tf.Tensor3D) : r.output;
      });
      return { output: last ?? input, state: concatStates(states) };
    }) as SequenceResult<boolean>;
  }

  /** One timestep through every layer, bottom up (no dropout: stepping is for inference). */
  step(x: tf.Tensor2D, state?: RNNState): StepResult {
    const B = x.shape[0];
    if (state) checkState('StackedRNN.step state', state, this.stateSlots, B, this.hidden, this.hasCellState);
    if (this.layers.some((l) => l instanceof Bidirectional)) {
      throw new ConfigError('StackedRNN.step: a bidirectional stack cannot run one timestep at a time; use forward() on the whole sequence');
    }
    return tf.tidy(() => {
      let y = x;
      let slot = 0;
      const states: RNNState[] = [];
      for (const layer of this.layers) {
        const r = layer.step(y, state && sliceState(state, slot, layer.stateSlots));
        slot += layer.stateSlots;
        states.push(r.state);
        y = r.y; // [B, H]
      }
      return { y, state: concatStates(states) };
    });
  }

  initialState(batch: number): RNNState {
    assertInt('StackedRNN.initialState batch', batch);
    return concatStates(this.layers.map((l) => l.initialState(batch)));
  }

  variables(): Record<string, tf.Variable> {
    return Object.assign({}, ...this.layers.map((l, i) => prefixed(`layer${i}`, l.variables()))) as Record<string, tf.Variable>;
  }

  setWeights(record: Record<string, tf.Tensor>, options?: SetWeightsOptions): void {
    assignWeights('StackedRNN', this.variables(), record, options);
  }

  paramCount(): number {
    return countParams(this.variables());
  }

  dispose(): void {
    for (const l of this.layers) l.dispose();
  }
}
