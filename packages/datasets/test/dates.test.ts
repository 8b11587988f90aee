// The synthetic date task: golden renderings of each format, real calendar dates only (leap years),
// every source read back by an independent parser gives its ISO target (day first, two-digit years
// 1950–2049, correct weekdays), determinism in the seed, and the variety of formats.
import { describe, expect, it } from 'vitest';
import { DATE_FORMATS, DATE_YEARS, formatDate, generateDatePairs, isoDate } from '../src/index.js';

const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

/** An independent reader of the human formats: numbers day first, month names anywhere, YYYY first means Y-M-D. */
function readDate(source: string): { iso: string; weekday?: number } {
  const words = source.toLowerCase().replace(/\b(the|of)\b|,/g, ' ').split(/[\s/.-]+/).filter(Boolean);
  let weekday: number | undefined;
  let month: number | undefined;
  const numbers: string[] = [];
  for (const w of words) {
    const wd = WEEKDAYS.findIndex((d) => d === w || d.slice(0, 3) === w);
    const mo = MONTHS.findIndex((m) => m === w || m.slice(0, 3) === w);
    if (wd >= 0) weekday = wd;
    else if (mo >= 0) month = mo + 1;
    else if (/^\d+(st|nd|rd|th)?$/.test(w)) numbers.push(w);
    else throw new Error(`unexpected word ${JSON.stringify(w)} in ${JSON.stringify(source)}`);
  }
  let y: string, m: number, d: number;
  if (/^\d{4}$/.test(numbers[0]!)) [y, m, d] = [numbers[0]!, Number(numbers[1]), Number(numbers[2])];
  else if (month !== undefined) [d, m, y] = [parseInt(numbers[0]!, 10), month, numbers[1]!];
  else [d, m, y] = [Number(numbers[0]), Number(numbers[1]), numbers[2]!];
  const year = y.length === 2 ? (Number(y) >= 50 ? 1900 : 2000) + Number(y) : Number(y);
  return { iso: `${year}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`, weekday };
}

describe('formats', () => {
  it('writes Sunday 3 May 1998 in every format', () => {
    const d = { year: 1998, month: 5, day: 3 };
    expect(Object.fromEntries(DATE_FORMATS.map((f) => [f.name, formatDate(d, f)]))).toEqual({
      'D MMMM YYYY': '3 May 1998',
      'MMMM D, YYYY (lower)': 'may 3, 1998',
      'dddd, MMMM D YYYY': 'Sunday, May 3 1998',
      'DD/MM/YY': '03/05/98',
      'YYYY-MM-DD': '1998-05-03',
      'Do of MMMM YYYY': '3rd of May 1998',
      'MMMM D YYYY (upper)': 'MAY 3 1998',
      'DD.MM.YYYY': '03.05.1998',
      'D MMM YYYY': '3 May 1998',
      'ddd, D MMM YYYY': 'Sun, 3 May 1998',
      'MMMM Do, YYYY': 'May 3rd, 1998',
      'D/M/YYYY': '3/5/1998',
      'DD-MMM-YY': '03-May-98',
      'the Do of MMMM, YYYY (lower)': 'the 3rd of may, 1998',
      'dddd D MMMM YYYY (lower)': 'sunday 3 may 1998',
      'YYYY/MM/DD': '1998/05/03',
      'MMM D, YY': 'May 3, 98',
      'D.M.YY': '3.5.98',
    });
    expect(isoDate(d)).toBe('1998-05-03');
  });

  it.each([
    [1, '1st'], [2, '2nd'], [3, '3rd'], [4, '4th'], [11, '11th'], [12, '12th'], [13, '13th'], [21, '21st'], [22, '22nd'], [23, '23rd'], [30, '30th'], [31, '31st'],
  ])('day %i is the %s', (day, ord) => {
    expect(formatDate({ year: 2001, month: 1, day }, 'Do of MMMM YYYY')).toBe(`${ord} of January 2001`);
  });

  it('accepts real calendar dates only (leap years!) and two-digit years for 1950–2049 only', () => {
    expect(formatDate({ year: 2000, month: 2, day: 29 }, 'YYYY-MM-DD')).toBe('2000-02-29'); // divisible by 400
    expect(formatDate({ year: 1996, month: 2, day: 29 }, 'D MMMM YYYY')).toBe('29 February 1996');
    expect(() => isoDate({ year: 1999, month: 2, day: 29 })).toThrow(/expected a calendar date/);
    expect(() => isoDate({ year: 2100, month: 2, day: 29 })).toThrow(/expected a calendar date/); // divisible by 100, not 400
    expect(() => isoDate({ year: 2001, month: 4, day: 31 })).toThrow(/expected a calendar date/);
    expect(() => isoDate({ year: 2001, month: 13, day: 1 })).toThrow(/expected a calendar date/);
    expect(() => formatDate({ year: 2050, month: 1, day: 1 }, 'DD/MM/YY')).toThrow(/two-digit years, which stand for 1950–2049; got 2050/);
    expect(() => formatDate({ year: 2000, month: 1, day: 1 }, 'nope')).toThrow(/unknown format "nope"/);
  });
});

describe('generateDatePairs', () => {
  const pairs = generateDatePairs(3000, 7);

  it('is deterministic in the seed', () => {
    expect(generateDatePairs(3000, 7)).toEqual(pairs);
    expect(generateDatePairs(10, 7)).toEqual(pairs.slice(0, 10));
    expect(generateDatePairs(50, 8)).not.toEqual(pairs.slice(0, 50));
    expect(generateDatePairs(0, 1)).toEqual([]);
    expect(() => generateDatePairs(-1, 0)).toThrow(/n: expected an integer ≥ 0/);
  });

  it('gives ISO targets that parse back to the same day, within 1950–2050', () => {
    for (const { target } of pairs) {
      expect(target).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      const t = new Date(`${target}T00:00:00Z`);
      expect(t.toISOString().slice(0, 10)).toBe(target); // no rollover: a real calendar day
      expect(t.getUTCFullYear()).toBeGreaterThanOrEqual(DATE_YEARS.first);
      expect(t.getUTCFullYear()).toBeLessThanOrEqual(DATE_YEARS.last);
    }
    const years = pairs.map((p) => Number(p.target.slice(0, 4)));
    expect(Math.min(...years)).toBeLessThan(1955);
    expect(Math.max(...years)).toBeGreaterThan(2045);
  });

  it('writes each source so that it reads back as its target (day first, weekday right)', () => {
    for (const p of pairs) {
      const { iso, weekday } = readDate(p.source);
      expect(iso, `${p.source} (${p.format})`).toBe(p.target);
      if (weekday !== undefined) expect(new Date(`${p.target}T00:00:00Z`).getUTCDay(), p.source).toBe(weekday);
    }
  });

  it('uses every format, with leap days among the dates', () => {
    const counts = new Map<string, number>();
    for (const p of pairs) counts.set(p.format, (counts.get(p.format) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual(DATE_FORMATS.map((f) => f.name).sort());
    for (const n of counts.values()) expect(n).toBeGreaterThan(3000 / DATE_FORMATS.length / 2);
    expect(new Set(pairs.map((p) => p.source)).size).toBeGreaterThan(2900);
    const many = generateDatePairs(40_000, 1);
    const leap = many.filter((p) => p.target.endsWith('-02-29'));
    expect(leap.length).toBeGreaterThan(0);
    for (const p of leap) {
      const y = Number(p.target.slice(0, 4));
      expect(y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0)).toBe(true);
    }
  });
});
