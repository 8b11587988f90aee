// `attend setup tensorflow [--python PATH]`: builds tfjs-node against a Python TensorFlow, offline.
import { setupTensorflow } from '@attend/core/node';
import type { Command } from './command.js';
import { parse, UsageError } from '../args.js';

const HELP = `Usage: attend setup tensorflow [--python PATH]

Makes the "tensorflow" backend (@tensorflow/tfjs-node, libtensorflow on CPU) available without
downloading anything: compiles tfjs-node's native addon against the libtensorflow shipped inside a
Python TensorFlow installation, checks that it runs, then compiles Attend's native ops (fused
recurrent layers, attention, LayerNorm and GELU; g++, under a minute) against the same TensorFlow.
If that second compile fails, the backend still works, on TensorFlow's own ops.

  --python PATH   a Python with tensorflow or tensorflow-cpu installed
                  (default: $ATTEND_TF_PYTHON, then python3)

Get such a Python offline with:
  python3 -m venv .venv-tf && .venv-tf/bin/pip install tensorflow-cpu`;

export const setupCommand: Command = {
  name: 'setup',
  synopsis: 'setup tensorflow [--python PATH]',
  summary: 'build the tensorflow backend offline from a Python TensorFlow',
  async run(argv) {
    const { values, positionals } = parse(argv, { python: { type: 'string' } }, HELP, true);
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    if (positionals.length !== 1 || positionals[0] !== 'tensorflow') {
      throw new UsageError(`expected "attend setup tensorflow", got "attend setup ${positionals.join(' ')}"\n\n${HELP}`);
    }
    const report = setupTensorflow({ python: values.python as string | undefined, log: (l) => console.log(l) });
    console.log(`The tensorflow backend is ready (TensorFlow ${report.tensorflowVersion}). Check with: attend backends`);
    return 0;
  },
};
