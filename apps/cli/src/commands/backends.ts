// `attend backends`: every backend Attend knows, whether it loads here, and which one would run.
import { probeBackends } from '@attend/core/node';
import type { Command } from './command.js';
import { parse } from '../args.js';

const HELP = `Usage: attend backends

Lists the TensorFlow.js backends in the order Attend tries them, whether each loads on this
machine (and why not), and the one that runs when --backend is not given.`;

export const backendsCommand: Command = {
  name: 'backends',
  synopsis: 'backends',
  summary: 'list backends, which load here, and which one runs',
  async run(argv) {
    const { values } = parse(argv, {}, HELP);
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const { probes, selection } = await probeBackends();
    console.log('Backends, in the order they are tried:');
    probes.forEach((p, i) => {
      console.log(`  ${i + 1}. ${p.available ? 'yes' : 'no '}  ${p.label}${p.detail ? `: ${p.detail}` : ''}`);
    });
    console.log(`\nChosen: ${selection.label}${selection.detail ? ` [${selection.detail}]` : ''}`);
    console.log('Override with --backend tensorflow|webgpu|wasm|cpu on any command.');
    return 0;
  },
};
