// Backend selection in Node.js (the package's `./node` export). Order, best first:
//   1. tensorflow via @tensorflow/tfjs-node-gpu (libtensorflow + CUDA 11.2; optional)
//   2. webgpu via the `webgpu` package (Dawn over Vulkan), only with a real GPU adapter (or, for tests,
//      a software one with ATTEND_WEBGPU_ALLOW_SOFTWARE=1: see dawnWebgpuCandidate)
//   3. tensorflow via @tensorflow/tfjs-node (libtensorflow on CPU; optional, see `attend setup tensorflow`)
//   4. wasm (SIMD; tfjs disables wasm threads under Node, tfjs issue 3830)
//   5. cpu (pure JS)
// The tfjs-node packages are optional: absent or failing to load is normal and only logged.
import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { BackendError } from './errors.js';
import { loadNativeOps } from './tensorflow-native.js';
import {
  activate,
  cpuCandidate,
  selectFrom,
  wasmCandidate,
  type BackendCandidate,
  type BackendName,
  type BackendSelection,
  type SelectBackendOptions,
  reasonOf,
} from './backend.js';

// Import through a variable so bundlers and tsc do not insist the optional packages exist.
const importOptional = (spec: string): Promise<unknown> => import(spec);

function tfjsNodeCandidate(pkg: '@tensorflow/tfjs-node' | '@tensorflow/tfjs-node-gpu'): BackendCandidate {
  return {
    name: 'tensorflow',
    label: `tensorflow (${pkg})`,
    async load() {
      process.env.TF_CPP_MIN_LOG_LEVEL ??= '2'; // keep libtensorflow's start-up chatter off stderr
      try {
        await importOptional(pkg);
      } catch (err) {
        const msg = reasonOf(err);
        if (/Cannot find (package|module) '@tensorflow\/tfjs-node|Could not resolve "@tensorflow\/tfjs-node/.test(msg)) throw new Error('not installed');
        if (/tfjs_binding|native addon/i.test(msg)) {
          throw new Error(
            pkg === '@tensorflow/tfjs-node'
              ? 'installed, but its native addon is not built: run `attend setup tensorflow`'
              : 'installed, but its native addon is not built (it downloads libtensorflow for CUDA 11.2 at install time)',
          );
        }
        throw new Error(msg);
      }
      await activate('tensorflow');
      if (pkg.endsWith('-gpu')) return 'libtensorflow, CUDA';
      // Attend's native ops are built against the CPU wheel tfjs-node was built against (attend setup tensorflow).
      return `libtensorflow, CPU; ${loadNativeOps(dirname(createRequire(import.meta.url).resolve(`${pkg}/package.json`)))}`;
    },
  };
}

/** Whether the dynamic linker can find `name` (LD_LIBRARY_PATH, then the usual Debian/RHEL library dirs). */
function hasSharedLibrary(name: string): boolean {
  const dirs = [
    ...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu',
    '/usr/lib64', '/usr/lib', '/lib64', '/lib', '/usr/local/lib',
  ];
  return dirs.some((d) => existsSync(join(d, name)));
}

interface GpuAdapterLike {
  isFallbackAdapter?: boolean;
  info?: { vendor?: string; architecture?: string; description?: string; device?: string };
}

type DawnGpu = { requestAdapter(o?: object): Promise<GpuAdapterLike | null> };

/**
 * Testing only: the software WebGPU that Dawn can reach on a machine without a GPU. Debian 12's
 * lavapipe (Mesa 22.3) is rejected by Dawn's Vulkan backend ("shaderUniform*ArrayDynamicIndexing
 * required"), but Dawn's OpenGL backend runs on Mesa's llvmpipe through a surfaceless EGL display
 * (needs libegl-mesa0 and libgl1-mesa-dri) as a compatibility-mode adapter. tfjs asks for a core
 * adapter, so requestAdapter is wrapped to ask for compatibility mode, and requestDevice to ask for
 * the adapter's storage-buffer limit (compatibility mode's default is 4; fused kernels bind more).
 */
async function softwareGpu(mod: { create(flags: string[]): DawnGpu }): Promise<{ gpu: DawnGpu; adapter: GpuAdapterLike | null }> {
  process.env.EGL_PLATFORM ??= 'surfaceless';
  const raw = mod.create(['backend=opengl']);
  type Adapter = GpuAdapterLike & { limits: Record<string, number>; requestDevice(d?: { requiredLimits?: Record<string, number> }): Promise<unknown> };
  const wrap = (a: Adapter | null): Adapter | null => {
    if (!a) return a;
    const requestDevice = a.requestDevice.bind(a);
    const maxStorage = a.limits.maxStorageBuffersPerShaderStage;
    a.requestDevice = (d = {}) =>
      requestDevice({ ...d, requiredLimits: { ...(d.requiredLimits ?? {}), ...(maxStorage ? { maxStorageBuffersPerShaderStage: maxStorage } : {}) } });
    return a;
  };
  const gpu = new Proxy(raw, {
    get(target, prop) {
      if (prop === 'requestAdapter') return async (o: object = {}) => wrap((await target.requestAdapter({ ...o, featureLevel: 'compatibility' })) as Adapter | null);
      const value = Reflect.get(target, prop) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { gpu, adapter: await gpu.requestAdapter() };
}

/**
 * WebGPU in Node through Dawn (`webgpu` package). Skipped unless a real (non-software) GPU adapter
 * exists — except with ATTEND_WEBGPU_ALLOW_SOFTWARE=1 (for tests of WebGPU kernels on machines
 * without a GPU): then a software adapter is accepted, and when Dawn finds no Vulkan adapter it
 * tries its OpenGL backend on Mesa's llvmpipe (`softwareGpu` above). Slow; never for real work.
 */
let webgpuDetail: string | undefined;

export const dawnWebgpuCandidate: BackendCandidate = {
  name: 'webgpu',
  label: 'webgpu (webgpu package: Dawn over Vulkan)',
  async load() {
    // Loaded before in this process: switch back to it (each Dawn instance holds a device and its threads).
    if (webgpuDetail !== undefined && tf.findBackend('webgpu')) {
      await activate('webgpu');
      return webgpuDetail;
    }
    const allowSoftware = process.env.ATTEND_WEBGPU_ALLOW_SOFTWARE === '1';
    if (process.platform === 'linux' && !allowSoftware && !hasSharedLibrary('libvulkan.so.1')) {
      throw new Error('libvulkan.so.1 not found (install libvulkan1 and a GPU driver with Vulkan support)');
    }
    let mod: { create(flags: string[]): DawnGpu; globals: object };
    try {
      mod = (await importOptional('webgpu')) as typeof mod;
    } catch (err) {
      throw new Error(`the webgpu package does not load: ${reasonOf(err)}`);
    }
    let gpu = mod.create([]);
    let adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter && allowSoftware) ({ gpu, adapter } = await softwareGpu(mod));
    if (!adapter) {
      throw new Error(
        `no GPU adapter found (needs a Vulkan GPU driver${allowSoftware ? '; with ATTEND_WEBGPU_ALLOW_SOFTWARE=1, also none from Mesa llvmpipe through EGL' : ''})`,
      );
    }
    const info = adapter.info ?? {};
    const name = [info.vendor, info.architecture, info.description, info.device].filter(Boolean).join(' ');
    const software = adapter.isFallbackAdapter || /swiftshader|llvmpipe|lavapipe|software/i.test(name);
    if (software && !allowSoftware) {
      throw new Error(`only a software adapter is available (${name || 'fallback'}; ATTEND_WEBGPU_ALLOW_SOFTWARE=1 accepts it, for tests)`);
    }
    Object.assign(globalThis, mod.globals);
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
    await import('@tensorflow/tfjs-backend-webgpu');
    await activate('webgpu');
    webgpuDetail = software ? `${name || 'fallback'} (software)` : name || 'GPU';
    return webgpuDetail;
  },
};

/** Every candidate, in the order automatic selection tries them. */
export const NODE_CANDIDATES: readonly BackendCandidate[] = [
  tfjsNodeCandidate('@tensorflow/tfjs-node-gpu'),
  dawnWebgpuCandidate,
  tfjsNodeCandidate('@tensorflow/tfjs-node'),
  wasmCandidate,
  cpuCandidate,
];

/**
 * Picks and activates the best backend available in Node, or exactly `prefer` (an error if it cannot load).
 * Logs the choice and why the better ones were skipped.
 */
export function selectBackend(options: SelectBackendOptions = {}): Promise<BackendSelection> {
  return selectFrom(NODE_CANDIDATES, options);
}

export interface BackendProbe {
  name: BackendName;
  label: string;
  available: boolean;
  /** Detail when available, the reason when not. */
  detail: string;
}

/**
 * Tries every candidate (for `attend backends`), then activates the one automatic selection picks.
 * Returns the table and the selection.
 */
export async function probeBackends(): Promise<{ probes: BackendProbe[]; selection: BackendSelection }> {
  const probes: BackendProbe[] = [];
  for (const c of NODE_CANDIDATES) {
    try {
      probes.push({ name: c.name, label: c.label, available: true, detail: await c.load() });
    } catch (err) {
      probes.push({ name: c.name, label: c.label, available: false, detail: reasonOf(err) });
    }
  }
  // Automatic selection takes the first that loaded; re-activate it (probing switched backends).
  const i = probes.findIndex((p) => p.available);
  if (i < 0) throw new BackendError(`no TensorFlow.js backend could be loaded:\n${probes.map((p) => `  - ${p.label}: ${p.detail}`).join('\n')}`);
  const chosen = probes[i]!;
  await activate(chosen.name);
  const skipped = probes.slice(0, i).map((p) => ({ label: p.label, reason: p.detail }));
  return { probes, selection: { name: chosen.name, label: chosen.label, detail: chosen.detail, skipped, forced: false } };
}

export { parseBackendName, BACKEND_NAMES, type BackendName, type BackendSelection } from './backend.js';
export { setupTensorflow, type SetupTensorflowOptions, type SetupTensorflowReport } from './setup-tensorflow.js';
