// `attend sample --model DIR`: generate text from a trained char-rnn or char-gpt, one character at a
// time, feeding each sampled character back in (O(1) work per character: the RNN's step API, the
// GPT's key/value cache).
import { DataError } from '@attend/core';
import type { Command } from './command.js';
import { intFlag, numFlag, parse } from '../args.js';
import { BACKEND_FLAG, BACKEND_HELP, useBackend } from '../lib/backend.js';
import { loadCharModel } from '../lib/model-dir.js';

const FLAGS = {
  model: { type: 'string' },
  prime: { type: 'string' },
  length: { type: 'string' },
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  seed: { type: 'string' },
  ...BACKEND_FLAG,
} as const;

const HELP = `Usage: attend sample --model DIR [options]

Generates text from a model trained with \`attend train char-rnn\` or \`attend train char-gpt\`.

  --model DIR        the checkpoint directory (the --out of training)
  --prime TEXT       text to start from (default: a newline); every character must be in the
                     model's vocabulary
  --length N         characters to generate (default 500)
  --temperature T    < 1 more conservative, > 1 more surprising; 0 = always the likeliest (default 0.8)
  --top-k K          sample only among the K likeliest characters
  --top-p P          sample only among the likeliest characters whose probabilities sum to P (nucleus)
  --seed N           seed of the draws (default 0): the same seed gives the same text
${BACKEND_HELP}`;

export const sampleCommand: Command = {
  name: 'sample',
  synopsis: 'sample --model DIR [options]',
  summary: 'generate text from a trained model',
  async run(argv) {
    const { values } = parse(argv, FLAGS, HELP);
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    if (values.model === undefined) throw new DataError(`--model DIR is required: the directory a training run wrote (its --out)\n\n${HELP}`);
    const length = intFlag('length', values.length, 500, 0);
    const temperature = numFlag('temperature', values.temperature, 0.8, 0, 100);
    const topK = values['top-k'] === undefined ? undefined : intFlag('top-k', values['top-k'], 0, 1);
    const topP = values['top-p'] === undefined ? undefined : numFlag('top-p', values['top-p'], 1, 1e-9, 1);
    const seed = intFlag('seed', values.seed, 0, 0);
    await useBackend(values.backend);
    const { model, tokenizer } = await loadCharModel(String(values.model));
    try {
      const primeText = values.prime === undefined ? '\n' : String(values.prime);
      if (primeText.length === 0) throw new DataError('--prime: expected at least one character');
      let prime: number[];
      try {
        prime = tokenizer.encode(primeText, { strict: true });
      } catch (err) {
        throw new DataError(`--prime: ${(err as Error).message.replace(/or encode without.*$/s, 'use only characters the model was trained on')}`);
      }
      const t0 = performance.now();
      // The specials ([PAD] [BOS] [EOS] [UNK]) never occur in a character model's training text: never draw them.
      const ids = model.sample({ prime, length, temperature, topK, topP, seed, exclude: Object.values(tokenizer.specials) });
      const seconds = (performance.now() - t0) / 1000;
      process.stdout.write(`${values.prime === undefined ? '' : primeText}${tokenizer.decode(ids)}\n`);
      console.error(`(${ids.length} characters in ${seconds.toFixed(2)} s: ${(ids.length / Math.max(seconds, 1e-9)).toFixed(0)} chars/s)`);
      return 0;
    } finally {
      model.dispose();
    }
  },
};
