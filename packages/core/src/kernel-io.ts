// Typed-array access for kernels written in plain JS (or run on the SIMD module) and registered on the
// `cpu`, `wasm` and `tensorflow` backends (tf.registerKernel): read an input's values, allocate the
// outputs and fill them in place. Used by @attend/attention's fused attention, @attend/recurrent's
// fused sequences, layers and steps, and @attend/transformer's GELU and LayerNorm kernels.
import type * as tf from '@tensorflow/tfjs-core';

/** What a plain-JS kernel needs from a backend: a way to read an input and to make filled outputs. */
export interface KernelArrayIO {
  read(t: tf.TensorInfo): ArrayLike<number>;
  /** Allocates float32 outputs of these shapes, then fills them (reads happen after allocating: a wasm heap may move). */
  outputs(shapes: number[][], fill: (arrays: Float32Array[]) => void): tf.TensorInfo[];
}

/** New float32 arrays of these shapes, filled by `fill`. */
function filled(shapes: number[][], fill: (arrays: Float32Array[]) => void): Float32Array[] {
  const arrays = shapes.map((s) => new Float32Array(s.reduce((a, b) => a * b, 1)));
  fill(arrays);
  return arrays;
}

/** The cpu backend's arrays (tfjs-backend-cpu). */
export function cpuArrayIO(backend: unknown): KernelArrayIO {
  const be = backend as {
    data: { get(id: object): { values: ArrayLike<number> } };
    makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
  };
  return {
    read: (t) => be.data.get(t.dataId).values,
    outputs(shapes, fill) {
      const arrays = filled(shapes, fill);
      return shapes.map((s, i) => be.makeTensorInfo(s, 'float32', arrays[i]!));
    },
  };
}

/** Views of the wasm backend's heap (tfjs-backend-wasm). */
export function wasmArrayIO(backend: unknown): KernelArrayIO {
  const be = backend as {
    makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
    typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  };
  return {
    read: (t) => be.typedArrayFromHeap(t),
    outputs(shapes, fill) {
      const infos = shapes.map((s) => be.makeOutput(s, 'float32'));
      // Views only after every makeOutput: allocating can grow (and detach) the wasm memory.
      fill(infos.map((t) => be.typedArrayFromHeap(t) as Float32Array));
      return infos;
    },
  };
}

/**
 * The tensorflow backend's tensors (tfjs-node): inputs copied out of TensorFlow (`readSync`),
 * outputs handed to it (`write`). Each call copies, so this pays only for kernels that do a lot.
 */
export function tensorflowArrayIO(backend: unknown): KernelArrayIO {
  const be = backend as {
    readSync(dataId: object): ArrayLike<number>;
    write(values: Float32Array, shape: number[], dtype: tf.DataType): object;
  };
  return {
    read: (t) => be.readSync(t.dataId),
    outputs(shapes, fill) {
      const arrays = filled(shapes, fill);
      return shapes.map((s, i) => ({ dataId: be.write(arrays[i]!, s, 'float32'), shape: s, dtype: 'float32' as const }));
    },
  };
}
