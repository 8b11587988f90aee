// `attend train translate --arch transformer` end to end on the date task with a tiny model: the
// checkpoint records the architecture (and the Noam schedule), `attend translate` draws a chosen
// layer/head of the cross-attention, `attend eval translate` scores it, --resume continues it (and
// refuses another architecture or size), and wrong flag combinations are usage errors (exit 2).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateDatePairs } from '@attend/datasets';
import { beforeAll, describe, expect, it } from 'vitest';
import { attend as run, tempDir } from './helpers.js';

const attend = (args: string[]) => {
  const r = run(args);
  return { ...r, all: r.stdout + r.stderr };
};

const TINY = ['--backend', 'cpu', '--arch', 'transformer', '--d-model', '16', '--heads', '2', '--layers', '1', '--ff', '32', '--batch', '8', '--warmup', '2', '--eval-every', '3', '--eval-sentences', '10'];
const SOURCE = '3 May 1998';

let work: string;
let model: string;

beforeAll(() => {
  work = tempDir('translate-transformer');
  model = join(work, 'transformer');
  const r = attend(['train', 'translate', '--steps', '4', '--out', model, ...TINY]);
  expect(r.all).toContain('done at step 4');
  expect(r.code).toBe(0);
}, 60_000);

describe('attend train translate --arch transformer', () => {
  it('logs the Transformer and its schedule, ends with exact match, and records the architecture', () => {
    for (const f of ['config.json', 'tokenizer.json', 'weights.bin', 'state.json']) expect(existsSync(join(model, f))).toBe(true);
    const config = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8')) as {
      model: Record<string, unknown>;
      training: { model: Record<string, unknown>; labelSmoothing: number };
    };
    expect(config.model).toMatchObject({ kind: 'translate', arch: 'transformer', dModel: 16, heads: 2, encoderLayers: 1, decoderLayers: 1, dFF: 32, norm: 'post', positional: 'sinusoidal' });
    expect(config.training.model).toMatchObject({ arch: 'transformer', dModel: 16 });
    expect(config.training.labelSmoothing).toBe(0);
    expect(config.model).toMatchObject({ dropout: 0 });
    const state = JSON.parse(readFileSync(join(model, 'state.json'), 'utf8')) as { schedule: { config: { type: string; warmupSteps: number } } };
    expect(state.schedule.config).toMatchObject({ type: 'noam', warmupSteps: 2 });
  });

  it('--resume continues the same model; another architecture or size is refused', () => {
    const arch = attend(['train', 'translate', '--steps', '6', '--out', model, '--resume', '--backend', 'cpu', '--arch', 'rnn']);
    expect(arch.code).toBe(1);
    expect(arch.stderr).toMatch(/trained with arch=transformer; you asked for arch=rnn/);
    const heads = attend(['train', 'translate', '--steps', '6', '--out', model, '--resume', '--backend', 'cpu', '--heads', '4']);
    expect(heads.code).toBe(1);
    expect(heads.stderr).toMatch(/trained with heads=2; you asked for heads=4/);
    const ok = attend(['train', 'translate', '--steps', '6', '--out', model, '--resume', '--backend', 'cpu', '--eval-sentences', '5']);
    expect(ok.stdout).toContain('model: Transformer, 1+1 post-LN layers, d_model 16');
    expect(ok.stdout).toContain('done at step 6');
    expect(ok.stdout).toMatch(/exact match: [\d.]+% of 5 validation dates/);
    expect(ok.code).toBe(0);
  }, 60_000);
});

