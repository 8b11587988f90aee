// The embedded default translation task: human-written dates → ISO 8601 (`YYYY-MM-DD`), the
// small synthetic problem used to teach attention (it appears in Andrew Ng's deep-learning course
// and many tutorials after Bahdanau et al. 2015): the model must learn to find the day, the month
// and the year wherever the format puts them, and the attention heatmaps show it doing so.
//   - dates uniform over the days of 1950-01-01 … 2050-12-31 (real calendar dates only: JavaScript's
//     proleptic Gregorian `Date.UTC` does the calendar, leap years included), weekdays correct;
//   - 18 formats ("3 May 1998", "may 3, 1998", "Sunday, May 3 1998", "03/05/98", "1998-05-03",
//     "3rd of May 1998", "MAY 3 1998", …), drawn uniformly;
//   - numeric formats are DAY FIRST (03/05/98 is 3 May 1998, the European order) everywhere, so
//     every source has exactly one reading; year-first formats are year-month-day;
//   - two-digit years mean 1950–2049 (50–99 → 19xx, 00–49 → 20xx), so 2050 is never written with
//     two digits (a format with a two-digit year is redrawn for it);
//   - seeded with `Rng` from @attend/core: the same (n, seed) gives the same pairs everywhere.
import { ConfigError, Rng, assertInt } from '@attend/core/base';

/** A calendar date; `month` 1–12, `day` 1–31. */
export interface CalendarDate {
  year: number;
  month: number;
  day: number;
}

/** One source format. */
export interface DateFormat {
  /** A stable name: the pattern (D day, DD two-digit day, Do ordinal day, M/MM month number, MMM/MMMM month name, YY/YYYY year, ddd/dddd weekday), with its case. */
  name: string;
  pattern: string;
  case: 'title' | 'lower' | 'upper';
  /** Whether the pattern writes the year with two digits. */
  twoDigitYear: boolean;
}

/** The years covered: 1950–2050 inclusive. */
export const DATE_YEARS = Object.freeze({ first: 1950, last: 2050 });

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

const fmt = (pattern: string, c: DateFormat['case'] = 'title'): DateFormat => ({
  name: c === 'title' ? pattern : `${pattern} (${c})`,
  pattern,
  case: c,
  twoDigitYear: /(^|[^Y])YY([^Y]|$)/.test(pattern),
});

/** The formats, in a fixed order (examples for Sunday 3 May 1998). */
export const DATE_FORMATS: readonly DateFormat[] = Object.freeze([
  fmt('D MMMM YYYY'), //                 3 May 1998
  fmt('MMMM D, YYYY', 'lower'), //       may 3, 1998
  fmt('dddd, MMMM D YYYY'), //           Sunday, May 3 1998
  fmt('DD/MM/YY'), //                    03/05/98
  fmt('YYYY-MM-DD'), //                  1998-05-03
  fmt('Do of MMMM YYYY'), //             3rd of May 1998
  fmt('MMMM D YYYY', 'upper'), //        MAY 3 1998
  fmt('DD.MM.YYYY'), //                  03.05.1998
  fmt('D MMM YYYY'), //                  3 May 1998 (Sep, Oct, …)
  fmt('ddd, D MMM YYYY'), //             Sun, 3 May 1998
  fmt('MMMM Do, YYYY'), //               May 3rd, 1998
  fmt('D/M/YYYY'), //                    3/5/1998
  fmt('DD-MMM-YY'), //                   03-May-98
  fmt('the Do of MMMM, YYYY', 'lower'), // the 3rd of may, 1998
  fmt('dddd D MMMM YYYY', 'lower'), //   sunday 3 may 1998
  fmt('YYYY/MM/DD'), //                  1998/05/03
  fmt('MMM D, YY'), //                   May 3, 98
  fmt('D.M.YY'), //                      3.5.98
]);

const pad2 = (n: number) => String(n).padStart(2, '0');

