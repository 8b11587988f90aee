// Flag parsing for the CLI on top of node:util's parseArgs (strict: unknown flags are errors),
// plus typed readers that turn bad values into messages naming the flag, the value and what is expected.
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A mistake on the command line: printed with the command's usage, exit code 2. */
export class UsageError extends Error {}

export type Options = NonNullable<ParseArgsConfig['options']>;

/** Parses `argv` against `options`; unknown flags and missing values become a `UsageError` with `help` appended. */
export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

export function parse(
  argv: string[],
  options: Options,
  help: string,
  allowPositionals = false,
): { values: Values; positionals: string[] } {
  try {
    return parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' }, ...options }, strict: true, allowPositionals });
  } catch (err) {
    throw new UsageError(`${(err as Error).message.replace(/\. To specify a positional.*$/s, '')}\n\n${help}`);
  }
}

/** Reads an integer flag ≥ min. */
export function intFlag(name: string, value: unknown, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name}: expected an integer ≥ ${min}, got "${String(value)}"`);
  return n;
}

/** Reads a number flag in [min, max]. */
export function numFlag(name: string, value: unknown, fallback: number, min = -Infinity, max = Infinity): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max || String(value).trim() === '') {
    throw new UsageError(`--${name}: expected a number in [${min}, ${max}], got "${String(value)}"`);
  }
  return n;
}

/** Reads a flag that must be one of `choices`. */
export function choiceFlag<T extends string>(name: string, value: unknown, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!(choices as readonly string[]).includes(String(value))) {
    throw new UsageError(`--${name}: expected one of ${choices.join(', ')}, got "${String(value)}"`);
  }
  return value as T;
}

/** Parses a duration like `90s`, `10m`, `1h` or a bare number of seconds into seconds. */
export function durationFlag(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(String(value).trim());
  if (!m) throw new UsageError(`--${name}: expected a duration like 90s, 10m or 1h, got "${String(value)}"`);
  const k = m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1;
  const s = Number(m[1]) * k;
  if (s <= 0) throw new UsageError(`--${name}: expected a positive duration, got "${String(value)}"`);
  return s;
}
