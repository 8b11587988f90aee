// Runs the CLI in a child process from source (as `pnpm attend` does), on the cpu backend.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const CLI_DIR = resolve(import.meta.dirname, '..');
const ARGS = ['--conditions=@attend/source', '--import', 'tsx', join(CLI_DIR, 'src', 'main.ts')];

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `attend …args` to completion. */
export function attend(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): CliResult {
  const r = spawnSync(process.execPath, [...ARGS, ...args], {
    cwd: opts.cwd ?? CLI_DIR,
    encoding: 'utf8',
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3', ...opts.env },
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts `attend …args` and resolves once `ready` matches stderr; returns the child. */
export function attendAsync(args: string[], opts: { cwd?: string } = {}) {
  return spawn(process.execPath, [...ARGS, ...args], { cwd: opts.cwd ?? CLI_DIR, env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' } });
}

export const tempDir = (name: string) => mkdtempSync(join(tmpdir(), `attend-${name}-`));

/** A tiny model so each CLI training run takes a second or two on the cpu backend. */
export const TINY = ['--backend', 'cpu', '--hidden', '16', '--embed', '8', '--layers', '1', '--seq-len', '16', '--batch', '4', '--eval-every', '3', '--eval-batches', '2', '--sample-at', '3', '--sample-length', '20'];

/** Deterministic text of about `n` characters (generated here, no corpus committed). */
export function generatedText(n: number): string {
  const words = ['the', 'sea', 'whale', 'ship', 'and', 'of', 'a', 'to', 'in', 'call', 'me', 'captain', 'white', 'deep'];
  let s = '';
  let x = 7;
  while (s.length < n) {
    x = (x * 1103515245 + 12345) % 2147483648;
    s += words[x % words.length] + ((x >> 8) % 9 === 0 ? '.\n' : ' ');
  }
  return s;
}
