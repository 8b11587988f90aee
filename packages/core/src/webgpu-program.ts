// Kernels written in WGSL for tfjs-backend-webgpu: the program object its `runWebGPUProgram` takes
// (dist/webgpu_program.d.ts: its shader prelude declares `result` — the output, read_write — one
// read-only storage array per `variableNames` entry, and `uniforms`, with INFINITY and any fields of
// `uniforms`), and a helper for the common shape: one invocation per index in [0, n).
// Users: @attend/attention's fused attention, @attend/recurrent's fused sequences, @attend/transformer's
// LayerNorm and GELU, @attend/training's Adam on webgpu (./cross-entropy.ts writes its own program: it
// needs workgroup barriers, which webgpuRowProgram's early return would break).
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

/**
 * A program with one invocation per index in [0, n): `body` sees `index` (i32) and must use every
 * input (tfjs binds each, and the pipeline layout keeps only statically used bindings).
 */
export function webgpuRowProgram(key: string, variableNames: string[], outputShape: number[], n: number, body: string, options: { prelude?: string; uniforms?: string } = {}): WebGPUProgramLike {
  const groups = Math.ceil(n / WG);
  // More than 65535 workgroups go on a 2-D grid; tfjs's getGlobalIndex() flattens it back.
  const x = Math.min(groups, 65535);
  return {
    variableNames,
    outputShape,
    shaderKey: key,
    dispatchLayout: { x: outputShape.map((_, i) => i) },
    dispatch: [x, Math.ceil(groups / x), 1],
    workgroupSize: [WG, 1, 1],
    ...(options.uniforms ? { uniforms: options.uniforms } : {}),
    getUserCode: () => `
      ${options.prelude ?? ''}
      fn main(index : i32) {
        _ = uniforms.INFINITY;
        if (index >= ${n}) { return; }
        ${body}
      }`,
  };
}

/** A WGSL f32 literal. */
export const wgslFloat = (x: number): string => (Number.isInteger(x) ? `${x}.0` : `${x}`);
