// The `--backend` flag shared by every command that runs a model: pick (or force) a backend and
// always print which one runs.
import { parseBackendName, type BackendSelection } from '@attend/core';
import { selectBackend } from '@attend/core/node';
import { UsageError } from '../args.js';

export const BACKEND_FLAG = { backend: { type: 'string' } } as const;
export const BACKEND_HELP = '  --backend NAME     tensorflow | webgpu | wasm | cpu (default: the fastest that loads; see `attend backends`)';

/** Activates the backend asked for (or the best available) and prints the choice on stderr. */
export async function useBackend(flag: unknown): Promise<BackendSelection> {
  let prefer;
  if (flag !== undefined) {
    try {
      prefer = parseBackendName(String(flag));
    } catch (err) {
      throw new UsageError(`--backend: ${(err as Error).message}`);
    }
  }
  return selectBackend({ prefer, log: (line) => console.error(line) });
}
