// Timing helpers shared by every benchmark: warm-ups, then the median of N timed runs, with the
// backend synchronised (dataSync on the result) so asynchronous GPU work is inside the timing.

export interface Timing {
  /** Median seconds per run. */
  median: number;
  /** Every timed run, in seconds. */
  runs: number[];
}

/** Runs `f` `warmup` times untimed, then `repeats` times timed; returns the median. */
export async function time(f: () => Promise<void> | void, repeats = 5, warmup = 2): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await f();
  const runs: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await f();
    runs.push((performance.now() - t0) / 1000);
  }
  return { median: median(runs), runs };
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of an empty list');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Formats a table of rows (first row = header) with columns padded to the widest cell. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, j) => Math.max(...rows.map((r) => (r[j] ?? '').length)));
  const line = (r: readonly string[]) => `| ${r.map((c, j) => c.padEnd(widths[j]!)).join(' | ')} |`;
  return [line(rows[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}

/** `x` as a ratio against `base`, e.g. `0.25×`. */
export function ratio(x: number, base: number | undefined): string {
  if (!base || !Number.isFinite(base)) return '–';
  const r = x / base;
  return `${r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(1) : r.toPrecision(2)}×`;
}
