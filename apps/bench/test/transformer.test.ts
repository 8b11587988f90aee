import { describe, expect, it } from 'vitest';
import { ConfigError } from '@attend/core';
import { benchTransformer, DEFAULT_TRANSFORMER_BENCH, parseTransformerArgs, transformerResultFile, type TransformerBenchRow } from '../src/transformer.js';

// A Python that does not exist: the PyTorch baseline is skipped, so the test needs no torch.
const NO_TORCH = ['--python', '/nonexistent/python'];

describe('bench transformer: arguments', () => {
  it('defaults to the issue block shape, and nanoGPT CPU shape for --model gpt', () => {
    expect(parseTransformerArgs([])).toEqual(DEFAULT_TRANSFORMER_BENCH.block);
    expect(parseTransformerArgs([])).toMatchObject({ model: 'block', batch: 16, seq: 128, dModel: 128, heads: 4, dFF: 512 });
    expect(parseTransformerArgs(['--model', 'gpt'])).toMatchObject({ layers: 4, dModel: 128, heads: 4, seq: 64, batch: 12, vocab: 65, dropout: 0 });
    expect(transformerResultFile(parseTransformerArgs([]))).toBe('transformer-block.json');
  });

  it('parses the GPU shape; d_ff follows d unless given', () => {
    const o = parseTransformerArgs(['--model', 'gpt', '--layers', '6', '--d-model', '384', '--heads', '6', '--seq', '256', '--batch', '64', '--device', 'cuda', '--backends', 'webgpu']);
    expect(o).toMatchObject({ layers: 6, dModel: 384, heads: 6, dFF: 1536, seq: 256, batch: 64, device: 'cuda', backends: ['webgpu'] });
    expect(transformerResultFile(o)).toBe('transformer-gpt-L6-d384-h6-T256-B64-cuda.json');
    expect(parseTransformerArgs(['--d-model', '64', '--d-ff', '100']).dFF).toBe(100);
  });

  it('rejects unknown flags with a message that lists the options', () => {
    expect(() => parseTransformerArgs(['--bogus', '1'])).toThrow(ConfigError);
    expect(() => parseTransformerArgs(['--bogus', '1'])).toThrow('bench transformer: unknown option --bogus; options are --model block|gpt --batch --seq --d-model');
    expect(() => parseTransformerArgs(['--seq-len', '8'])).toThrow('unknown option --seq-len');
  });

  it.each([
    [['--batch'], '--batch needs a value'],
    [['--batch', '--seq', '8'], '--batch needs a value'],
    [['extra'], 'unexpected argument "extra"'],
    [['--model', 'rnn'], '--model expects block or gpt, got rnn'],
    [['--heads', '3'], '--d-model must be a multiple of --heads, got d-model 128 and heads 3'],
    [['--steps', '0'], '--steps expects a positive integer, got 0'],
    [['--warmup', '-1'], '--warmup expects a non-negative integer, got -1'],
    [['--dropout', '1'], '--dropout expects a number in [0, 1), got 1'],
    [['--device', 'tpu'], '--device expects cpu or cuda'],
    [['--backends', 'cpu,gpu'], '--backends: unknown backend "gpu"'],
    [['--layers', '2'], '--layers applies to --model gpt only'],
  ])('rejects %j', (argv, message) => {
    expect(() => parseTransformerArgs(argv)).toThrow(message);
  });
});

describe('bench transformer: a tiny run on the cpu backend', () => {
  // A backend that failed shows up in `skipped`: compare it first so the reason is in the failure.
  const rowsOf = (json: unknown) => {
    const r = json as { rows: TransformerBenchRow[]; skipped: string[] };
    expect(r.skipped.filter((s) => !s.startsWith('PyTorch'))).toEqual([]);
    return r.rows;
  };

  it('block: batch 2, seq 8, d 16, 2 heads, 1 step: finite tokens/s, PyTorch skipped', async () => {
    const o = parseTransformerArgs(['--batch', '2', '--seq', '8', '--d-model', '16', '--heads', '2', '--steps', '1', '--warmup', '0', '--backends', 'cpu', ...NO_TORCH]);
    const { text, json } = await benchTransformer(o);
    const rows = rowsOf(json);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ backend: 'cpu', steps: 1 });
    expect(Number.isFinite(rows[0]!.tokensPerSecond) && rows[0]!.tokensPerSecond > 0).toBe(true);
    expect(text).toContain('skipped: PyTorch: no torch in /nonexistent/python');
  });

  it('gpt: 1 layer, d 16, 2 heads, context 8, batch 2, vocab 11, 1 step with Adam', async () => {
    const o = parseTransformerArgs(['--model', 'gpt', '--layers', '1', '--batch', '2', '--seq', '8', '--d-model', '16', '--heads', '2', '--vocab', '11', '--steps', '1', '--warmup', '1', '--backends', 'cpu', ...NO_TORCH]);
    const rows = rowsOf((await benchTransformer(o)).json);
    expect(rows.map((r) => r.backend)).toEqual(['cpu']);
    expect(Number.isFinite(rows[0]!.tokensPerSecond) && rows[0]!.tokensPerSecond > 0).toBe(true);
  });
});
