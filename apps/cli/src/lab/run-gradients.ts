// `attend lab gradients`: parse the flags, pick the backend, measure ‖∂L/∂h_t‖ for the four cells
// (./gradients.ts), print a table and write gradients.csv and gradients.svg.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from '../args.js';
import { useBackend } from '../lib/backend.js';
import { describeSetup, fmtNum, formatClipping, formatTable, measureGradientNorms, renderSvg, toCsv } from './gradients.js';
import { GRADIENTS_FLAGS, GRADIENTS_HELP, gradientsSettings } from './flags.js';

export async function runGradientsLab(argv: string[]): Promise<number> {
  const { values } = parse(argv, GRADIENTS_FLAGS, GRADIENTS_HELP);
  if (values.help) {
    console.log(GRADIENTS_HELP);
    return 0;
  }
  const { config: c, out } = gradientsSettings(values);
  await useBackend(values.backend);

  const started = Date.now();
  const report = measureGradientNorms(c);
  console.log(`‖∂L/∂h_t‖ for a loss on step T = ${c.length}: input ${c.inputSize}, hidden ${c.hidden}, batch ${c.batch}, gain ${fmtNum(c.gain)}, seed ${c.seed}`);
  console.log(describeSetup(c));
  console.log('');
  console.log(formatTable(report));
  if (c.clip > 0) {
    console.log('');
    console.log(
      `Global-norm clipping to ${fmtNum(c.clip)}: all ∂L/∂h_t of a cell are scaled together by min(1, ${fmtNum(c.clip)} / their global norm);\n` +
        `the recurrent kernel's gradient ∂L/∂W_h (W_hh [H, H]; LSTM W_h [H, 4H]; GRU W_h [H, 3H]) is clipped the same way by its own norm.`,
    );
    console.log(formatClipping(report));
    console.log('Clipping rescales, it does not reshape: h_1/h_T is the same after it. It tames explosions; it cannot undo vanishing.');
  }

  const dir = resolve(out);
  mkdirSync(dir, { recursive: true });
  const csv = join(dir, 'gradients.csv');
  const svg = join(dir, 'gradients.svg');
  writeFileSync(csv, toCsv(report));
  writeFileSync(svg, renderSvg(report));
  console.log('');
  console.log(`Wrote ${csv}`);
  console.log(`Wrote ${svg}`);
  console.log(`(${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return 0;
}
