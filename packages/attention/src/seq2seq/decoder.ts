// The attentional decoder (Luong, Pham & Manning 2015, §3 and §3.3), one target token at a time:
//   x_t  = [E_tgt[y_{t−1}]; h̃_{t−1}]        input feeding (h̃_0 = 0); just E_tgt[y_{t−1}] without it
//   h_t  = stack.step(x_t, s_{t−1})          the recurrent layers' `step` API; s_0 from the bridge
//   c_t, a_t = attend(h_t, H_src, H_src)     global attention over the encoder outputs, with the
//                                            source padding mask (dot / general / additive)
//   h̃_t  = tanh(W_c·[c_t; h_t])              the attentional hidden state (no bias, as in the paper)
//   p(y_t | y_<t, x) = softmax(W_hy·h̃_t + b_y)
// With attention 'none' it is the plain encoder–decoder (Sutskever et al. 2014): the output layer
// reads h_t itself, and the encoder reaches the decoder only through s_0.
// Teacher forcing without input feeding has no dependence between steps outside the recurrent
// stack, so the stack runs over the whole target at once and every step attends in one call.
//
// Variables: `embedding/table`, `layer<ℓ>/<cell>/…` (the stack), the score function's (`W`; `W1`,
// `W2`, `v`) and `W_c` `[2H, H]` (together they are the model's `attention/…`), and the output
// layer `W_hy` `[H, V]`, `b_y` `[V]` (the model's `head/…`).
import * as tf from '@tensorflow/tfjs-core';
import { countParams, glorotVariable, hashSeed, makeVariable, prefixed, Rng } from '@attend/core';
import { Embedding, StackedRNN, type RNNState } from '@attend/recurrent';
import type { Attention } from '../attend.js';
import { createAttention } from '../factory.js';
import type { Seq2SeqConfig } from './config.js';

/** What the decoder attends over: encoder outputs `[B, S, H]` and the source mask `[B, S]` (1 = real). */
export type EncoderMemory = { outputs: tf.Tensor3D; mask: tf.Tensor2D };

/** The decoder's state between steps: the stack's state (one entry per layer) and, with input feeding, h̃_{t−1} `[B, H]` (else absent). */
export type DecoderState = { rnn: RNNState; feed?: tf.Tensor2D };

/** One decoder step: fresh tensors, the caller's. */
export type DecoderStepResult = {
  /** `[B, V]` unnormalised scores of the next token. */
  logits: tf.Tensor2D;
  /** `[B, S]` attention weights a_t (absent without attention). */
  weights?: tf.Tensor2D;
  state: DecoderState;
};

export class Seq2SeqDecoder {
  readonly embedding: Embedding;
  readonly rnn: StackedRNN;
  /** The score function; null with attention 'none'. */
  readonly attention: Attention | null;
  /** `[2H, H]`: h̃_t = tanh([c_t; h_t]·W_c); null with attention 'none'. */
  readonly W_c: tf.Variable | null;
  /** `[H, V]`. */
  readonly W_hy: tf.Variable;
  /** `[V]`. */
  readonly b_y: tf.Variable;
  readonly hidden: number;
  readonly vocab: number;
  readonly inputFeeding: boolean;
  readonly dropout: number;
  private readonly dropoutRng: Rng;

