// Runs a PyTorch baseline script (apps/bench/python/*.py) in the same benchmark run: the Python is
// `--python`, else ATTEND_BENCH_PYTHON, else python3; no torch (or no CUDA for `--device cuda`) is a
// skip reason, never an error. The scripts print one JSON line last.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the PyTorch baseline runs. */
export type TorchDevice = 'cpu' | 'cuda';
export const TORCH_DEVICES: readonly TorchDevice[] = ['cpu', 'cuda'];

/**
 * `apps/bench/python/<name>` from the sources (src/../python), or `python/<name>` beside a bundled
 * entry (the GPU bundle, apps/bench/gpu/pack.sh).
 */
export function pythonScript(name: string): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, '..', 'python', name), join(here, 'python', name)];
  return candidates.find((p) => existsSync(p)) ?? candidates[0]!;
}

/** Runs `script` with `args` (plus `--device`); the parsed JSON line, or why it was skipped (one line). */
export function runPytorch<T>(script: string, args: string[], o: { python?: string; device: TorchDevice }): T | string {
  const python = o.python ?? process.env.ATTEND_BENCH_PYTHON ?? 'python3';
  const probeCode = o.device === 'cuda' ? 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 3)' : 'import torch';
  const probe = spawnSync(python, ['-c', probeCode], { encoding: 'utf8' });
  if (probe.status === 3) return `torch in ${python} sees no CUDA device (--device cuda)`;
  if (probe.error || probe.status !== 0) return `no torch in ${python} (set ATTEND_BENCH_PYTHON to a Python with torch)`;
  const r = spawnSync(python, [pythonScript(script), ...args, '--device', o.device], { encoding: 'utf8' });
  if (r.status !== 0) return `the PyTorch baseline failed: ${(r.stderr || r.stdout).trim().split('\n').at(-1)}`;
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as T;
}
