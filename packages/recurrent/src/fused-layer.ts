// A whole recurrent LAYER as one registered kernel each way: the sequence kernels of
// ./fused-sequence.ts with the input projection xp = x·W_x + b inside them (`AttendLSTMLayer`,
// `AttendGRULayer`, `AttendRNNLayer` and their `…Grad` kernels, gradients registered). Outside, the
// projection is a matmul, a bias add and, backward, a bias sum and two more matmuls, each copying
// [B, T, kH] in or out of the backend; inside, xp and its gradient never leave the SIMD module
// (./wasm-sequence.ts: the projection's rows, dx's rows and dW_x's rows split over its threads).
// So these run only where the SIMD module does (Node; cpu, wasm and tensorflow backends — on
// tensorflow the inputs are copied out of TensorFlow and the outputs back) and dz is packed
// (H a multiple of 4 for the LSTM, of 8 for the GRU and RNN); RNNLayer falls back to the
// sequence kernels, or the per-step path, elsewhere.
//   AttendLSTMLayer  x [B, T, D], W_x [D, 4H], b [4H], W_h, h0, c0, mask → AttendLSTMSequence's outputs
//   AttendGRULayer   x, W_x [D, 3H], b [3H], W_h, h0, mask → AttendGRUSequence's outputs
//   AttendGRUResetAfterLayer  x, W_x [D, 3H], b [3H], W_h, b_h [3H], h0, mask → packed [B, T + 1, H],
//                    acts [T, B, 3H] (r, z, n), an [T, B, H] (a_n = h·W_hn + b_hn), hs [T + 1, B, H]
//   AttendRNNLayer   x, W_x [D, H], b [H], W_h, h0, mask (attr activation) → AttendRNNSequence's outputs
//   …Grad            x, W_x, W_h, mask, the saved outputs, dy → dx, dW_x, db, dW_h (, db_h), dh0 (, dc0)
import * as tf from '@tensorflow/tfjs-core';
import { cpuArrayIO, tensorflowArrayIO, wasmArrayIO, type KernelArrayIO } from '@attend/core';
import { fusedSequenceMode } from './fused-sequence.js';
import { gruBackwardSimd, gruForwardSimd, gruResetAfterBackwardSimd, gruResetAfterForwardSimd, lstmBackwardSimd, lstmForwardSimd, rnnBackwardSimd, rnnForwardSimd, simdFor, type ProjectionGrad } from './wasm-sequence.js';

export const LSTM_LAYER = 'AttendLSTMLayer';
export const LSTM_LAYER_GRAD = 'AttendLSTMLayerGrad';
export const GRU_LAYER = 'AttendGRULayer';
export const GRU_LAYER_GRAD = 'AttendGRULayerGrad';
export const GRU_RESET_AFTER_LAYER = 'AttendGRUResetAfterLayer';
export const GRU_RESET_AFTER_LAYER_GRAD = 'AttendGRUResetAfterLayerGrad';
export const RNN_LAYER = 'AttendRNNLayer';
export const RNN_LAYER_GRAD = 'AttendRNNLayerGrad';

/** 'gru' is the taught GRU (reset before the candidate's matmul), 'gruResetAfter' PyTorch's. */
export type LayerCell = 'lstm' | 'gru' | 'gruResetAfter' | 'rnn';
/** The backends the layer kernels are registered on (tensorflow: inputs copied out of TensorFlow and back). */
export const FUSED_LAYER_BACKENDS: readonly string[] = ['cpu', 'wasm', 'tensorflow'];
const GATES: Record<LayerCell, number> = { lstm: 4, gru: 3, gruResetAfter: 3, rnn: 1 };

type Args = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };
type Infos = Record<string, tf.TensorInfo>;

/** The SIMD module for this layer, or an error: the kernels are only run where `fusedLayerAvailable` said so. */
function simdOrThrow(cell: LayerCell, H: number) {
  const s = simdFor(H);
  if (!s || (cell !== 'lstm' && H % 8 !== 0)) throw new Error(`${cell} layer kernel: needs the SIMD module and H a multiple of ${cell === 'lstm' ? 4 : 8} (H = ${H})`);
  return s;
}

/** What both kernels start from: sizes from x `[B, T, D]` and W_x `[D, G]`, the SIMD module, the backend's arrays, the RNN's activation. */
function layerArgs(args: Args, io: (backend: unknown) => KernelArrayIO, cell: LayerCell) {
  const { x, W_x } = args.inputs as Infos;
  const [B, T, D] = x!.shape as [number, number, number];
  const G = W_x!.shape[1]!;
  const H = G / GATES[cell];
  const relu = (args.attrs as { activation?: string } | undefined)?.activation === 'relu';
  return { B, T, D, G, H, s: simdOrThrow(cell, H), a: io(args.backend), relu };
}

