// `attend train char-gpt`: the Transformer family of the character-model trainer (char-lm/train.ts):
// a decoder-only GPT (Radford et al. 2019; Karpathy's nanoGPT) trained with AdamW on shifted windows.
import { GPT } from '@attend/transformer';
import { trainCharLM, type CharFamily } from '../char-lm/train.js';
import { GPT_PRESETS, GPT_TRAIN_FLAGS, GPT_TRAIN_HELP, gptSettings, type GPTTrainSettings } from './flags.js';

export const CHAR_GPT: CharFamily<GPTTrainSettings> = {
  kind: 'char-gpt',
  flags: GPT_TRAIN_FLAGS,
  help: GPT_TRAIN_HELP,
  presets: GPT_PRESETS,
  settings: gptSettings,
  modelFlags: {
    'seq-len': 'contextLength',
    layers: 'layers',
    heads: 'heads',
    'd-model': 'dModel',
    ff: 'dFF',
    dropout: 'dropout',
    activation: 'activation',
    norm: 'norm',
    positional: 'positional',
    'tie-embeddings': 'tieEmbeddings',
  },
  build: (model, vocabSize) => new GPT({ ...model, vocabSize }),
  describe(m, s, backend) {
    const { layers, heads, dModel, contextLength, norm } = (m as GPT).config;
    return (
      `model: GPT, ${layers} layers × ${heads} heads, d ${dModel}, context ${contextLength}, ${norm}-LN: ` +
      `${m.paramCount().toLocaleString('en-US')} parameters; batch ${s.batch} × ${s.seqLen} characters; backend ${backend}`
    );
  },
  optimizer: (s) => ({ beta2: s.beta2, weightDecay: s.weightDecay }),
};

export const trainCharGPT = (argv: string[]): Promise<number> => trainCharLM(CHAR_GPT, argv);
