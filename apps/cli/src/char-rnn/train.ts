// `attend train char-rnn`: the recurrent family of the character-model trainer (char-lm/train.ts):
// an embedding, a stack of RNN / LSTM / GRU layers and a linear head (Karpathy's char-rnn, 2015).
import { RNNLanguageModel } from '@attend/recurrent';
import { trainCharLM, type CharFamily } from '../char-lm/train.js';
import { TRAIN_FLAGS, TRAIN_HELP, TRAIN_PRESETS, trainSettings, type TrainSettings } from './flags.js';

export const CHAR_RNN: CharFamily<TrainSettings> = {
  kind: 'char-rnn',
  flags: TRAIN_FLAGS,
  help: TRAIN_HELP,
  presets: TRAIN_PRESETS,
  settings: trainSettings,
  modelFlags: { cell: 'cell', activation: 'activation', layers: 'layers', hidden: 'hidden', embed: 'embed', dropout: 'dropout' },
  build: (model, vocabSize) => new RNNLanguageModel({ ...model, vocabSize }),
  describe(m, s, backend) {
    const { cell, layers, hidden, embed, activation } = (m as RNNLanguageModel).config;
    return (
      `model: ${layers}-layer ${cell.toUpperCase()}${cell === 'rnn' ? ` (${activation})` : ''}, hidden ${hidden}, embedding ${embed}: ` +
      `${m.paramCount().toLocaleString('en-US')} parameters; batch ${s.batch} × ${s.seqLen} characters; backend ${backend}`
    );
  },
  optimizer: () => ({}),
};

export const trainCharRNN = (argv: string[]): Promise<number> => trainCharLM(CHAR_RNN, argv);
