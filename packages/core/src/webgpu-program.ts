// Kernels written in WGSL for tfjs-backend-webgpu: the program object its `runWebGPUProgram` takes
// (dist/webgpu_program.d.ts: its shader prelude declares `result` — the output, read_write — one
// read-only storage array per `variableNames` entry, and `uniforms`, with INFINITY and any fields of
// `uniforms`), and helpers for the two common shapes: webgpuRowProgram, one invocation per index in
// [0, n) (users: @attend/attention's fused attention, @attend/recurrent's fused sequences,
// @attend/transformer's LayerNorm and GELU, @attend/training's Adam on webgpu), and
// webgpuGroupProgram, a workgroup of `lanes` invocations per group of work, for kernels with
// workgroup barriers (users: ./cross-entropy.ts, a workgroup per row; @attend/attention's tiled
// fused attention, a workgroup per block of rows; @attend/recurrent's tiled step programs, a
// workgroup per block of 8 batch rows × 32 units).
import type * as tf from '@tensorflow/tfjs-core';

export interface WebGPUProgramLike {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  /** Extra uniform fields, e.g. `t : i32,` (values passed to runWebGPUProgram per dispatch). */
  uniforms?: string;
  size?: boolean;
  getUserCode(): string;
}

export interface WebGPUBackendLike {
  /** One dispatch; `uniforms` fill the program's extra uniform fields; `output` (reused, read_write) instead of a new tensor. */
  runWebGPUProgram(program: WebGPUProgramLike, inputs: tf.TensorInfo[], dtype: tf.DataType, uniforms?: { type: string; data: number[] }[], output?: tf.TensorInfo): tf.TensorInfo;
  disposeData(dataId: object): boolean;
}

const WG = 64;

/** The most workgroups along one dimension of a dispatch (WebGPU's default maxComputeWorkgroupsPerDimension). */
const MAX_GRID = 65535;

/**
 * The program object both helpers return: workgroups of `lanes` invocations on grid `dispatch`, the
 * WGSL `prelude`, then main with `main` as its body. main reads `uniforms` (a phony assignment), so
 * that binding, which tfjs always binds, stays in the pipeline layout whatever the body uses.
 */
function program(key: string, variableNames: string[], outputShape: number[], dispatch: [number, number, number], lanes: number, uniforms: string | undefined, prelude: string, main: string): WebGPUProgramLike {
  return {
    variableNames,
    outputShape,
    shaderKey: key,
    dispatchLayout: { x: outputShape.map((_, i) => i) },
    dispatch,
    workgroupSize: [lanes, 1, 1],
    ...(uniforms ? { uniforms } : {}),
    getUserCode: () => `
      ${prelude}
      fn main(index : i32) {
        _ = uniforms.INFINITY;
        ${main}
      }`,
  };
}

/**
 * A program with one invocation per index in [0, n): `body` sees `index` (i32) and must use every
 * input (tfjs binds each, and the pipeline layout keeps only statically used bindings).
 */
export function webgpuRowProgram(key: string, variableNames: string[], outputShape: number[], n: number, body: string, options: { prelude?: string; uniforms?: string } = {}): WebGPUProgramLike {
  const groups = Math.ceil(n / WG);
  // More than 65535 workgroups go on a 2-D grid; tfjs's getGlobalIndex() flattens it back.
  const x = Math.min(groups, MAX_GRID);
  return program(key, variableNames, outputShape, [x, Math.ceil(groups / x), 1], WG, options.uniforms, options.prelude ?? '', `if (index >= ${n}) { return; }
        ${body}`);
}

/** What webgpuGroupProgram runs: `groups` workgroups of `lanes` invocations, each running `body`. */
export interface WebGPUGroupOptions {
  /** Workgroups of real work (≥ 1); `group` in [0, groups). */
  groups: number;
  /** Invocations per workgroup (its workgroupSize, at most 256 by WebGPU's default limits); `lane` in [0, lanes). */
  lanes: number;
  /** WGSL before main: helper functions and the `var<workgroup>` arrays the body shares. */
  declarations?: string;
  /** Extra uniform fields, e.g. `t : i32,` (values passed to runWebGPUProgram per dispatch). */
  uniforms?: string;
  /** main's body: `index`, `lane`, `group` and `spare` in scope (see webgpuGroupProgram). */
  body: string;
}

/**
 * A program with one workgroup of `lanes` invocations per group of work, for kernels whose
 * invocations cooperate through workgroup memory and workgroupBarrier(). `body` sees `index` (i32,
 * tfjs's flat global index), `lane` = index % lanes, `group` = index / lanes clamped to groups − 1,
 * and `spare` (bool). More than 65,535 workgroups go on a balanced 2-D grid, y = ⌈groups / 65535⌉
 * rows of x = ⌈groups / y⌉ (tfjs's getGlobalIndex() flattens it back), which leaves x·y − groups < y
 * spare workgroups: there `spare` is true and `group` is groups − 1, so they redo the last group's
 * work, reading only what it reads, and must not write (gate every write on `!spare`).
 *
 * Unlike webgpuRowProgram, main never returns early: a barrier must be reached by every invocation of
 * the workgroup (else its behaviour is undefined), and Tint's uniformity analysis rejects a shader
 * whose barrier follows a return that depends on the invocation (`index`). So the body runs in every
 * invocation — spare workgroups and lanes past the end of the data included — on clamped indices, and
 * guards its writes (and any work between barriers it may skip) with conditions such as `!spare`;
 * loops around barriers need bounds uniform to Tint (constants, uniforms, or values read back with
 * workgroupUniformLoad).
 */
export function webgpuGroupProgram(key: string, variableNames: string[], outputShape: number[], options: WebGPUGroupOptions): WebGPUProgramLike {
  const { groups, lanes } = options;
  const y = Math.ceil(groups / MAX_GRID);
  const x = Math.ceil(groups / y); // x·y − groups < y spare workgroups
  return program(key, variableNames, outputShape, [x, y, 1], lanes, options.uniforms, options.declarations ?? '', `let lane = index % ${lanes};
        let group = min(index / ${lanes}, ${groups - 1});
        let spare = index / ${lanes} >= ${groups};
        ${options.body}`);
}

/** A WGSL f32 literal. */
export const wgslFloat = (x: number): string => (Number.isInteger(x) ? `${x}.0` : `${x}`);
