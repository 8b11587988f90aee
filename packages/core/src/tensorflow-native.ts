// Attend's native TensorFlow ops (../native/attend_ops.cc, a TensorFlow custom-op library): built by
// `attend setup tensorflow` right after tfjs-node's addon, against the same Python TensorFlow wheel,
// into tfjs-node's deps/attend/, and loaded into the process with process.dlopen when the tensorflow
// backend starts. Its file name carries a hash of the source and of the TensorFlow it was built
// against: after an upgrade of @attend/core, or a setup against another TensorFlow, a stale library
// is not loaded, and the backend's detail line says to rerun the setup. Optional throughout: without the library every
// layer keeps its TensorFlow-op path. Node only.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { markTensorflowNativeOpsLoaded } from './tensorflow-ops.js';

/** The C++ source, shipped in the package (`native/`). */
export const NATIVE_OPS_SOURCE = fileURLToPath(new URL('../native/attend_ops.cc', import.meta.url));

/**
 * Where the library lives inside tfjs-node's package directory: named after a hash of the source and
 * of the libtensorflow_framework tfjs-node links (the wheel `attend setup tensorflow` pointed it at),
 * so that neither a new source nor a tfjs-node rebuilt against another TensorFlow finds an old build.
 */
export function nativeOpsFile(tfjsNodeDir: string): string {
  let against = '';
  try {
    against = realpathSync(join(tfjsNodeDir, 'deps', 'lib', 'libtensorflow_framework.so.2'));
  } catch {
    // no such link (yet): the source alone
  }
  const hash = createHash('sha256').update(readFileSync(NATIVE_OPS_SOURCE)).update(against).digest('hex').slice(0, 12);
  return join(tfjsNodeDir, 'deps', 'attend', `attend_ops-${hash}.node`);
}

/**
 * Loads the library built for tfjs-node at `tfjsNodeDir` (call after tfjs-node is imported) and
 * turns the native paths on. Returns a one-line status for the backend's detail: never throws.
 */
export function loadNativeOps(tfjsNodeDir: string): string {
  if (process.env.ATTEND_TF_NATIVE_OPS === '0') return 'Attend native ops off (ATTEND_TF_NATIVE_OPS=0)';
  let file: string;
  try {
    file = nativeOpsFile(tfjsNodeDir);
  } catch (err) {
    return `Attend native ops unavailable (${(err as Error).message})`;
  }
  if (!existsSync(file)) {
    const stale = existsSync(join(tfjsNodeDir, 'deps', 'attend'));
    return `Attend native ops ${stale ? 'out of date' : 'not built'}: run \`attend setup tensorflow\``;
  }
  try {
    process.dlopen({ exports: {} } as NodeJS.Module, file);
  } catch (err) {
    return `Attend native ops failed to load (${(err as Error).message.split('\n')[0]}): run \`attend setup tensorflow\``;
  }
  markTensorflowNativeOpsLoaded(true);
  return 'Attend native ops';
}

export interface BuildNativeOpsOptions {
  /** tfjs-node's package directory (the library goes to its deps/attend/). */
  tfjsNodeDir: string;
  /** The Python TensorFlow's package directory (headers in include/, libtensorflow_framework.so.2). */
  tensorflowDir: string;
  /** That Python, for tf.sysconfig's compile flags. */
  python: string;
  /** The C++ compiler. Default: `$CXX`, then g++. */
  cxx?: string;
  log: (line: string) => void;
}

const PY_FLAGS = `
import json, os
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
import tensorflow as tf
print(json.dumps([tf.sysconfig.get_compile_flags(), tf.sysconfig.get_link_flags()]))
`;

/**
 * Compiles ../native/attend_ops.cc for this machine (-O3 -march=native) into `nativeOpsFile`,
 * atomically (a temporary file renamed into place). Returns the library's path. Throws with the
 * compiler's last lines when it fails.
 */
export function buildNativeOps(options: BuildNativeOpsOptions): string {
  const { tfjsNodeDir, tensorflowDir, python, log } = options;
  const cxx = options.cxx ?? process.env.CXX ?? 'g++';
  const out = nativeOpsFile(tfjsNodeDir);
  if (existsSync(out)) {
    log(`setup tensorflow: Attend native ops already built (${out})`);
    return out;
  }
  // tf.sysconfig's flags (the wheel's C++ ABI and Eigen alignment); these defaults are TensorFlow ≥ 2.9's.
  let compile = [`-I${join(tensorflowDir, 'include')}`, '-D_GLIBCXX_USE_CXX11_ABI=1', '--std=c++17', '-DEIGEN_MAX_ALIGN_BYTES=64'];
  let link = [`-L${tensorflowDir}`, '-l:libtensorflow_framework.so.2'];
  const flags = spawnSync(python, ['-c', PY_FLAGS], { encoding: 'utf8' });
  if (flags.status === 0) {
    try {
      [compile, link] = JSON.parse(flags.stdout.trim().split('\n').pop()!) as [string[], string[]];
    } catch {
      log('setup tensorflow: could not read tf.sysconfig flags; using the defaults');
    }
  }
  const dir = dirname(out);
  rmSync(dir, { recursive: true, force: true }); // libraries of older sources
  mkdirSync(dir, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  const base = ['-O3', '-shared', '-fPIC', '-w', ...compile, NATIVE_OPS_SOURCE, '-o', tmp, ...link, `-Wl,-rpath,${tensorflowDir}`];
  // -march=native: built where it runs. AVX-512 FP16 is left out (Eigen's FP16 packets do not compile
  // with GCC 12); a compiler without these flags gets a plain build.
  const tries = process.arch === 'x64' ? [['-march=native', '-mno-avx512fp16'], ['-march=native'], []] : [['-mcpu=native'], []];
  log(`setup tensorflow: compiling Attend native ops (${cxx}, under a minute)`);
  let last = '';
  for (const arch of tries) {
    const r = spawnSync(cxx, [...arch, ...base], { encoding: 'utf8' });
    if (r.status === 0 && existsSync(tmp)) {
      renameSync(tmp, out);
      log(`setup tensorflow: built ${out}`);
      return out;
    }
    last = r.error ? r.error.message : `${r.stdout}${r.stderr}`.trim().split('\n').slice(-10).join('\n');
  }
  rmSync(tmp, { force: true });
  throw new Error(`compiling ${NATIVE_OPS_SOURCE} failed:\n${last}`);
}
