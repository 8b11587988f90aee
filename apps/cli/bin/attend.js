#!/usr/bin/env node
// The `attend` binary: runs the built CLI (dist/) when present; in the workspace without a build it
// runs the TypeScript sources through tsx, with the `@attend/source` export condition so the
// @attend/* packages resolve to their src/ too.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const built = join(here, '..', 'dist', 'main.js');
if (existsSync(built)) {
  await import(pathToFileURL(built).href);
} else {
  const args = ['--conditions=@attend/source', '--import', 'tsx', join(here, '..', 'src', 'main.ts'), ...process.argv.slice(2)];
  const r = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: process.cwd() });
  process.exitCode = r.status ?? 1;
}