  constructor(c: Seq2SeqConfig) {
    const H = c.hidden;
    this.hidden = H;
    this.vocab = c.tgtVocab;
    this.dropout = c.dropout;
    this.inputFeeding = c.inputFeeding && c.attention !== 'none';
    this.dropoutRng = new Rng(hashSeed(`${c.seed}/decoder/dropout`));
    this.embedding = new Embedding({ vocabSize: c.tgtVocab, dim: c.embed, seed: hashSeed(`${c.seed}/decoder/embedding`) });
    this.rnn = new StackedRNN({
      cell: c.cell,
      inputSize: c.embed + (this.inputFeeding ? H : 0),
      hidden: H,
      layers: c.layers,
      dropout: c.dropout,
      seed: hashSeed(`${c.seed}/decoder/rnn`),
    });
    const seed = hashSeed(`${c.seed}/attention`);
    switch (c.attention) {
      case 'none':
        this.attention = null;
        break;
      case 'dot':
        this.attention = createAttention({ type: 'dot' });
        break;
      case 'general':
        this.attention = createAttention({ type: 'general', queryDim: H, keyDim: H, seed });
        break;
      case 'additive':
        this.attention = createAttention({ type: 'additive', queryDim: H, keyDim: H, attentionDim: H, seed });
        break;
    }
    this.W_c = this.attention ? glorotVariable(seed, 'W_c', [2 * H, H]) : null;
    this.W_hy = glorotVariable(hashSeed(`${c.seed}/head`), 'W_hy', [H, c.tgtVocab]);
    this.b_y = makeVariable(new Float32Array(c.tgtVocab), [c.tgtVocab]);
  }

  /** The state before the first step: the bridged encoder state (cloned) and h̃_0 = 0. Fresh tensors. */
  initialState(rnn: RNNState): DecoderState {
    return tf.tidy(() => {
      const h = rnn.h.map((t) => tf.clone(t));
      const state: RNNState = rnn.c ? { h, c: rnn.c.map((t) => tf.clone(t)) } : { h };
      const B = rnn.h[0]!.shape[0];
      return this.inputFeeding ? { rnn: state, feed: tf.zeros([B, this.hidden]) as tf.Tensor2D } : { rnn: state };
    });
  }

  /** One step: `ids` int32 `[B]` (the previous target tokens) → next-token logits, attention weights and the new state. `state` stays the caller's. */
  step(ids: tf.Tensor1D, state: DecoderState, memory: EncoderMemory, training = false): DecoderStepResult {
    return tf.tidy(() => {
      const { out, weights, state: next } = this.attentionalStep(ids, state, memory, training);
      const logits = this.head(this.drop(out, training)); // [B, V]
      return weights ? { logits, weights, state: next } : { logits, state: next };
    });
  }

  /** A step up to h̃_t `[B, H]` (h_t without attention), before the output layer. Call inside a tidy. */
  private attentionalStep(ids: tf.Tensor1D, state: DecoderState, memory: EncoderMemory, training: boolean): { out: tf.Tensor2D; weights?: tf.Tensor2D; state: DecoderState } {
    const e = this.embedding.forward(ids) as tf.Tensor2D; // [B, E]
    let y: tf.Tensor2D = state.feed ? tf.concat([e, state.feed], 1) : e; // [B, E (+ H)]
    const h: tf.Tensor2D[] = [];
    const c: tf.Tensor2D[] = [];
    const top = this.rnn.layers.length - 1;
    this.rnn.layers.forEach((layer, l) => {
      const r = layer.step(y, state.rnn.c ? { h: [state.rnn.h[l]!], c: [state.rnn.c[l]!] } : { h: [state.rnn.h[l]!] });
      h.push(r.state.h[0]!);
      if (r.state.c) c.push(r.state.c[0]!);
      y = l < top ? this.drop(r.y, training) : r.y; // [B, H]
    });
    const rnn: RNNState = state.rnn.c ? { h, c } : { h };
    const { out, weights } = this.attend(y, memory);
    const next: DecoderState = this.inputFeeding ? { rnn, feed: out } : { rnn };
    return weights ? { out, weights, state: next } : { out, state: next };
  }

