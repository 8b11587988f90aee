import { describe, expect, it } from 'vitest';
import { median, ratio, table } from '../src/timing.js';

describe('bench helpers', () => {
  it('median of odd and even lists', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow('median of an empty list');
  });
  it('ratio formats against a baseline and marks a missing one', () => {
    expect(ratio(50, 2)).toBe('25×');
    expect(ratio(3, 2)).toBe('1.5×');
    expect(ratio(1, 4)).toBe('0.25×');
    expect(ratio(1, undefined)).toBe('–');
  });
  it('table pads columns', () => {
    expect(table([['a', 'bb'], ['ccc', 'd']])).toBe('| a   | bb |\n|-----|----|\n| ccc | d  |');
  });
});
