// `--config FILE`: a JSON object of flag values (keys as the flags are spelled, without `--`),
// under the flags given on the command line. Unknown keys are an error, as nanoGPT's configurator.
import { readFileSync } from 'node:fs';
import { UsageError, type Options, type Values } from '../args.js';

/** Merges the JSON in `file` under `values` (command-line flags win); checks keys and types against `options`. */
export function withConfigFile(values: Values, options: Options, file: unknown): Values {
  if (file === undefined) return values;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(String(file), 'utf8'));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UsageError(
      e.code === 'ENOENT' ? `--config: no such file ${String(file)}` : `--config: ${String(file)} is not valid JSON: ${e.message}`,
    );
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new UsageError(`--config: ${String(file)} must hold a JSON object of flag values, e.g. {"hidden": 512, "cell": "gru"}`);
  }
  const out: Values = {};
  for (const [key, v] of Object.entries(json)) {
    const opt = options[key];
    if (!opt || key === 'config') {
      throw new UsageError(`--config: unknown key "${key}" in ${String(file)}; known keys: ${Object.keys(options).filter((k) => k !== 'config').join(', ')}`);
    }
    if (opt.multiple) {
      if (!Array.isArray(v)) throw new UsageError(`--config: "${key}" must be a list in ${String(file)}`);
      out[key] = v.map(String);
    } else if (opt.type === 'boolean') {
      if (typeof v !== 'boolean') throw new UsageError(`--config: "${key}" must be true or false in ${String(file)}`);
      out[key] = v;
    } else {
      if (typeof v === 'object') throw new UsageError(`--config: "${key}" must be a string or number in ${String(file)}`);
      out[key] = String(v);
    }
  }
  for (const [k, v] of Object.entries(values)) if (v !== undefined) out[k] = v;
  return out;
}
