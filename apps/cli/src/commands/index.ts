// The list of sub-commands and the top-level help.
import type { Command } from './command.js';
import { backendsCommand } from './backends.js';
import { setupCommand } from './setup.js';
import { trainCommand } from './train.js';
import { sampleCommand } from './sample.js';
import { evalCommand } from './eval.js';
import { labCommand } from './lab.js';
import { translateCommand } from './translate.js';

export const COMMANDS: readonly Command[] = [trainCommand, sampleCommand, translateCommand, evalCommand, labCommand, backendsCommand, setupCommand];

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
