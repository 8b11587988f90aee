// The `attend` command line: one sub-command per file under ./commands, dispatched here.
import { AttendError } from '@attend/core';
import { COMMANDS, usage } from './commands/index.js';
import { UsageError } from './args.js';

// `pnpm attend …` runs in the workspace root; paths on the command line are relative to where the
// user typed it (pnpm passes that as INIT_CWD).
if (process.env.npm_lifecycle_event === 'attend' && process.env.INIT_CWD) process.chdir(process.env.INIT_CWD);

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name === undefined ? 1 : 0;
  }
  if (name === '--version' || name === '-v') {
    console.log('0.1.0');
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    console.error(`attend: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      console.error(`attend: ${err.message}`);
      process.exitCode = 2;
    } else if (err instanceof AttendError) {
      console.error(`attend: ${err.message}`);
      process.exitCode = 1;
    } else {
      console.error(err);
      process.exitCode = 1;
    }
  },
);
