// `attend setup tensorflow`: makes the `tensorflow` backend (@tensorflow/tfjs-node) available without
// any download, by compiling tfjs-node's native addon against the libtensorflow that ships inside a
// Python TensorFlow wheel (tensorflow or tensorflow-cpu ≥ 2.9: its C API is a superset of 2.9.1's).
// Steps (measured in shared/docs/BACKENDS.md): in the package's deps/lib link libtensorflow.so →
// libtensorflow_cc.so.2 and libtensorflow_framework.so(.2), add the marker libtensorflow.so.2.9.1
// (install.js then skips its download), link the wheel's include/ as deps/include, point node-gyp at
// the local Node headers, and run the package's own scripts/install.js: the prebuilt-addon download
// fails and node-pre-gyp falls back to compiling the binding (~20 s). Then Attend's own native ops
// (./tensorflow-native.ts), against the same wheel.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join, resolve } from 'node:path';
import { DataError } from './errors.js';
import { buildNativeOps } from './tensorflow-native.js';

export interface SetupTensorflowOptions {
  /** The Python whose `tensorflow` package provides libtensorflow. Default: `$ATTEND_TF_PYTHON`, then `python3`. */
  python?: string;
  /** Where progress lines go. Default: `console.error`. */
  log?: (line: string) => void;
  /** Where to resolve `@tensorflow/tfjs-node` from (a directory). Default: this package. */
  resolveFrom?: string;
}

export interface SetupTensorflowReport {
  python: string;
  tensorflowVersion: string;
  tensorflowDir: string;
  tfjsNodeDir: string;
  /** The addon that was built. */
  binding: string;
  /** Output of the verification run (a small matMul on the `tensorflow` backend). */
  check: string;
  /** Attend's native op library (../native/attend_ops.cc), when it compiled. */
  nativeOps?: string;
}

const PY_FIND_TF = `
import importlib.util, importlib.metadata, json, os
spec = importlib.util.find_spec('tensorflow')
if spec is None or not spec.submodule_search_locations:
    print(json.dumps(None))
else:
    v = None
    for d in ('tensorflow', 'tensorflow-cpu', 'tf-nightly', 'tensorflow-intel'):
        try:
            v = importlib.metadata.version(d); break
        except importlib.metadata.PackageNotFoundError:
            pass
    print(json.dumps({'dir': list(spec.submodule_search_locations)[0], 'version': v}))
`;

