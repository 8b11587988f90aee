// A stand-alone entry for the translation commands (`train translate`, `eval translate`,
// `translate`) with main.ts's exit codes, so they run (and are tested) before being registered in
// ./commands/index.ts, ./commands/train.ts and ./commands/eval.ts.
import { AttendError } from '@attend/core';
import { UsageError } from '../args.js';
import { translateCommand } from '../commands/translate.js';
import { evalTranslate } from './eval.js';
import { trainTranslate } from './train.js';

async function main(argv: string[]): Promise<number> {
  const [a, b, ...rest] = argv;
  if (a === 'train' && b === 'translate') return trainTranslate(rest);
  if (a === 'eval' && b === 'translate') return evalTranslate(rest);
  if (a === 'translate') return translateCommand.run(argv.slice(1));
  throw new UsageError('expected: train translate … | eval translate … | translate …');
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`attend: ${err instanceof Error && (err instanceof UsageError || err instanceof AttendError) ? err.message : String(err instanceof Error ? err.stack : err)}`);
    process.exitCode = err instanceof UsageError ? 2 : 1;
  },
);
