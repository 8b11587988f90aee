import { describe, expect, it } from 'vitest';
import { ConfigError, ShapeError, assertInt, assertNumber, assertShape, withDefaults } from '../src/index.js';

describe('withDefaults', () => {
  const defaults = { hidden: 128, cell: 'lstm' as string };
  it('fills defaults and keeps given values', () => {
    expect(withDefaults('Model', defaults, { hidden: 7 })).toEqual({ hidden: 7, cell: 'lstm' });
  });
  it('rejects unknown keys, naming them and the known ones', () => {
    expect(() => withDefaults('Model', defaults, { hiden: 7 } as never)).toThrowError(
      new ConfigError('Model: unknown option "hiden"; known options are hidden, cell'),
    );
  });
});

describe('assertions', () => {
  it('assertShape states expected vs actual', () => {
    expect(() => assertShape('x', [2, 3], [2, 4])).toThrowError(ShapeError);
    expect(() => assertShape('x', [2, 3], [2, 4])).toThrow('x: expected shape [2, 4], got [2, 3]');
    expect(() => assertShape('x', [5, 3], [null, 3])).not.toThrow();
  });
  it('assertInt and assertNumber reject bad values', () => {
    expect(() => assertInt('--hidden', 0)).toThrow('--hidden: expected an integer ≥ 1, got 0');
    expect(() => assertInt('--hidden', 2.5)).toThrow(ConfigError);
    expect(() => assertNumber('--lr', Number.NaN, 0)).toThrow('--lr: expected a number in [0, ∞), got null');
    expect(() => assertNumber('--p', 0.5, 0, 1)).not.toThrow();
  });
});
