// What the hand-written BPTT passes (./rnn-sequence.ts, ./gru-sequence.ts, ./lstm-sequence.ts)
// share: the time-major mask, the masked state update and its backward, and the packed output
// layout. A masked step is defined exactly as RNNLayer's autodiff path (./rnn-layer.ts) defines it:
//   ĥ_t = cell(x_t, h_{t−1})                       the candidate (the cell's ordinary update)
//   h_t = m_t⊙ĥ_t + (1 − m_t)⊙h_{t−1}             the state is carried through padding (c likewise)
//   y_t = m_t⊙ĥ_t                                  zero output at padding
// so, going backward with dh_t = dL/dh_t from step t + 1:
//   dĥ_t = m_t⊙(dy_t + dh_t);   dh_{t−1} = (1 − m_t)⊙dh_t + (the cell's backward of dĥ_t)
// Without a mask m_t = 1 and every masking op is skipped.
// tf.customGrad returns one tensor, so each pass packs its outputs as `[B, T + k, H]`:
// y_1..y_T, then the k final-state rows (h_T; and c_T for the LSTM).
import * as tf from '@tensorflow/tfjs-core';

/** `[B, T]` mask (1 = real, 0 = padding; any numeric dtype) → float32 `[T, B, 1]`, time-major for unstacking. */
export function timeMajorMask(mask: tf.Tensor2D): tf.Tensor3D {
  const [B, T] = mask.shape;
  return tf.reshape(tf.transpose(tf.cast(mask, 'float32')), [T, B, 1]);
}

/** The masked state update: `prev + m⊙(next − prev)` (= m⊙next + (1 − m)⊙prev); `next` itself without a mask. */
export function carry(m: tf.Tensor2D | undefined, next: tf.Tensor2D, prev: tf.Tensor2D): tf.Tensor2D {
  return m ? tf.add(prev, tf.mul(m, tf.sub(next, prev))) : next;
}

/** The output of a step: `m⊙ĥ`, or `ĥ` without a mask. */
export function maskOutput(m: tf.Tensor2D | undefined, candidate: tf.Tensor2D): tf.Tensor2D {
  return m ? tf.mul(m, candidate) : candidate;
}

/** Splits a packed `[B, T + k, H]` into the outputs `[B, T, H]` and the k final-state rows `[B, H]`. */
export function unpackSequence(packed: tf.Tensor3D, k: number): { hs: tf.Tensor3D; finals: tf.Tensor2D[] } {
  const [B, Tk, H] = packed.shape;
  const T = Tk - k;
  const hs = tf.slice(packed, [0, 0, 0], [B, T, H]); // [B, T, H]
  const finals = Array.from({ length: k }, (_, j) => tf.reshape(tf.slice(packed, [0, T + j, 0], [B, 1, H]), [B, H]) as tf.Tensor2D);
  return { hs, finals };
}

/** Splits the custom-gradient arguments into tensors and tf.customGrad's trailing `save`. */
export function splitArgs(args: (tf.Tensor | tf.GradSaveFunc)[]): [tf.Tensor[], tf.GradSaveFunc] {
  return [args.slice(0, -1) as tf.Tensor[], args[args.length - 1] as tf.GradSaveFunc];
}
