// Backend selection, browser-safe part: the candidate machinery and the candidates a browser has
// (WebGPU through `navigator.gpu`, WASM, plain JS). The Node candidates (tfjs-node, tfjs-node-gpu,
// WebGPU through Dawn) live in `./node.ts`, behind the package's `./node` export.
// Libraries never call this; apps do, once, before building models.
import * as tf from '@tensorflow/tfjs-core';
import './gradients.js';
import { BackendError } from './errors.js';
import { registerWasmGapKernels } from './wasm-kernels.js';
import { simdStatus } from './simd.js';

/** The names a user can ask for. `tensorflow` is tfjs-node or tfjs-node-gpu (libtensorflow). */
export type BackendName = 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
export const BACKEND_NAMES: readonly BackendName[] = ['tensorflow', 'webgpu', 'wasm', 'cpu'];

/** One way to get a backend: `load` makes it the active tfjs backend and returns details, or throws why not. */
export interface BackendCandidate {
  /** The tfjs backend name it provides. */
  name: BackendName;
  /** What it is, for people: e.g. `tensorflow (@tensorflow/tfjs-node-gpu)`. */
  label: string;
  /** Loads and activates it; resolves to a one-line detail (e.g. `SIMD, 1 thread`). Throws with the reason it cannot. */
  load(): Promise<string>;
}

/** What `selectBackend` chose, and why the candidates before it were passed over. */
export interface BackendSelection {
  name: BackendName;
  label: string;
  detail: string;
  /** Candidates tried before the chosen one (or all of them, on failure) with the reason each was skipped. */
  skipped: { label: string; reason: string }[];
  /** True when the user forced this backend. */
  forced: boolean;
}

export interface SelectBackendOptions {
  /** Force one backend. Failing to load it is an error, never a silent fallback. */
  prefer?: BackendName;
  /** Where to write the report lines; `false` for silence. Default: `console.error`. */
  log?: ((line: string) => void) | false;
}

/** Why a candidate failed, in one line (no multi-kilobyte Emscripten dumps). */
export function reasonOf(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const line = msg.split('\n').find((l) => l.trim() !== '') ?? msg;
  return line.length > 240 ? `${line.slice(0, 237)}...` : line;
}

/** Activates `name` in tfjs and checks that it really is the active backend. */
export async function activate(name: string): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) {
    throw new Error(`tf.setBackend('${name}') failed to initialise the backend`);
  }
  await tf.ready();
}

/** Checks that `name` is a backend name, with a message that lists the valid ones. */
export function parseBackendName(name: string): BackendName {
  if ((BACKEND_NAMES as readonly string[]).includes(name)) return name as BackendName;
  throw new BackendError(`unknown backend "${name}": expected one of ${BACKEND_NAMES.join(', ')}`);
}

/**
 * Tries `candidates` in order (only those named `prefer`, when given) and returns the first that loads.
 * Logs the choice and the skipped ones. Throws `BackendError` if none loads.
 */
export async function selectFrom(
  candidates: readonly BackendCandidate[],
  options: SelectBackendOptions = {},
): Promise<BackendSelection> {
  const log = options.log === false ? () => {} : (options.log ?? ((l: string) => console.error(l)));
  const forced = options.prefer !== undefined;
  if (forced) parseBackendName(options.prefer!);
  const tryThese = forced ? candidates.filter((c) => c.name === options.prefer) : candidates;
  const skipped: BackendSelection['skipped'] = [];
  for (const c of tryThese) {
    try {
      const detail = await c.load();
      const sel: BackendSelection = { name: c.name, label: c.label, detail, skipped, forced };
      for (const s of skipped) log(`backend: skipped ${s.label}: ${s.reason}`);
      log(`backend: ${c.label}${detail ? ` [${detail}]` : ''}${forced ? ' (forced)' : ''}`);
      return sel;
    } catch (err) {
      skipped.push({ label: c.label, reason: reasonOf(err) });
    }
  }
  const why = skipped.map((s) => `  - ${s.label}: ${s.reason}`).join('\n');
  if (forced) {
    throw new BackendError(
      `backend "${options.prefer}" was requested but cannot be loaded:\n${why || '  - no such backend here'}\n` +
        `Choose another with --backend (${BACKEND_NAMES.join(', ')}) or leave it out to pick automatically.`,
    );
  }
  throw new BackendError(`no TensorFlow.js backend could be loaded:\n${why}`);
}

/** The WASM backend (SIMD where the runtime has it; threads where they work — not under Node). */
export const wasmCandidate: BackendCandidate = {
  name: 'wasm',
  label: 'wasm (@tensorflow/tfjs-backend-wasm)',
  async load() {
    await import('@tensorflow/tfjs-backend-wasm');
    await activate('wasm');
    registerWasmGapKernels();
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    return `${simd ? 'SIMD' : 'no SIMD'}, ${threads ? 'multi-threaded' : '1 thread'}; ${simdDetail()}`;
  },
};

/** What Attend's own SIMD module adds here (./simd.ts): its threads, or why it does not run. */
export function simdDetail(): string {
  const s = simdStatus();
  return s.available ? `Attend SIMD kernels on ${s.threads} thread${s.threads > 1 ? 's' : ''}${s.relaxed ? ', relaxed SIMD (FMA)' : ''}` : `no Attend SIMD kernels (${s.reason})`;
}

/** The pure-JS backend: always works, ~50× slower than wasm. */
export const cpuCandidate: BackendCandidate = {
  name: 'cpu',
  label: 'cpu (@tensorflow/tfjs-backend-cpu, pure JS)',
  async load() {
    await import('@tensorflow/tfjs-backend-cpu');
    await activate('cpu');
    // The cpu backend prints a "Hi, looks like you are running TensorFlow.js in Node.js" banner on
    // first use; our own report already says which backend runs and what the faster options are.
    (tf.backend() as { firstUse?: boolean }).firstUse = false;
    return `slow: for tests and small models; ${simdDetail()} (the recurrent layers)`;
  },
};

/** WebGPU in a browser, through `navigator.gpu`. */
export const browserWebgpuCandidate: BackendCandidate = {
  name: 'webgpu',
  label: 'webgpu (@tensorflow/tfjs-backend-webgpu)',
  async load() {
    const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<unknown> } } }).navigator?.gpu;
    if (!gpu) throw new Error('navigator.gpu is not available in this browser');
    const adapter = await gpu.requestAdapter();
    if (!adapter) throw new Error('no WebGPU adapter');
    await import('@tensorflow/tfjs-backend-webgpu');
    await activate('webgpu');
    return '';
  },
};

/** Picks a backend in a browser: WebGPU, then WASM, then plain JS. In Node use `@attend/core/node`. */
export function selectBackend(options: SelectBackendOptions = {}): Promise<BackendSelection> {
  return selectFrom([browserWebgpuCandidate, wasmCandidate, cpuCandidate], options);
}