  /**
   * Teacher forcing over a whole target: `tgtIn` int32 `[B, T]` (starting with [BOS]) → logits
   * `[B, T, V]` and attention weights `[B, T, S]` (absent without attention). `initial` stays the caller's.
   */
  teacherForce(tgtIn: tf.Tensor2D, initial: DecoderState, memory: EncoderMemory, training = false): { logits: tf.Tensor3D; weights?: tf.Tensor3D } {
    const [B, T] = tgtIn.shape;
    const V = this.vocab;
    const H = this.hidden;
    return tf.tidy(() => {
      if (!this.inputFeeding) {
        const e = this.embedding.forward(tgtIn) as tf.Tensor3D; // [B, T, E]
        const { output } = this.rnn.forward(e, { initialState: initial.rnn, training }); // [B, T, H]
        const { out, weights } = this.attend(output, memory); // [B, T, H], [B, T, S]
        const logits = tf.reshape(this.head(this.drop(tf.reshape(out, [B * T, H]) as tf.Tensor2D, training)), [B, T, V]) as tf.Tensor3D; // [B, T, V]
        return weights ? { logits, weights } : { logits };
      }
      // Input feeding makes the steps sequential up to h̃_t; the output layer then runs once over all
      // T steps (one [B·T, H]·[H, V] matmul and one gradient for W_hy instead of T of each).
      const columns = tf.unstack(tgtIn, 1) as tf.Tensor1D[]; // T × [B]
      const outs: tf.Tensor2D[] = [];
      const weights: tf.Tensor2D[] = [];
      let state = initial;
      for (let t = 0; t < T; t++) {
        const r = this.attentionalStep(columns[t]!, state, memory, training);
        outs.push(r.out);
        if (r.weights) weights.push(r.weights);
        state = r.state;
      }
      const out = tf.reshape(tf.stack(outs, 1), [B * T, H]) as tf.Tensor2D; // [B·T, H]
      const logits = tf.reshape(this.head(this.drop(out, training)), [B, T, V]) as tf.Tensor3D; // [B, T, V]
      return weights.length > 0 ? { logits, weights: tf.stack(weights, 1) as tf.Tensor3D } : { logits }; // weights [B, T, S]
    });
  }

  /** `h` `[B, H]` or `[B, T, H]` → h̃ = tanh([c; h]·W_c) and the weights; h itself without attention. Call inside a tidy. */
  private attend<T extends tf.Tensor2D | tf.Tensor3D>(h: T, memory: EncoderMemory): { out: T; weights?: T } {
    if (!this.attention) return { out: h };
    const { context, weights } = this.attention.attend(h, memory.outputs, memory.outputs, { mask: memory.mask }); // [B, (T,) H], [B, (T,) S]
    const H = this.hidden;
    const ch = tf.reshape(tf.concat([context, h], -1), [-1, 2 * H]); // [N, 2H]
    const out = tf.reshape(tf.tanh(tf.matMul(ch, this.W_c as tf.Tensor2D)), h.shape) as T; // [B, (T,) H]
    return { out, weights: weights as T };
  }

  /** `[N, H]` → `[N, V]`. */
  private head(x: tf.Tensor2D): tf.Tensor2D {
    return tf.add(tf.matMul(x, this.W_hy as tf.Tensor2D), this.b_y);
  }

  private drop<T extends tf.Tensor>(x: T, training: boolean): T {
    return training && this.dropout > 0 ? (tf.dropout(x, this.dropout, undefined, this.dropoutRng.seed()) as T) : x;
  }

  /** The recurrent part: `embedding/table`, `layer<ℓ>/<cell>/…`. */
  variables(): Record<string, tf.Variable> {
    return { ...prefixed('embedding', this.embedding.variables()), ...this.rnn.variables() };
  }

  /** The score function's weights and `W_c` (empty without attention). */
  attentionVariables(): Record<string, tf.Variable> {
    return this.attention ? { ...this.attention.variables(), W_c: this.W_c! } : {};
  }

  /** `W_hy`, `b_y`. */
  headVariables(): Record<string, tf.Variable> {
    return { W_hy: this.W_hy, b_y: this.b_y };
  }

  paramCount(): number {
    return countParams({ ...this.variables(), ...prefixed('attention', this.attentionVariables()), ...prefixed('head', this.headVariables()) });
  }

  dispose(): void {
    this.embedding.dispose();
    this.rnn.dispose();
    this.attention?.dispose();
    this.W_c?.dispose();
    this.W_hy.dispose();
    this.b_y.dispose();
  }
}
