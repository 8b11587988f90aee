import { describe, expect, it } from 'vitest';
import {
  createProgressReporter,
  estimateEta,
  formatBar,
  formatCount,
  formatDuration,
  formatProgressLine,
} from '../src/index.js';

describe('progress formatting', () => {
  it('formats durations', () => {
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(59.4)).toBe('0:59');
    expect(formatDuration(61)).toBe('1:01');
    expect(formatDuration(3599.6)).toBe('1:00:00');
    expect(formatDuration(3725)).toBe('1:02:05');
    expect(formatDuration(100 * 3600)).toBe('100:00:00');
    for (const bad of [NaN, Infinity, -1, undefined]) expect(formatDuration(bad)).toBe('--:--');
  });

  it('formats counts', () => {
    expect(formatCount(950)).toBe('950');
    expect(formatCount(2.5)).toBe('2.5');
    expect(formatCount(1234)).toBe('1.23k');
    expect(formatCount(12_345)).toBe('12.3k');
    expect(formatCount(2_500_000)).toBe('2.50M');
    expect(formatCount(NaN)).toBe('?');
  });

  it('estimates the ETA from steps left or the time limit, whichever is first', () => {
    expect(estimateEta({ step: 100, totalSteps: 1100, stepsPerSecond: 10 })).toBe(100);
    expect(estimateEta({ step: 100, totalSteps: 1100, stepsPerSecond: 10, sessionSeconds: 30, timeLimitSeconds: 60 })).toBe(30);
    expect(estimateEta({ step: 100, stepsPerSecond: 10, sessionSeconds: 30, timeLimitSeconds: 60 })).toBe(30);
    expect(estimateEta({ step: 100, stepsPerSecond: 10 })).toBeUndefined();
    expect(estimateEta({ step: 100, totalSteps: 200, stepsPerSecond: 0 })).toBeUndefined();
  });

  it('builds the progress line', () => {
    const p = { step: 120, totalSteps: 2000, loss: 2.34567, charsPerSecond: 12_345, etaSeconds: 192 };
    expect(formatProgressLine(p)).toBe('step 120/2000 6% | loss 2.3457 | 12.3k chars/s | ETA 3:12');
    expect(formatProgressLine({ ...p, valLoss: 2.4, lr: 3e-4 }, { bar: true })).toBe(
      'step 120/2000 [#...................] 6% | loss 2.3457 | val 2.4000 | lr 3.00e-4 | 12.3k chars/s | ETA 3:12',
    );
    expect(formatProgressLine({ step: 5, loss: 1, charsPerSecond: 10 })).toBe('step 5 | loss 1.0000 | 10 chars/s | ETA --:--');
    expect(formatProgressLine({ step: 5, loss: 1, charsPerSecond: 640, unit: 'pairs' })).toBe('step 5 | loss 1.0000 | 640 pairs/s | ETA --:--');
    expect(formatProgressLine(p, { width: 20 })).toHaveLength(20);
    expect(formatBar(0.5, 4)).toBe('[##..]');
    expect(formatBar(2, 4)).toBe('[####]');
  });
});

function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns: 200, write: (s: string) => void writes.push(s) } };
}

describe('ProgressReporter', () => {
  const info = (step: number, extra: object = {}) => ({ step, totalSteps: 100, loss: 2, lossEma: 1.5, stepsPerSecond: 4, ...extra });

  it('redraws in place on a terminal, throttled, with chars/s = tokensPerStep × steps/s', () => {
    let t = 0;
    const { writes, stream } = fakeStream(true);
    const r = createProgressReporter({ stream, tokensPerStep: 256, now: () => t });
    r.update(info(1));
    t = 0.05;
    r.update(info(2)); // too soon: skipped
    t = 0.2;
    r.update(info(3));
    expect(writes).toHaveLength(2);
    expect(writes[1]).toMatch(/^\rstep 3\/100 \[#*\.*\] 3% \| loss 1\.5000 \| 1\.02k chars\/s \| ETA 0:24\x1b\[K$/);
    expect(writes.join('')).not.toContain('\n');
    r.log('sample: hello');
    expect(writes.at(-1)).toBe(`\r\x1b[Ksample: hello\n${writes[1]!.slice(1, -3)}`);
    r.update(info(100)); // the last step always draws
    r.done();
    expect(writes.at(-1)).toBe('\n');
  });

  it('prints plain periodic lines elsewhere, and every evaluation', () => {
    let t = 0;
    const { writes, stream } = fakeStream(false);
    const r = createProgressReporter({ stream, tokensPerStep: 100, intervalSeconds: 10, now: () => t });
    for (let s = 1; s <= 30; s++) {
      t = s; // one step per second
      r.update(info(s, s === 15 ? { valLoss: 1.7 } : {}));
    }
    expect(writes.map((w) => w.split(' ')[1])).toEqual(['1/100', '11/100', '15/100', '25/100']);
    expect(writes.every((w) => w.endsWith('\n') && !w.includes('\r'))).toBe(true);
    expect(writes[2]).toContain('val 1.7000');
    expect(writes[3]).toContain('val 1.7000'); // the last validation loss stays on the line
    r.done();
    expect(writes).toHaveLength(4);
  });
});
