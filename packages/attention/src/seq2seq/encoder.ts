// The encoder of the encoder–decoder: source embeddings read by a (bidirectional) recurrent stack
// (Bahdanau et al. 2015, §3.2: the annotation h_j = [h→_j; h←_j] summarises the words around j;
// Luong et al. 2015, §3: a stacking LSTM). With the padding mask, the recurrent layers carry the
// state through padded positions and output zeros there, and the backward direction reads each
// sentence from its own last token, so a padded batch encodes each sentence exactly as alone.
//
//   e_j  = E_src[x_j]                         [B, S, E]
//   h_j  = stack(e)_j                         [B, S, H]   (bidirectional: H/2 per direction)
//
// Variables: `embedding/table`, then the stack's (`layer0/lstm/W_x`, or bidirectional
// `layer0/forward/lstm/W_x`, `layer0/backward/lstm/W_x`, …).
import * as tf from '@tensorflow/tfjs-core';
import { countParams, hashSeed, prefixed } from '@attend/core';
import { Embedding, StackedRNN, type RNNState } from '@attend/recurrent';
import type { Seq2SeqConfig } from './config.js';

export class Seq2SeqEncoder {
  readonly embedding: Embedding;
  readonly rnn: StackedRNN;

  constructor(c: Seq2SeqConfig) {
    this.embedding = new Embedding({ vocabSize: c.srcVocab, dim: c.embed, seed: hashSeed(`${c.seed}/encoder/embedding`) });
    this.rnn = new StackedRNN({
      cell: c.cell,
      inputSize: c.embed,
      hidden: c.bidirectional ? c.hidden / 2 : c.hidden,
      layers: c.layers,
      dropout: c.dropout,
      bidirectional: c.bidirectional,
      seed: hashSeed(`${c.seed}/encoder/rnn`),
    });
  }

  /**
   * `src` int32 `[B, S]`, `mask` `[B, S]` (undefined: no padding) → encoder outputs `[B, S, H]`
   * (zeros at padding) and the stack's final state (one entry per layer and direction). Fresh
   * tensors, the caller's.
   */
  forward(src: tf.Tensor2D, mask: tf.Tensor2D | undefined, training: boolean): { outputs: tf.Tensor3D; state: RNNState } {
    return tf.tidy(() => {
      const e = this.embedding.forward(src) as tf.Tensor3D; // [B, S, E]
      const { output, state } = this.rnn.forward(e, { mask, training }); // [B, S, H]
      return { outputs: output, state };
    });
  }

  variables(): Record<string, tf.Variable> {
    return { ...prefixed('embedding', this.embedding.variables()), ...this.rnn.variables() };
  }

  paramCount(): number {
    return countParams(this.variables());
  }

  dispose(): void {
    this.embedding.dispose();
    this.rnn.dispose();
  }
}
