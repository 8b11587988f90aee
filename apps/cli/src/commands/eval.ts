// `attend eval --model DIR --corpus PATH`: loss of a trained character model (char-rnn or char-gpt)
// on any text, in nats and bits per character. Characters the model never saw count as [UNK] (and are reported).
import { DataError } from '@attend/core';
import { loadCorpus } from '@attend/datasets/node';
import { bitsPerChar, perplexity } from '@attend/training';
import type { Command } from './command.js';
import { intFlag, parse, UsageError } from '../args.js';
import { BACKEND_FLAG, BACKEND_HELP, useBackend } from '../lib/backend.js';
import { loadCharModel } from '../lib/model-dir.js';
import { evaluateLoss } from '../char-lm/train.js';
import { evalTranslate } from '../translate/eval.js';

const FLAGS = {
  model: { type: 'string' },
  corpus: { type: 'string', multiple: true },
  include: { type: 'string', multiple: true },
  'allow-binary': { type: 'boolean' },
  'seq-len': { type: 'string' },
  batch: { type: 'string' },
  'max-batches': { type: 'string' },
  ...BACKEND_FLAG,
} as const;

const HELP = `Usage: attend eval --model DIR --corpus PATH [options]     (a char-rnn or char-gpt model)
       attend eval translate --model DIR --pairs FILE.tsv [options]  (BLEU; see its --help)

Prints the loss of a trained character model on a text (every character of it, in windows of --seq-len).

  --model DIR        the checkpoint directory
  --corpus PATH      a text file or directory (repeatable)
  --include GLOB     with directories: which files (repeatable)
  --allow-binary     accept files with NUL bytes or invalid UTF-8
  --seq-len T        window length (default: the model's training --seq-len)
  --batch B          windows per batch (default 32)
  --max-batches N    stop after N batches (default: the whole text)
${BACKEND_HELP}`;

export const evalCommand: Command = {
  name: 'eval',
  synopsis: 'eval [translate] --model DIR …',
  summary: 'bits per character on any text; BLEU of a translation model',
  async run(argv) {
    if (argv[0] === 'translate') return evalTranslate(argv.slice(1));
    const { values } = parse(argv, FLAGS, HELP);
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    if (values.model === undefined) throw new DataError(`--model DIR is required\n\n${HELP}`);
    if (values.corpus === undefined) throw new DataError(`--corpus PATH is required: the text to evaluate on\n\n${HELP}`);
    await useBackend(values.backend);
    const { kind, model, tokenizer, checkpoint } = await loadCharModel(String(values.model));
    try {
      const trainedSeqLen = (checkpoint.config.training as { seqLen?: number }).seqLen ?? 100;
      const seqLen = intFlag('seq-len', values['seq-len'], trainedSeqLen);
      const context = kind === 'char-gpt' ? (model.config as { contextLength: number }).contextLength : Infinity;
      if (seqLen > context) throw new UsageError(`--seq-len ${seqLen} exceeds this GPT's context length ${context}; use --seq-len ${context} or less`);
      const batch = intFlag('batch', values.batch, 32);
      const maxBatches = values['max-batches'] === undefined ? Infinity : intFlag('max-batches', values['max-batches'], 1);
      const corpus = await loadCorpus({
        paths: values.corpus as string[],
        include: values.include as string[] | undefined,
        allowBinary: Boolean(values['allow-binary']),
        tokenizer,
      });
      if (corpus.ids.length < seqLen + 1) {
        throw new DataError(`the corpus has ${corpus.ids.length} characters; need at least ${seqLen + 1} for --seq-len ${seqLen}`);
      }
      let unknown = 0;
      for (const id of corpus.ids) if (id === tokenizer.specials.unk) unknown++;
      const nats = evaluateLoss(model, corpus.ids, { seqLen, batch }, maxBatches);
      console.log(`corpus: ${corpus.files.length === 1 ? corpus.files[0] : `${corpus.files.length} files`}, ${corpus.chars.toLocaleString('en-US')} characters${unknown ? ` (${unknown} not in the model's vocabulary, scored as [UNK])` : ''}`);
      console.log(`loss: ${nats.toFixed(4)} nats/char = ${bitsPerChar(nats).toFixed(4)} bits/char, perplexity ${perplexity(nats).toFixed(3)}`);
      return 0;
    } finally {
      model.dispose();
    }
  },
};
