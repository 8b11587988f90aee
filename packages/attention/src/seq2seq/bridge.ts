// The bridge: the decoder's initial state computed from the encoder's final state.
//   unidirectional encoder: s₀ = the encoder's final state, layer by layer (Sutskever et al. 2014;
//     Luong et al. 2015) — no weights;
//   bidirectional encoder: per layer ℓ, s₀^ℓ = tanh([h→^ℓ; h←^ℓ]·W_h^ℓ + b_h^ℓ) (and for the LSTM's
//     memory cell, c₀^ℓ = tanh([c→^ℓ; c←^ℓ]·W_c^ℓ + b_c^ℓ)), a learned linear map + tanh of the two
//     directions' final states — Bahdanau et al. 2015 (appendix A.2.2) compute s₀ = tanh(W_s·h←₁)
//     from the backward direction alone; we read both. [h→; h←] has the decoder's size H, since each
//     direction has H/2 units.
// The final states are those after each sentence's last real token (forward) and first token
// (backward), so padding never reaches the decoder.
//
// Variables (bidirectional only): `layer<ℓ>/W_h` `[H, H]` (Glorot uniform), `layer<ℓ>/b_h` `[H]`
// (zeros), and `layer<ℓ>/W_c`, `layer<ℓ>/b_c` for LSTMs.
import * as tf from '@tensorflow/tfjs-core';
import { countParams, glorotVariable, hashSeed, makeVariable } from '@attend/core';
import type { RNNState } from '@attend/recurrent';
import type { Seq2SeqConfig } from './config.js';

interface BridgeLayer {
  W_h: tf.Variable;
  b_h: tf.Variable;
  W_c?: tf.Variable;
  b_c?: tf.Variable;
}

export class Bridge {
  readonly layers: BridgeLayer[] = [];
  readonly bidirectional: boolean;

  constructor(c: Seq2SeqConfig) {
    this.bidirectional = c.bidirectional;
    if (!c.bidirectional) return;
    const H = c.hidden;
    const seed = hashSeed(`${c.seed}/encoder/bridge`);
    for (let l = 0; l < c.layers; l++) {
      const layer: BridgeLayer = { W_h: glorotVariable(seed, `layer${l}/W_h`, [H, H]), b_h: makeVariable(new Float32Array(H), [H]) };
      if (c.cell === 'lstm') {
        layer.W_c = glorotVariable(seed, `layer${l}/W_c`, [H, H]);
        layer.b_c = makeVariable(new Float32Array(H), [H]);
      }
      this.layers.push(layer);
    }
  }

  /** The encoder's final state (2 entries per layer when bidirectional, forward then backward) → the decoder's initial state (1 per layer). Fresh tensors. */
  forward(encoderState: RNNState): RNNState {
    return tf.tidy(() => {
      if (!this.bidirectional) {
        const h = encoderState.h.map((t) => tf.clone(t));
        return encoderState.c ? { h, c: encoderState.c.map((t) => tf.clone(t)) } : { h };
      }
      const map = (pair: [tf.Tensor2D, tf.Tensor2D], W: tf.Variable, b: tf.Variable) =>
        tf.tanh(tf.add(tf.matMul(tf.concat(pair, 1), W as tf.Tensor2D), b)) as tf.Tensor2D; // [B, H]
      const both = (list: tf.Tensor2D[], l: number): [tf.Tensor2D, tf.Tensor2D] => [list[2 * l]!, list[2 * l + 1]!];
      const h = this.layers.map((L, l) => map(both(encoderState.h, l), L.W_h, L.b_h));
      if (!encoderState.c) return { h };
      const c = this.layers.map((L, l) => map(both(encoderState.c!, l), L.W_c!, L.b_c!));
      return { h, c };
    });
  }

  variables(): Record<string, tf.Variable> {
    const out: Record<string, tf.Variable> = {};
    this.layers.forEach((L, l) => {
      for (const [k, v] of Object.entries(L)) out[`layer${l}/${k}`] = v as tf.Variable;
    });
    return out;
  }

  paramCount(): number {
    return countParams(this.variables());
  }

  dispose(): void {
    for (const v of Object.values(this.variables())) v.dispose();
  }
}
