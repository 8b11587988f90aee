// `attend lab <experiment>`: small measurements that show why models behave as they do; they train
// nothing. Each experiment lives under ../lab/.
import type { Command } from './command.js';
import { UsageError } from '../args.js';
import { runGradientsLab } from '../lab/run-gradients.js';

const EXPERIMENTS: Record<string, { summary: string; run: (argv: string[]) => Promise<number> }> = {
  gradients: { summary: '‖∂L/∂h_t‖ over time for RNN (tanh, relu), LSTM, GRU: vanishing and exploding gradients', run: runGradientsLab },
};

const HELP = `Usage: attend lab <experiment> [options]   (attend lab <experiment> --help for its options)

Experiments (they train nothing):
${Object.entries(EXPERIMENTS).map(([k, v]) => `  ${k.padEnd(10)} ${v.summary}`).join('\n')}`;

export const labCommand: Command = {
  name: 'lab',
  synopsis: 'lab gradients [options]',
  summary: 'experiments that measure why models behave as they do (vanishing gradients, …)',
  async run(argv) {
    const [experiment, ...rest] = argv;
    if (experiment === undefined || experiment === '--help' || experiment === '-h') {
      console.log(HELP);
      return experiment === undefined ? 2 : 0;
    }
    const e = EXPERIMENTS[experiment];
    if (!e) throw new UsageError(`unknown experiment "${experiment}"\n\n${HELP}`);
    return e.run(rest);
  },
};
