// @attend/recurrent — vanilla RNN, LSTM and GRU cells exactly as taught, sequence layers with
// masks, stacks, bidirectional wrappers, embeddings and a character language model.
// Importing @attend/core (which every file here does) registers tfjs's gradients.
export { CELL_KINDS, ACTIVATIONS, BaseCell, type Activation, type CellKind, type RecurrentCell, type StepFn } from './cell.js';
export { SimpleRNNCell, DEFAULT_SIMPLE_RNN_CELL, type SimpleRNNCellConfig } from './simple-rnn.js';
export { LSTMCell, DEFAULT_LSTM_CELL, LSTM_GATE_ORDER, type LSTMCellConfig } from './lstm.js';
export { GRUCell, DEFAULT_GRU_CELL, GRU_GATE_ORDER, type GRUCellConfig } from './gru.js';
export {
  RNNLayer,
  DEFAULT_RNN_LAYER,
  setHandWrittenBackward,
  setTensorflowSequenceOps,
  createCell,
  type RNNLayerConfig,
  type SequenceLayer,
  type SequenceOptions,
  type SequenceResult,
  type StepResult,
} from './rnn-layer.js';
export {
  Bidirectional,
  DEFAULT_BIDIRECTIONAL,
  MERGE_MODES,
  reverseSequences,
  type BidirectionalConfig,
  type MergeMode,
} from './bidirectional.js';
export { StackedRNN, DEFAULT_STACKED_RNN, type StackedRNNConfig } from './stacked.js';
export {
  Embedding,
  DEFAULT_EMBEDDING,
  alignWord2Vec,
  loadWord2VecText,
  parseWord2VecText,
  type AlignOptions,
  type AlignedVectors,
  type EmbeddingConfig,
  type PretrainedMatrix,
  type Word2Vec,
} from './embedding.js';
export {
  RNNLanguageModel,
  DEFAULT_RNN_LANGUAGE_MODEL,
  type LogitsOptions,
  type RNNLanguageModelConfig,
  type SampleOptions,
} from './language-model.js';
export { checkSamplingOptions, sampleIndex, sampleToken, samplingDistribution, type SamplingOptions } from './sampling.js';
export { zeroState, type CellState, type RNNState } from './state.js';
export { lstmSequence } from './lstm-sequence.js';
export { gruResetAfterSequence, gruSequence } from './gru-sequence.js';
export { rnnSequence } from './rnn-sequence.js';
export { orthogonal, orthogonalBlocks } from './init.js';
export { glorotUniform, type SetWeightsOptions } from '@attend/core';
export {
  FUSED_SEQUENCE_BACKENDS,
  FUSED_SEQUENCE_MODES,
  GRU_RESET_AFTER_SEQUENCE,
  GRU_RESET_AFTER_SEQUENCE_GRAD,
  GRU_SEQUENCE,
  GRU_SEQUENCE_GRAD,
  LSTM_SEQUENCE,
  LSTM_SEQUENCE_GRAD,
  RNN_SEQUENCE,
  RNN_SEQUENCE_GRAD,
  fusedSequenceAvailable,
  registerFusedSequences,
  setFusedSequenceMode,
  type FusedSequenceMode,
} from './fused-sequence.js';
export {
  FUSED_LAYER_BACKENDS,
  GRU_LAYER,
  GRU_RESET_AFTER_LAYER,
  GRU_RESET_AFTER_LAYER_GRAD,
  GRU_LAYER_GRAD,
  LSTM_LAYER,
  LSTM_LAYER_GRAD,
  RNN_LAYER,
  RNN_LAYER_GRAD,
  fusedLayerAvailable,
  fusedLayerPacked,
  registerFusedLayers,
  type LayerCell,
} from './fused-layer.js';
