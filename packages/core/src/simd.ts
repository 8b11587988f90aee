// The Attend WebAssembly SIMD module (source ../assembly/*.ts, AssemblyScript; built by
// ../scripts/build-wasm.mjs into ./wasm/, bytes committed) and the threads that run it: in Node, one
// worker thread per extra core instantiates the same module on the same shared memory, and a kernel
// call is one job per thread (e.g. a slice of the rows), joined with Atomics — kernels stay
// synchronous, as tfjs kernels must be. Callers lay their tensors out in the memory (`layout`),
// `run` a job, and copy the results out. Unavailable (null, with the reason in `simdStatus()`)
// where WebAssembly SIMD or shared memory is missing, e.g. a browser page that is not cross-origin
// isolated; then callers keep their other path. Users: ./wasm-fast-paths.ts (BatchMatMul),
// @attend/recurrent's fused sequences and layers, @attend/transformer's GELU and LayerNorm.
import { BackendError, ConfigError } from './errors.js';
import { ATTEND_SIMD_RELAXED_WASM_BASE64 } from './wasm/attend-simd-relaxed-wasm.js';
import { ATTEND_SIMD_WASM_BASE64 } from './wasm/attend-simd-wasm.js';

/** The module's exports (pointer arguments are byte offsets; see ../assembly/). */
export interface SimdExports {
  gemm(C: number, ldc: number, A: number, lda: number, transA: number, B: number, ldb: number, M: number, K: number, N: number, panel: number, overwrite: number): void;
  packB(panel: number, B: number, ldb: number, K: number, N: number): void;
  gemmBatch(...args: number[]): void;
  sumRows(out: number, src: number, rows: number, n: number): void;
  linear(...args: number[]): void;
  transpose(out: number, inp: number, rows: number, cols: number): void;
  lstmForward(...args: number[]): void;
  lstmBackward(...args: number[]): void;
  weightGrad(...args: number[]): void;
  weightGradPacked(...args: number[]): void;
  gelu(out: number, x: number, n: number): void;
  geluGrad(dx: number, x: number, dy: number, n: number): void;
  adam(...args: number[]): void;
  layerNorm(...args: number[]): void;
  layerNormGrad(...args: number[]): void;
  gruForward(...args: number[]): void;
  gruBackward(...args: number[]): void;
  gruRAForward(...args: number[]): void;
  gruRABackward(...args: number[]): void;
  rnnForward(...args: number[]): void;
  rnnBackward(...args: number[]): void;
}
export type SimdJob = Exclude<keyof SimdExports, 'transpose' | 'packB' | 'sumRows'>;
const JOBS: readonly SimdJob[] = ['gemm', 'gemmBatch', 'linear', 'gelu', 'geluGrad', 'adam', 'layerNorm', 'layerNormGrad', 'lstmForward', 'lstmBackward', 'weightGrad', 'weightGradPacked', 'gruForward', 'gruBackward', 'gruRAForward', 'gruRABackward', 'rnnForward', 'rnnBackward'];

const PAGE = 65536;
/** Where our tensors start: the module's own static data (none today) stays below. */
const BASE = PAGE;
/** The most threads a caller may ask for (setSimdThreads, ATTEND_SIMD_THREADS). */
const MAX_THREADS = 64;
/** Per worker, Int32 slots in the control block: state, job, then up to 18 arguments. */
const SLOTS = 20;
const IDLE = 0;
const RUN = 1;
const DONE = 2;
const FAILED = 3;
const BUSY = 4;
/** How long a job may wait for its worker to pick it up before this thread takes it back (ms). */
const PICKUP_MS = 20_000;

