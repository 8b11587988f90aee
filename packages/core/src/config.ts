// Config checking shared by every Attend class: `configure` merges a config over defaults with
// `withDefaults` (unknown keys are an error) and insists on required keys, so a missing `hidden`
// says so instead of silently defaulting; small typed assertions for enums and flags.
import { ConfigError, withDefaults } from './errors.js';

/** Merges `config` over `defaults`, requiring every key in `required`; unknown keys are an error. */
export function configure<T extends object>(
  what: string,
  defaults: Partial<T>,
  required: readonly (keyof T & string)[],
  config: Partial<T> | undefined,
): T {
  if (config === null || typeof config !== 'object') {
    throw new ConfigError(`${what}: expected a config object, got ${JSON.stringify(config)}`);
  }
  const template = { ...defaults } as T;
  for (const k of required) if (!(k in template)) (template as Record<string, unknown>)[k] = undefined;
  const extra = Object.keys(config)[0];
  if (Object.keys(template).length === 0 && extra !== undefined) {
    throw new ConfigError(`${what}: unknown option "${extra}"; it takes no options`);
  }
  const merged = withDefaults(what, template, config);
  for (const k of required) {
    if (merged[k] === undefined) throw new ConfigError(`${what}: option "${k}" is required`);
  }
  return merged;
}

/** Throws a `ConfigError` unless `value` is one of `choices`. */
export function assertChoice<C extends string>(name: string, value: unknown, choices: readonly C[]): asserts value is C {
  if (!(choices as readonly unknown[]).includes(value)) {
    throw new ConfigError(`${name}: expected one of ${choices.map((c) => `"${c}"`).join(', ')}, got ${JSON.stringify(value)}`);
  }
}

/** Throws a `ConfigError` unless `value` is a boolean. */
export function assertBool(name: string, value: unknown): asserts value is boolean {
  if (typeof value !== 'boolean') throw new ConfigError(`${name}: expected true or false, got ${JSON.stringify(value)}`);
}