function forwardKernel(io: (backend: unknown) => KernelArrayIO, cell: LayerCell): tf.KernelFunc {
  return ((args: Args) => {
    const { x, W_x, b, W_h, b_h, h0, c0, mask } = args.inputs as Infos;
    const { B, T, D, G, H, s, a, relu } = layerArgs(args, io, cell);
    const shapes =
      cell === 'lstm' ? [[B, T + 2, H], [T, B, G], [T + 1, B, H], [T, B, H], [T + 1, B, H]]
      : cell === 'gruResetAfter' ? [[B, T + 1, H], [T, B, G], [T, B, H], [T + 1, B, H]]
      : [[B, T + 1, H], [T, B, G], [T + 1, B, H]];
    return a.outputs(shapes, (o) => {
      const xp = { D, x: a.read(x!), W_x: a.read(W_x!), b: a.read(b!) };
      if (cell === 'lstm') lstmForwardSimd(s, B, T, H, xp, a.read(W_h!), a.read(h0!), a.read(c0!), a.read(mask!), o[0]!, o[1]!, o[2]!, o[3]!, o[4]!);
      else if (cell === 'gru') gruForwardSimd(s, B, T, H, xp, a.read(W_h!), a.read(h0!), a.read(mask!), o[0]!, o[1]!, o[2]!);
      else if (cell === 'gruResetAfter') gruResetAfterForwardSimd(s, B, T, H, xp, a.read(W_h!), a.read(b_h!), a.read(h0!), a.read(mask!), o[0]!, o[1]!, o[2]!, o[3]!);
      else rnnForwardSimd(s, B, T, H, relu, xp, a.read(W_h!), a.read(h0!), a.read(mask!), o[0]!, o[1]!, o[2]!);
    });
  }) as tf.KernelFunc;
}

function gradKernel(io: (backend: unknown) => KernelArrayIO, cell: LayerCell): tf.KernelFunc {
  return ((args: Args) => {
    const { x, W_x, W_h, mask, acts, an, cs, tcs, hs, dy } = args.inputs as Infos;
    const { B, T, D, G, H, s, a, relu } = layerArgs(args, io, cell);
    const shapes = [[B, T, D], [D, G], [G], [H, G], ...(cell === 'gruResetAfter' ? [[G]] : []), [B, H], ...(cell === 'lstm' ? [[B, H]] : [])];
    return a.outputs(shapes, (o) => {
      const proj: ProjectionGrad = { D, x: a.read(x!), W_x: a.read(W_x!), dx: o[0]!, dW_x: o[1]!, db: o[2]! };
      if (cell === 'lstm') lstmBackwardSimd(s, B, T, H, a.read(W_h!), a.read(mask!), a.read(acts!), a.read(cs!), a.read(tcs!), a.read(hs!), a.read(dy!), proj, o[3]!, o[4]!, o[5]!);
      else if (cell === 'gru') gruBackwardSimd(s, B, T, H, a.read(W_h!), a.read(mask!), a.read(acts!), a.read(hs!), a.read(dy!), proj, o[3]!, o[4]!);
      else if (cell === 'gruResetAfter') gruResetAfterBackwardSimd(s, B, T, H, a.read(W_h!), a.read(mask!), a.read(acts!), a.read(an!), a.read(hs!), a.read(dy!), proj, o[3]!, o[4]!, o[5]!);
      else rnnBackwardSimd(s, B, T, H, relu, a.read(W_h!), a.read(mask!), a.read(acts!), a.read(hs!), a.read(dy!), proj, o[3]!, o[4]!);
    });
  }) as tf.KernelFunc;
}

function gradConfig(cell: LayerCell, kernelName: string, gradName: string): tf.GradConfig {
  const lstm = cell === 'lstm';
  const resetAfter = cell === 'gruResetAfter';
  return {
    kernelName,
    inputsToSave: ['x', 'W_x', 'W_h', 'mask'],
    outputsToSave: lstm ? [false, true, true, true, true] : resetAfter ? [false, true, true, true] : [false, true, true],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const [x, W_x, W_h, mask, ...outs] = saved as tf.Tensor[];
      const dPacked = (Array.isArray(dy) ? dy[0] : dy)!;
      const named: tf.NamedTensorMap = lstm
        ? { acts: outs[0]!, cs: outs[1]!, tcs: outs[2]!, hs: outs[3]! }
        : resetAfter ? { acts: outs[0]!, an: outs[1]!, hs: outs[2]! } : { acts: outs[0]!, hs: outs[1]! };
      const g = tf.engine().runKernel(gradName, { x: x!, W_x: W_x!, W_h: W_h!, mask: mask!, ...named, dy: dPacked }, attrs) as tf.Tensor[];
      const grads: Record<string, () => tf.Tensor> = { x: () => g[0]!, W_x: () => g[1]!, b: () => g[2]!, W_h: () => g[3]!, mask: () => tf.zerosLike(mask!) };
      if (resetAfter) {
        grads.b_h = () => g[4]!;
        grads.h0 = () => g[5]!;
      } else grads.h0 = () => g[4]!;
      if (lstm) grads.c0 = () => g[5]!;
      return grads;
    },
  };
}