// The worker: instantiate the module on the shared memory, then run jobs for the life of the process.
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, control, index, jobs } = workerData;
const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
const c = new Int32Array(control, index * ${SLOTS * 4}, ${SLOTS});
for (;;) {
  let state = Atomics.load(c, 0);
  while (state !== ${RUN}) {
    Atomics.wait(c, 0, state); // sleeps through idle and done until the next job (unref'd: never keeps the process alive)
    state = Atomics.load(c, 0);
  }
  if (Atomics.compareExchange(c, 0, ${RUN}, ${BUSY}) !== ${RUN}) continue; // taken back by the caller
  try {
    exports[jobs[c[1]]](...Array.from(c.subarray(2)));
    Atomics.store(c, 0, ${DONE});
  } catch (err) {
    Atomics.store(c, 0, ${FAILED});
  }
  Atomics.notify(c, 0);
}
`;

interface WorkerLike {
  unref(): void;
}
interface WorkerThreads {
  Worker: new (src: string, options: { eval: true; execArgv: string[]; workerData: unknown }) => WorkerLike;
}

/** The module, its shared memory and the worker threads; one per process, made on first use. */
export class SimdKernels {
  readonly exports: SimdExports;
  private readonly control: Int32Array;
  private workers: WorkerLike[] = [];
  private top = BASE;

  constructor(
    private readonly module: WebAssembly.Module,
    readonly memory: WebAssembly.Memory,
    private threads: number,
    /** Whether this is the relaxed-SIMD build (fused multiply–adds in the GEMM). */
    readonly relaxed = false,
  ) {
    this.exports = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as SimdExports;
    this.control = new Int32Array(new SharedArrayBuffer(MAX_THREADS * SLOTS * 4));
  }

  /** Threads a kernel may use (this one included). */
  get threadCount(): number {
    return this.threads;
  }

  setThreads(n: number): void {
    this.threads = n;
  }

  /** Starts laying out a call's tensors from the base; returns the allocator. */
  layout(): (floats: number) => number {
    this.top = BASE;
    return (floats) => {
      const at = this.top;
      this.top += Math.ceil((floats * 4) / 16) * 16;
      const need = Math.ceil(this.top / PAGE) - this.memory.buffer.byteLength / PAGE;
      if (need > 0) {
        try {
          this.memory.grow(need);
        } catch {
          throw new BackendError(
            `Attend SIMD kernels: this call needs ${Math.ceil(this.top / 2 ** 20)} MiB of WebAssembly memory, more than it can grow to here (${this.memory.buffer.byteLength / 2 ** 20} MiB now, 4096 at most): ` +
              `use a smaller batch or sequence length, or setFusedSequenceMode('composite') for the per-step path`,
          );
        }
      }
      return at;
    };
  }

  /** A float view of the memory (fresh: growing replaces the buffer). */
  f32(): Float32Array {
    return new Float32Array(this.memory.buffer);
  }

  /** Copies each array into its region (byte offset) of the memory. */
  write(pairs: [ArrayLike<number>, number][]): void {
    const m = this.f32();
    for (const [values, at] of pairs) m.set(values, at / 4);
  }

  /** Copies each region (byte offset) of the memory into its array (as many floats as it holds). */
  read(pairs: [Float32Array, number][]): void {
    const m = this.f32();
    for (const [out, at] of pairs) out.set(m.subarray(at / 4, at / 4 + out.length));
  }

  /**
   * [lo, hi) slices of 0 … n, one per thread but none smaller than `minSize` (at least one slice),
   * each a multiple of `step` long except the last: how a job's rows are split over the threads.
   */
  split(n: number, minSize: number, step = 1): [number, number][] {
    const parts = Math.max(1, Math.min(this.threads, Math.floor(n / minSize)));
    const size = Math.ceil(n / parts / step) * step;
    const out: [number, number][] = [];
    for (let lo = 0; lo < n; lo += size) out.push([lo, Math.min(n, lo + size)]);
    return out;
  }

  /** Runs `job` once per part: part 0 on this thread, the others on workers, and waits for all. */
  run(job: SimdJob, parts: number[][]): void {
    const n = parts.length;
    for (const p of parts) if (p.length > SLOTS - 2) throw new Error(`simd job ${job}: ${p.length} arguments, the control block holds ${SLOTS - 2}`);
    this.ensureWorkers(n - 1);
    for (let w = 1; w < n; w++) {
      const c = this.slot(w - 1);
      c.fill(0, 2);
      c.set(parts[w]!, 2);
      c[1] = JOBS.indexOf(job);
      Atomics.store(c, 0, RUN);
      Atomics.notify(c, 0);
    }
    let error: unknown;
    try {
      (this.exports[job] as (...args: number[]) => void)(...parts[0]!);
    } catch (err) {
      error = err;
    }
    let stuck = false;
    for (let w = 1; w < n; w++) {
      const c = this.slot(w - 1);
      const deadline = Date.now() + PICKUP_MS;
      for (let state = Atomics.load(c, 0); state === RUN || state === BUSY; state = Atomics.load(c, 0)) {
        if (state === RUN && Date.now() >= deadline && Atomics.compareExchange(c, 0, RUN, IDLE) === RUN) {
          // The worker never picked the job up (it did not start): run its part here instead.
          stuck = true;
          try {
            (this.exports[job] as (...args: number[]) => void)(...parts[w]!);
          } catch (err) {
            error ??= err;
          }
          break;
        }
        Atomics.wait(c, 0, state, state === RUN ? Math.max(1, deadline - Date.now()) : undefined);
      }
      if (Atomics.load(c, 0) === FAILED) error ??= new Error(`wasm SIMD job ${job} failed on worker ${w}`);
      Atomics.store(c, 0, IDLE);
    }
    if (stuck) {
      console.warn(`attend: a SIMD worker thread did not start within ${PICKUP_MS / 1000} s; running on this thread only from now on (ATTEND_SIMD_THREADS=1 skips the workers)`);
      this.threads = 1;
    }
    if (error) throw error;
  }

  /**
   * out = job(inputs…) elementwise (jobs taking (out, in…, n) byte offsets and a count): the inputs
   * laid out and the range split over the threads in whole f32x4 vectors.
   */
  elementwise(job: 'gelu' | 'geluGrad', inputs: ArrayLike<number>[], out: Float32Array): void {
    const n = out.length;
    const alloc = this.layout();
    const pOut = alloc(n);
    const pIn = inputs.map(() => alloc(n));
    this.write(inputs.map((x, i) => [x, pIn[i]!]));
    const n4 = Math.ceil(n / 4) * 4;
    this.run(job, this.split(n4, 65536, 4).map(([lo, hi]) => [pOut + lo * 4, ...pIn.map((p) => p + lo * 4), hi - lo]));
    this.read([[out, pOut]]);
  }

  private slot(w: number): Int32Array {
    return this.control.subarray(w * SLOTS, (w + 1) * SLOTS);
  }

  private ensureWorkers(n: number): void {
    if (this.workers.length >= n) return;
    const threads = workerThreads();
    if (!threads) throw new Error('worker threads are not available here');
    for (let index = this.workers.length; index < n; index++) {
      // execArgv []: the worker is plain JS and must not inherit the process's loaders (--import tsx,
      // a test runner's --require): their start-up may wait on this thread, which blocks in Atomics.wait.
      const worker = new threads.Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData: { module: this.module, memory: this.memory, control: this.control.buffer, index, jobs: JOBS } });
      worker.unref();
      this.workers.push(worker);
    }
  }
}

/** Node's `process` where there is one (read through globalThis: no import, so bundlers for the browser see nothing). */
const nodeProcess = () => (globalThis as { process?: { env?: Record<string, string | undefined>; getBuiltinModule?(id: string): unknown } }).process;

/** A Node built-in module (`node:os`, …), or undefined outside Node. */
const builtin = <T>(id: string): T | undefined => nodeProcess()?.getBuiltinModule?.(id) as T | undefined;

/** node:worker_threads when running in Node. */
function workerThreads(): WorkerThreads | undefined {
  return builtin<WorkerThreads>('node:worker_threads');
}

/** ATTEND_SIMD_THREADS if set (an integer 1 … 64), else one per core (at most 8); 1 without worker threads. */
function defaultThreads(): number {
  const env = nodeProcess()?.env?.ATTEND_SIMD_THREADS;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1 || n > MAX_THREADS) throw new ConfigError(`ATTEND_SIMD_THREADS: expected an integer from 1 to ${MAX_THREADS}, got ${JSON.stringify(env)}`);
    if (n > 1 && !workerThreads()) throw new ConfigError(`ATTEND_SIMD_THREADS=${n}: worker threads are not available here; use 1`);
    return n;
  }
  if (!workerThreads()) return 1;
  const os = builtin<{ availableParallelism?(): number }>('node:os');
  return Math.max(1, Math.min(8, os?.availableParallelism?.() ?? 1));
}

/** A float32's bits as an i32: how float scalars travel in the module's (i32) job arguments. */
export function f32Bits(x: number): number {
  return new Int32Array(Float32Array.of(x).buffer)[0]!;
}

let instance: SimdKernels | null | undefined;
let unavailableReason = '';

function decodeBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * The module to run: the relaxed-SIMD build (its GEMM tiles use fused multiply–adds, which plain
 * WebAssembly SIMD lacks: a 1024² product 54 → 65 GFLOP/s on 2 cores) where the runtime validates it — Node 22+
 * as is; Node 20's V8 has relaxed SIMD behind --experimental-wasm-relaxed-simd, which is switched on
 * here (V8 flags are process-wide; set before anything is compiled with it) — else the baseline.
 * ATTEND_SIMD_RELAXED=0 keeps the baseline (1 or unset: relaxed where it validates).
 */
function chooseModule(): { bytes: Uint8Array; relaxed: boolean } {
  const env = nodeProcess()?.env?.ATTEND_SIMD_RELAXED;
  if (env !== undefined && env !== '' && env !== '0' && env !== '1') throw new ConfigError(`ATTEND_SIMD_RELAXED: expected 0 or 1, got "${env}"`);
  if (env !== '0') {
    const relaxed = decodeBase64(ATTEND_SIMD_RELAXED_WASM_BASE64);
    const validates = () => WebAssembly.validate(relaxed as BufferSource);
    if (validates() || (enableRelaxedSimd(), validates())) return { bytes: relaxed, relaxed: true };
  }
  return { bytes: decodeBase64(ATTEND_SIMD_WASM_BASE64), relaxed: false };
}

/** Node 20: V8's relaxed-SIMD flag (process-wide); a no-op elsewhere or where the engine has no such flag. */
function enableRelaxedSimd(): void {
  try {
    builtin<{ setFlagsFromString(flags: string): void }>('node:v8')?.setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    // an engine without the flag: the baseline
  }
}

/** The SIMD kernels, or null (with `simdStatus()` saying why) where they cannot run. */
export function simdKernels(): SimdKernels | null {
  if (instance !== undefined) return instance;
  try {
    if (typeof SharedArrayBuffer === 'undefined') throw new Error('SharedArrayBuffer is not available (a browser page must be cross-origin isolated)');
    const { bytes, relaxed } = chooseModule();
    const module = new WebAssembly.Module(bytes as BufferSource);
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 65536, shared: true });
    instance = new SimdKernels(module, memory, defaultThreads(), relaxed);
  } catch (err) {
    unavailableReason = (err as Error).message;
    instance = null;
  }
  return instance;
}

/** Whether the SIMD kernels load here, how many threads they use and whether the relaxed-SIMD build runs, or why they do not load. */
export function simdStatus(): { available: boolean; threads: number; relaxed?: boolean; reason?: string } {
  const s = simdKernels();
  return s ? { available: true, threads: s.threadCount, relaxed: s.relaxed } : { available: false, threads: 0, reason: unavailableReason };
}

/** Sets how many threads the SIMD kernels use (1 = this thread only); returns the previous count. */
export function setSimdThreads(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > MAX_THREADS) throw new ConfigError(`setSimdThreads: expected an integer from 1 to ${MAX_THREADS}, got ${n}`);
  const s = simdKernels();
  if (!s) return 1;
  const before = s.threadCount;
  if (n > 1 && !workerThreads()) throw new ConfigError(`setSimdThreads(${n}): worker threads are not available here; use 1`);
  s.setThreads(n);
  return before;
}
