// `attend train <model>`: dispatches to the trainer of each model family.
import type { Command } from './command.js';
import { UsageError } from '../args.js';
import { trainCharGPT } from '../char-gpt/train.js';
import { trainCharRNN } from '../char-rnn/train.js';
import { trainTranslate } from '../translate/train.js';

const MODELS: Record<string, { summary: string; run: (argv: string[]) => Promise<number> }> = {
  'char-rnn': { summary: 'character-level RNN / LSTM / GRU language model', run: trainCharRNN },
  'char-gpt': { summary: 'character-level Transformer language model (a small GPT)', run: trainCharGPT },
  translate: { summary: 'attention encoder–decoder (the date task, or --pairs FILE.tsv)', run: trainTranslate },
};

const HELP = `Usage: attend train <model> [options]   (attend train <model> --help for its options)

Models:
${Object.entries(MODELS).map(([k, v]) => `  ${k.padEnd(10)} ${v.summary}`).join('\n')}`;

export const trainCommand: Command = {
  name: 'train',
  synopsis: 'train char-rnn|char-gpt|translate [options]',
  summary: 'train a model and print samples as it learns',
  async run(argv) {
    const [model, ...rest] = argv;
    if (model === undefined || model === '--help' || model === '-h') {
      console.log(HELP);
      return model === undefined ? 2 : 0;
    }
    const m = MODELS[model];
    if (!m) throw new UsageError(`unknown model "${model}"\n\n${HELP}`);
    return m.run(rest);
  },
};
