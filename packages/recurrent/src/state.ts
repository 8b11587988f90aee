// Recurrent state: plain objects of tensors, and the small helpers that build and check them.
//
// Ownership (the whole package follows this):
//   - A function that returns state returns fresh tensors that YOU own: dispose them
//     (`tf.dispose(state)`) when done. Nothing in this package keeps a reference to them.
//   - A function that takes state never disposes it: after `step(x, state)` the old `state` is still
//     yours, so a generation loop disposes the old state once it has the new one.
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '@attend/core';

/** The state of ONE cell: hidden `h` `[B, H]`, and the LSTM's memory cell `c` `[B, H]`. */
export type CellState = { h: tf.Tensor2D; c?: tf.Tensor2D };

/**
 * The state of a layer or a stack: one `[B, H]` tensor per layer (a bidirectional layer holds two,
 * forward then backward), in order from the bottom layer up. `c` is present exactly for LSTMs.
 */
export type RNNState = { h: tf.Tensor2D[]; c?: tf.Tensor2D[] };

/** A zero state: `slots` cells of `[batch, hidden]`, with `c` when `withCell`. Caller owns it. */
export function zeroState(slots: number, batch: number, hidden: number, withCell: boolean): RNNState {
  const zeros = () => Array.from({ length: slots }, () => tf.zeros([batch, hidden]) as tf.Tensor2D);
  return withCell ? { h: zeros(), c: zeros() } : { h: zeros() };
}

/** Entry `i` of a layer/stack state as one cell's state (no new tensors). */
export function cellStateAt(state: RNNState, i: number): CellState {
  return state.c ? { h: state.h[i]!, c: state.c[i]! } : { h: state.h[i]! };
}

/** Joins cell states into a layer/stack state (no new tensors). */
export function joinCellStates(states: readonly CellState[]): RNNState {
  const h = states.map((s) => s.h);
  return states[0]?.c ? { h, c: states.map((s) => s.c!) } : { h };
}

/** Entries `[from, from + count)` of a state (no new tensors). */
export function sliceState(state: RNNState, from: number, count: number): RNNState {
  const h = state.h.slice(from, from + count);
  return state.c ? { h, c: state.c.slice(from, from + count) } : { h };
}

/** Concatenates states of consecutive layers (no new tensors). */
export function concatStates(states: readonly RNNState[]): RNNState {
  const h = states.flatMap((s) => s.h);
  return states[0]?.c ? { h, c: states.flatMap((s) => s.c!) } : { h };
}

/**
 * Checks that `state` has `slots` entries of shape `[batch, hidden]`, and `c` exactly when
 * `withCell`. Throws a `ShapeError` naming the offending entry.
 */
export function checkState(
  what: string,
  state: RNNState,
  slots: number,
  batch: number,
  hidden: number,
  withCell: boolean,
): void {
  if (!state || !Array.isArray(state.h)) {
    throw new ShapeError(`${what}: expected a state object { h: Tensor2D[]${withCell ? ', c: Tensor2D[]' : ''} }, got ${typeof state}`);
  }
  if (withCell !== Array.isArray(state.c)) {
    throw new ShapeError(
      withCell
        ? `${what}: an LSTM state needs a memory cell list c alongside h; build one with initialState(batch)`
        : `${what}: this cell has no memory cell, but the state has c; pass { h } only`,
    );
  }
  const lists: [string, tf.Tensor2D[]][] = [['h', state.h]];
  if (state.c) lists.push(['c', state.c]);
  for (const [name, list] of lists) {
    if (list.length !== slots) {
      throw new ShapeError(`${what}: expected state.${name} to hold ${slots} tensor(s) (one per layer and direction), got ${list.length}`);
    }
    list.forEach((t, i) => {
      if (!(t instanceof tf.Tensor) || t.rank !== 2 || t.shape[0] !== batch || t.shape[1] !== hidden) {
        const got = t instanceof tf.Tensor ? `[${t.shape.join(', ')}]` : String(t);
        throw new ShapeError(`${what}: expected state.${name}[${i}] of shape [${batch}, ${hidden}], got ${got}`);
      }
    });
  }
}
