// Typed errors for Attend. Every message says what was expected, what was found,
// and what the user can do about it (see STYLE.md, "Our own habits").

/** Base class: every error Attend throws on purpose is an `AttendError`. */
export class AttendError extends Error {
  /** A short machine-readable code, e.g. `CONFIG`, `SHAPE`, `DATA`, `BACKEND`. */
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A configuration value is missing, of the wrong type, or out of range. */
export class ConfigError extends AttendError {
  constructor(message: string) {
    super('CONFIG', message);
  }
}

/** A tensor has the wrong rank, shape or dtype. */
export class ShapeError extends AttendError {
  constructor(message: string) {
    super('SHAPE', message);
  }
}

/** Input data (a corpus, a pairs file, a checkpoint) is missing, empty or malformed. */
export class DataError extends AttendError {
  constructor(message: string) {
    super('DATA', message);
  }
}

/** A requested TensorFlow.js backend could not be loaded or initialised. */
export class BackendError extends AttendError {
  constructor(message: string) {
    super('BACKEND', message);
  }
}

/** Throws a `ShapeError` unless `actual` equals `expected` (`-1`/`null` in `expected` matches any size). */
export function assertShape(
  name: string,
  actual: readonly number[],
  expected: readonly (number | null)[],
): void {
  const ok =
    actual.length === expected.length &&
    expected.every((e, i) => e === null || e === -1 || e === actual[i]);
  if (!ok) {
    const fmt = (s: readonly (number | null)[]) => `[${s.map((d) => (d === null || d === -1 ? '?' : d)).join(', ')}]`;
    throw new ShapeError(`${name}: expected shape ${fmt(expected)}, got ${fmt(actual)}`);
  }
}

/** Throws a `ConfigError` unless `value` is an integer ≥ `min`. */
export function assertInt(name: string, value: unknown, min = 1): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new ConfigError(`${name}: expected an integer ≥ ${min}, got ${JSON.stringify(value)}`);
  }
}

/** Throws a `ConfigError` unless `value` is a finite number in `[min, max]`. */
export function assertNumber(name: string, value: unknown, min = -Infinity, max = Infinity): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    const range = `${min === -Infinity ? '(-∞' : `[${min}`}, ${max === Infinity ? '∞)' : `${max}]`}`;
    throw new ConfigError(`${name}: expected a number in ${range}, got ${JSON.stringify(value)}`);
  }
}

/**
 * Merges `config` over `defaults`, rejecting unknown keys loudly (nanoGPT's configurator habit):
 * a typo in a config file must not silently fall back to a default.
 */
export function withDefaults<T extends object>(what: string, defaults: T, config: Partial<T> = {}): T {
  for (const key of Object.keys(config)) {
    if (!(key in defaults)) {
      throw new ConfigError(
        `${what}: unknown option "${key}"; known options are ${Object.keys(defaults).join(', ')}`,
      );
    }
  }
  const out = { ...defaults } as T;
  for (const [k, v] of Object.entries(config)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