function link(target: string, path: string): void {
  if (existsSync(path) || isLink(path)) rmSync(path, { recursive: true, force: true });
  symlinkSync(target, path);
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** The built addon: lib/napi-vN/tfjs_binding.node for the highest N the package supports. */
function findBinding(pkgDir: string): string | undefined {
  const lib = join(pkgDir, 'lib');
  if (!existsSync(lib)) return undefined;
  const dirs = readdirSync(lib).filter((d) => /^napi-v\d+$/.test(d)).sort((a, b) => Number(b.slice(6)) - Number(a.slice(6)));
  return dirs.map((d) => join(lib, d, 'tfjs_binding.node')).find((p) => existsSync(p));
}

/** Builds tfjs-node's addon offline against a Python TensorFlow's libtensorflow and checks that it runs. */
export function setupTensorflow(options: SetupTensorflowOptions = {}): SetupTensorflowReport {
  const log = options.log ?? ((l: string) => console.error(l));
  const python = options.python ?? process.env.ATTEND_TF_PYTHON ?? 'python3';

  // 1. The Python TensorFlow.
  log(`setup tensorflow: looking for TensorFlow in ${python}`);
  const found = spawnSync(python, ['-c', PY_FIND_TF], { encoding: 'utf8' });
  if (found.error || found.status !== 0) {
    throw new DataError(
      `cannot run Python "${python}": ${found.error?.message ?? found.stderr.trim()}\n` +
        'Give one with --python PATH (a Python that has tensorflow or tensorflow-cpu installed).',
    );
  }
  const tf = JSON.parse(found.stdout.trim()) as { dir: string; version: string | null } | null;
  if (!tf) {
    throw new DataError(
      `no TensorFlow in ${python}: expected the tensorflow or tensorflow-cpu package.\n` +
        'Make one offline with: python3 -m venv .venv-tf && .venv-tf/bin/pip install tensorflow-cpu\n' +
        'then: attend setup tensorflow --python .venv-tf/bin/python',
    );
  }
  const libCc = join(tf.dir, 'libtensorflow_cc.so.2');
  const libFw = join(tf.dir, 'libtensorflow_framework.so.2');
  const include = join(tf.dir, 'include');
  for (const [what, p] of [
    ['libtensorflow_cc.so.2', libCc],
    ['libtensorflow_framework.so.2', libFw],
    ['C API headers', join(include, 'tensorflow', 'c', 'c_api.h')],
  ] as const) {
    if (!existsSync(p)) {
      throw new DataError(`TensorFlow ${tf.version ?? '?'} at ${tf.dir} has no ${what} (expected ${p}); Linux wheels of TensorFlow ≥ 2.9 have it.`);
    }
  }
  log(`setup tensorflow: found TensorFlow ${tf.version ?? '(unknown version)'} at ${tf.dir}`);

  // 2. The installed @tensorflow/tfjs-node package.
  const req = createRequire(join(options.resolveFrom ?? dirname(new URL(import.meta.url).pathname), 'x.js'));
  let pkgDir: string;
  try {
    pkgDir = dirname(req.resolve('@tensorflow/tfjs-node/package.json'));
  } catch {
    throw new DataError(
      '@tensorflow/tfjs-node is not installed. Add it without running its download script:\n' +
        '  pnpm add @tensorflow/tfjs-node --ignore-scripts   (or npm install --ignore-scripts)',
    );
  }
  log(`setup tensorflow: building ${pkgDir}`);

  // 3. deps/: the libraries under the names install.js and binding.gyp expect.
  const depsLib = join(pkgDir, 'deps', 'lib');
  mkdirSync(depsLib, { recursive: true });
  link(libCc, join(depsLib, 'libtensorflow_cc.so.2'));
  link(libCc, join(depsLib, 'libtensorflow.so'));
  link(libCc, join(depsLib, 'libtensorflow.so.2.9.1')); // the marker: install.js skips its download
  link(libFw, join(depsLib, 'libtensorflow_framework.so.2'));
  link(libFw, join(depsLib, 'libtensorflow_framework.so'));
  link(libFw, join(depsLib, 'libtensorflow_framework.so.2.9.1'));
  link(include, join(pkgDir, 'deps', 'include'));

  // 4. Compile through the package's own install script (node-pre-gyp falls back to node-gyp).
  const nodeDir = resolve(process.execPath, '..', '..');
  const env = {
    ...process.env,
    PATH: [join(pkgDir, 'node_modules', '.bin'), dirname(process.execPath), process.env.PATH ?? ''].join(delimiter),
    npm_config_nodedir: existsSync(join(nodeDir, 'include', 'node', 'node.h')) ? nodeDir : process.env.npm_config_nodedir,
  };
  const build = spawnSync(process.execPath, ['scripts/install.js'], { cwd: pkgDir, env, encoding: 'utf8' });
  const binding = findBinding(pkgDir);
  if (build.status !== 0 || binding === undefined) {
    const out = `${build.stdout ?? ''}${build.stderr ?? ''}`.trim().split('\n').slice(-25).join('\n');
    throw new DataError(
      `building the tfjs-node addon failed (exit ${build.status}); it needs g++, make and Node's headers (looked in ${nodeDir}/include/node).\n${out}`,
    );
  }
  log(`setup tensorflow: built ${binding}`);


  // 5. Check it in a fresh process: load the backend and multiply two matrices.
  const script =
    "const tf=require('@tensorflow/tfjs-node');" +
    "const y=tf.matMul(tf.tensor2d([[1,2],[3,4]]),tf.tensor2d([[5],[6]]));" +
    "console.log(tf.getBackend()+' '+JSON.stringify(y.arraySync()))";
  let check: string;
  try {
    check = execFileSync(process.execPath, ['-e', script], {
      cwd: pkgDir,
      encoding: 'utf8',
      env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim();
  } catch (err) {
    throw new DataError(`the addon was built but does not load: ${(err as { stderr?: string }).stderr ?? String(err)}`);
  }
  if (check !== 'tensorflow [[17],[39]]') throw new DataError(`the tensorflow backend computed a wrong result: ${check}`);
  log(`setup tensorflow: ok (${check}); readlink libtensorflow.so → ${readlinkSync(join(depsLib, 'libtensorflow.so'))}`);

  // 6. Attend's native ops (optional: without them the layers keep their TensorFlow-op paths).
  let nativeOps: string | undefined;
  try {
    nativeOps = buildNativeOps({ tfjsNodeDir: pkgDir, tensorflowDir: tf.dir, python, log });
  } catch (err) {
    log(`setup tensorflow: Attend native ops not built, the layers use TensorFlow ops instead: ${(err as Error).message}`);
  }
  return { python, tensorflowVersion: tf.version ?? 'unknown', tensorflowDir: tf.dir, tfjsNodeDir: pkgDir, binding, check, nativeOps };
}
