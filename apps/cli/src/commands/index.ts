// The list of sub-commands and the top-level help.
import type { Command } from './command.js';
import { backendsCommand } from './backends.js';
import { setupCommand } from './setup.js';
import { trainCommand } from './train.js';

export const COMMANDS: readonly Command[] = [trainCommand, backendsCommand, setupCommand];

export function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.synopsis.length));
  return [
    'attend — sequence models (RNN, LSTM, GRU, attention, Transformer) on TensorFlow.js',
    '',
    'Usage: attend <command> [options]      (attend <command> --help for its options)',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.synopsis.padEnd(width)}  ${c.summary}`),
  ].join('\n');
}
