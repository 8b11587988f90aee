import { describe, expect, it } from 'vitest';
import { Ema, RunningMean, bitsPerChar, perplexity } from '../src/index.js';

describe('metrics', () => {
  it('converts nats to bits per char and perplexity', () => {
    expect(bitsPerChar(Math.LN2)).toBe(1);
    expect(bitsPerChar(Math.log(65))).toBeCloseTo(Math.log2(65), 12); // uniform over 65 chars
    expect(perplexity(Math.log(65))).toBeCloseTo(65, 10);
    expect(perplexity(0)).toBe(1);
  });

  it('RunningMean is a (weighted) mean', () => {
    const m = new RunningMean();
    expect(m.mean).toBeNaN();
    m.add(1).add(2).add(6, 2);
    expect(m.mean).toBe(15 / 4);
    expect(m.count).toBe(4);
    m.reset();
    expect(m.count).toBe(0);
  });

  it('Ema is bias-corrected and restores from its state', () => {
    const e = new Ema(0.9);
    expect(e.value).toBeNaN();
    expect(e.add(5).value).toBeCloseTo(5, 12); // the first value, not 0.5
    e.add(3);
    expect(e.value).toBeCloseTo((0.9 * 0.1 * 5 + 0.1 * 3) / (1 - 0.81), 12);
    const f = new Ema(JSON.parse(JSON.stringify(e.state())));
    expect(f.add(1).value).toBe(e.add(1).value);
  });
});