const KERNELS: [LayerCell, string, string][] = [
  ['lstm', LSTM_LAYER, LSTM_LAYER_GRAD],
  ['gru', GRU_LAYER, GRU_LAYER_GRAD],
  ['gruResetAfter', GRU_RESET_AFTER_LAYER, GRU_RESET_AFTER_LAYER_GRAD],
  ['rnn', RNN_LAYER, RNN_LAYER_GRAD],
];

/** Registers the layer kernels (cpu, wasm, tensorflow) and their gradients where missing; safe to call more than once. */
export function registerFusedLayers(): void {
  for (const [backendName, io] of [['cpu', cpuArrayIO], ['wasm', wasmArrayIO], ['tensorflow', tensorflowArrayIO]] as const) {
    for (const [cell, name, grad] of KERNELS) {
      if (!tf.getKernel(name, backendName)) tf.registerKernel({ kernelName: name, backendName, kernelFunc: forwardKernel(io, cell) });
      if (!tf.getKernel(grad, backendName)) tf.registerKernel({ kernelName: grad, backendName, kernelFunc: gradKernel(io, cell) });
    }
  }
  for (const [cell, name, grad] of KERNELS) if (!tf.getGradient(name)) tf.registerGradient(gradConfig(cell, name, grad));
}

/**
 * Whether a whole `cell` layer of hidden size H (`masked`: with a mask) runs as one kernel each way
 * here: the SIMD module runs it (see the header) and — in mode 'auto' — it is the faster path on
 * this backend: always on cpu and wasm; on tensorflow for masked sequences only, unmasked ones
 * taking TensorFlow ops step by step (./tensorflow-sequence.ts: faster there for all three cells,
 * see the README's benchmark table). Mode 'fused': wherever registered; 'composite': never.
 */
export function fusedLayerAvailable(cell: LayerCell, H: number, masked = false): boolean {
  const mode = fusedSequenceMode();
  const backend = tf.getBackend();
  if (mode === 'composite' || !FUSED_LAYER_BACKENDS.includes(backend)) return false;
  if (simdFor(H) === null || (cell !== 'lstm' && H % 8 !== 0)) return false;
  return mode === 'fused' || backend !== 'tensorflow' || masked;
}

/**
 * One recurrent layer over x `[B, T, D]` with weights W_x `[D, kH]`, b `[kH]`, W_h `[H, kH]`, initial
 * h0 (and c0 for the LSTM) `[B, H]`, b_h `[3H]` for the reset-after GRU, optional mask `[B, T]` → the packed output of the matching
 * sequence kernel (`[B, T + 2, H]` LSTM: y_1..y_T, h_T, c_T; `[B, T + 1, H]` otherwise).
 */
export function fusedLayerPacked(
  cell: LayerCell,
  x: tf.Tensor3D, W_x: tf.Tensor2D, b: tf.Tensor1D, W_h: tf.Tensor2D, h0: tf.Tensor2D,
  options: { c0?: tf.Tensor2D; b_h?: tf.Tensor1D; mask?: tf.Tensor2D; activation?: 'tanh' | 'relu' } = {},
): tf.Tensor3D {
  registerFusedLayers();
  const [B, T] = x.shape;
  const name = KERNELS.find(([c]) => c === cell)![1];
  return tf.tidy(() => {
    const m = options.mask === undefined ? tf.ones([B, T]) : tf.cast(options.mask, 'float32');
    const inputs: tf.NamedTensorMap = { x, W_x, b, W_h, h0, mask: m };
    if (cell === 'lstm') inputs.c0 = options.c0!;
    if (cell === 'gruResetAfter') inputs.b_h = options.b_h!;
    const attrs = cell === 'rnn' ? { activation: options.activation ?? 'tanh' } : undefined;
    return (tf.engine().runKernel(name, inputs, attrs) as tf.Tensor[])[0] as tf.Tensor3D;
  });
}
