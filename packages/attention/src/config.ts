// Config merging for the attention layers (the same habit as @attend/recurrent's config.ts):
// `withDefaults` from @attend/core (unknown keys are an error) plus required keys, so a missing
// `queryDim` says so instead of silently defaulting.
import { ConfigError, withDefaults } from '@attend/core';

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
  const extra = Object.keys(config)[0];
  if (Object.keys(template).length === 0 && required.length === 0 && extra !== undefined) {
    throw new ConfigError(`${what}: unknown option "${extra}"; it takes no options`);
  }
  for (const k of required) if (!(k in template)) (template as Record<string, unknown>)[k] = undefined;
  const merged = withDefaults(what, template, config);
  for (const k of required) {
    if (merged[k] === undefined) throw new ConfigError(`${what}: option "${k}" is required`);
  }
  return merged;
}
