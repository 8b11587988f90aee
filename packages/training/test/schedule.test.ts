import { ConfigError } from '@attend/core';
import { describe, expect, it } from 'vitest';
import { constant, createSchedule, noamSchedule, warmupCosine } from '../src/index.js';

describe('schedules', () => {
  it('constant', () => {
    const s = constant(3e-4);
    expect([0, 1, 1000].map(s)).toEqual([3e-4, 3e-4, 3e-4]);
  });

  it('warmupCosine matches nanoGPT get_lr at golden steps', () => {
    const s = warmupCosine({ lr: 1e-3, warmupSteps: 10, totalSteps: 110, minLr: 1e-4 });
    expect(s(0)).toBeCloseTo(1e-3 / 11, 12); // warmup start: lr·(it+1)/(warmup+1)
    expect(s(9)).toBeCloseTo((1e-3 * 10) / 11, 12); // last warmup step
    expect(s(10)).toBeCloseTo(1e-3, 12); // warmup end: the peak
    expect(s(60)).toBeCloseTo(5.5e-4, 12); // midpoint of the cosine: (lr + minLr) / 2
    expect(s(110)).toBeCloseTo(1e-4, 12); // end: minLr
    expect(s(5000)).toBe(1e-4); // after: minLr
    for (let i = 10; i < 110; i++) expect(s(i + 1)).toBeLessThanOrEqual(s(i)); // decays monotonically
  });

  it('noam peaks at warmupSteps with factor · dModel^-0.5 · warmup^-0.5', () => {
    const s = noamSchedule({ dModel: 512, warmupSteps: 4000, factor: 1 });
    const peak = 512 ** -0.5 * 4000 ** -0.5;
    expect(s(3999)).toBeCloseTo(peak, 15); // step index 3999 is update number 4000
    expect(s(3998)).toBeLessThan(s(3999));
    expect(s(4000)).toBeLessThan(s(3999));
    expect(s(0)).toBeCloseTo(512 ** -0.5 * 4000 ** -1.5, 15);
    expect(s(15999)).toBeCloseTo(512 ** -0.5 * 16000 ** -0.5, 15);
  });

  it('createSchedule builds each type and rejects unknown types and keys', () => {
    expect(createSchedule({ type: 'constant', lr: 0.1 })(5)).toBe(0.1);
    expect(createSchedule({ type: 'warmupCosine', lr: 1, warmupSteps: 0, totalSteps: 10, minLr: 0 })(10)).toBeCloseTo(0, 12);
    expect(createSchedule({ type: 'noam', dModel: 16, warmupSteps: 4, factor: 2 })(3)).toBeCloseTo(2 / 4 / 2, 12);
    expect(() => createSchedule({ type: 'cosine' } as never)).toThrow(
      new ConfigError('Unknown schedule type: cosine; expected one of constant, warmupCosine, noam'),
    );
    expect(() => createSchedule({ type: 'noam', dmodel: 4 } as never)).toThrow(/unknown option "dmodel"/);
    expect(() => warmupCosine({ warmupSteps: 100, totalSteps: 50 })).toThrow(ConfigError);
    expect(() => constant(1)(-1)).toThrow(/step/);
  });
});