/** 1st, 2nd, 3rd, 4th, …, 11th, 12th, 13th, …, 21st, 22nd, 23rd, …, 31st. */
function ordinal(n: number): string {
  const teen = n % 100 >= 11 && n % 100 <= 13;
  const suffix = teen ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th');
  return `${n}${suffix}`;
}

/** Throws a `ConfigError` unless `d` is a real calendar date. */
function checkDate(d: CalendarDate): void {
  const ok =
    Number.isInteger(d?.year) && Number.isInteger(d.month) && Number.isInteger(d.day) && d.month >= 1 && d.month <= 12 && d.day >= 1 &&
    d.day <= new Date(Date.UTC(d.year, d.month, 0)).getUTCDate();
  if (!ok) throw new ConfigError(`expected a calendar date { year, month: 1–12, day }, got ${JSON.stringify(d)}`);
}

/** `YYYY-MM-DD`. */
export function isoDate(d: CalendarDate): string {
  checkDate(d);
  return `${String(d.year).padStart(4, '0')}-${pad2(d.month)}-${pad2(d.day)}`;
}

const TOKEN = /YYYY|YY|MMMM|MMM|MM|M|Do|DD|D|dddd|ddd/g;

/** Writes `d` in `format` (a `DateFormat` or its name). */
export function formatDate(d: CalendarDate, format: DateFormat | string): string {
  checkDate(d);
  const f = typeof format === 'string' ? DATE_FORMATS.find((x) => x.name === format) : format;
  if (!f) throw new ConfigError(`formatDate: unknown format ${JSON.stringify(format)}; expected one of ${DATE_FORMATS.map((x) => x.name).join(', ')}`);
  if (f.twoDigitYear && (d.year < 1950 || d.year > 2049)) {
    throw new ConfigError(`formatDate: "${f.name}" writes two-digit years, which stand for 1950–2049; got ${d.year}`);
  }
  const weekday = WEEKDAYS[new Date(Date.UTC(d.year, d.month - 1, d.day)).getUTCDay()]!;
  const month = MONTHS[d.month - 1]!;
  const out = f.pattern.replace(TOKEN, (t) => {
    switch (t) {
      case 'YYYY': return String(d.year);
      case 'YY': return pad2(d.year % 100);
      case 'MMMM': return month;
      case 'MMM': return month.slice(0, 3);
      case 'MM': return pad2(d.month);
      case 'M': return String(d.month);
      case 'Do': return ordinal(d.day);
      case 'DD': return pad2(d.day);
      case 'D': return String(d.day);
      case 'dddd': return weekday;
      default: return weekday.slice(0, 3); // ddd
    }
  });
  return f.case === 'lower' ? out.toLowerCase() : f.case === 'upper' ? out.toUpperCase() : out;
}

/** One training pair: a human-written date and its ISO form. */
export interface DatePair {
  source: string;
  target: string;
  /** The name of the source's format. */
  format: string;
}

const DAY_MS = 86_400_000;

/**
 * `n` pairs of (human-written date, ISO date), deterministic in `seed`: dates uniform over
 * 1950-01-01 … 2050-12-31, formats uniform over `DATE_FORMATS`.
 */
export function generateDatePairs(n: number, seed = 0): DatePair[] {
  assertInt('generateDatePairs n', n, 0);
  assertInt('generateDatePairs seed', seed, 0);
  const rng = new Rng(seed);
  const first = Date.UTC(DATE_YEARS.first, 0, 1) / DAY_MS;
  const days = Date.UTC(DATE_YEARS.last, 11, 31) / DAY_MS - first + 1;
  const fourDigit = DATE_FORMATS.filter((f) => !f.twoDigitYear);
  const out: DatePair[] = [];
  for (let i = 0; i < n; i++) {
    const t = new Date((first + rng.int(days)) * DAY_MS);
    const d = { year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate() };
    let f = DATE_FORMATS[rng.int(DATE_FORMATS.length)]!;
    if (f.twoDigitYear && d.year > 2049) f = fourDigit[rng.int(fourDigit.length)]!;
    out.push({ source: formatDate(d, f), target: isoDate(d), format: f.name });
  }
  return out;
}