describe('attend translate and eval translate with a Transformer', () => {
  it('draws the chosen layer and head of the cross-attention; the mean of the heads by default', () => {
    const svg = join(work, 'head.svg');
    const r = attend(['translate', '--model', model, '--beam', '2', '--attention-map', svg, '--layer', '1', '--head', '2', '--backend', 'cpu', SOURCE]);
    expect(r.code).toBe(0);
    const text = readFileSync(svg, 'utf8');
    expect(text).toContain(`${SOURCE} — cross-attention, decoder layer 1/1, head 2/2`);
    // One row per output token (an untrained model may emit [UNK]: count rows, not characters), one cell per source character.
    const rows = text.match(/<g class="row">/g)?.length ?? 0;
    expect(rows).toBeGreaterThan(0);
    expect(r.stderr).toContain(`attention map: ${svg} (${rows} output × ${[...SOURCE].length} source tokens)`);
    expect(text.match(/<text class="src"/g)?.length).toBe([...SOURCE].length);
    expect(text.match(/<rect x=/g)?.length).toBe(rows * [...SOURCE].length);
    const mean = join(work, 'mean.svg');
    expect(attend(['translate', '--model', model, '--beam', '1', '--attention-map', mean, '--backend', 'cpu', SOURCE]).code).toBe(0);
    expect(readFileSync(mean, 'utf8')).toContain('decoder layer 1/1, mean of 2 heads');
  });

  it('rejects a layer or head the model does not have, and --layer without --attention-map', () => {
    const layer = attend(['translate', '--model', model, '--attention-map', join(work, 'x.svg'), '--layer', '2', '--backend', 'cpu', SOURCE]);
    expect(layer.code).toBe(2);
    expect(layer.stderr).toContain('--layer: this model has 1 decoder layers; expected 1 to 1, got 2');
    const head = attend(['translate', '--model', model, '--attention-map', join(work, 'x.svg'), '--head', '3', '--backend', 'cpu', SOURCE]);
    expect(head.code).toBe(2);
    expect(head.stderr).toContain('--head: this model has 2 heads');
    const alone = attend(['translate', '--model', model, '--layer', '1', '--backend', 'cpu', SOURCE]);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toContain('add --attention-map');
    // A recurrent model has one attention: --layer / --head do not apply.
    const rnn = join(work, 'rnn');
    expect(attend(['train', 'translate', '--steps', '1', '--out', rnn, '--backend', 'cpu', '--hidden', '8', '--embed', '4', '--batch', '4', '--eval-sentences', '2']).code).toBe(0);
    const config = JSON.parse(readFileSync(join(rnn, 'config.json'), 'utf8')) as { model: Record<string, unknown> };
    expect(config.model).toMatchObject({ kind: 'translate', arch: 'rnn', cell: 'lstm' });
    const r = attend(['translate', '--model', rnn, '--attention-map', join(work, 'x.svg'), '--head', '1', '--backend', 'cpu', SOURCE]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--head applies to Transformer models');
  }, 60_000);

  it('eval translate scores it with beam search', () => {
    const pairs = join(work, 'dates.tsv');
    writeFileSync(pairs, generateDatePairs(12, 5).map((p) => `${p.source}\t${p.target}\n`).join(''));
    const r = attend(['eval', 'translate', '--model', model, '--pairs', pairs, '--beam', '2', '--backend', 'cpu']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/BLEU = \d+\.\d\d [\d.]+\/[\d.]+\/[\d.]+\/[\d.]+ \(BP = [\d.]+/);
  });
});

describe('flags', () => {
  it('model flags of the other architecture are usage errors (exit 2)', () => {
    const cell = attend(['train', 'translate', '--arch', 'transformer', '--cell', 'gru', '--out', join(work, 'never')]);
    expect(cell.code).toBe(2);
    expect(cell.stderr).toContain('--cell applies to --arch rnn only');
    const heads = attend(['train', 'translate', '--heads', '4', '--label-smoothing', '0.2', '--out', join(work, 'never')]);
    expect(heads.code).toBe(2);
    expect(heads.stderr).toContain('--heads, --label-smoothing apply to --arch transformer only');
    const divide = attend(['train', 'translate', '--arch', 'transformer', '--d-model', '30', '--heads', '4', '--out', join(work, 'never')]);
    expect(divide.code).toBe(2);
    expect(divide.stderr).toContain('--d-model 30 is not a multiple of --heads 4');
    const norm = attend(['train', 'translate', '--norm', 'pre', '--out', join(work, 'never')]);
    expect(norm.code).toBe(2);
    expect(norm.stderr).toContain('--norm applies to --arch transformer only');
    expect(attend(['train', 'translate', '--arch', 'transformer', '--norm', 'middle', '--out', join(work, 'never')]).stderr).toContain('--norm: expected one of post, pre');
    expect(attend(['train', 'translate', '--arch', 'lstm']).stderr).toContain('--arch: expected one of rnn, transformer');
    expect(existsSync(join(work, 'never'))).toBe(false);
  });

  it('--norm chooses where the layer norms sit; the checkpoint records it and --resume holds to it', () => {
    const dir = join(work, 'norm');
    const r = attend(['train', 'translate', '--steps', '1', '--out', dir, ...TINY, '--norm', 'pre']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('model: Transformer, 1+1 pre-LN layers, d_model 16');
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { model: Record<string, unknown>; training: { model: Record<string, unknown> } };
    expect(config.model).toMatchObject({ arch: 'transformer', norm: 'pre' });
    expect(config.training.model).toMatchObject({ norm: 'pre' });
    const other = attend(['train', 'translate', '--steps', '2', '--out', dir, '--resume', '--backend', 'cpu', '--norm', 'post']);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/trained with norm=pre; you asked for norm=post/);
  }, 60_000);

  it('--help documents the architectures and the attention-map choices', () => {
    const train = attend(['train', 'translate', '--help']).stdout;
    for (const flag of ['--arch KIND', '--d-model N', '--heads N', '--ff N', '--norm WHERE', '--label-smoothing E', '--warmup N']) expect(train).toContain(flag);
    const translate = attend(['translate', '--help']).stdout;
    expect(translate).toContain('--layer L');
    expect(translate).toContain('average of all heads');
  });
});
