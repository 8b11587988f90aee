// Softmax cross-entropy of logits against integer targets, one value per position, with label
// smoothing (Szegedy et al. 2016, §7; PyTorch's CrossEntropyLoss(label_smoothing=ε)):
//   loss_i = logsumexp(z_i) − (1 − ε)·z_{i,y_i} − ε·mean_v z_{i,v}
//   ∂loss_i/∂z_i = softmax(z_i) − (1 − ε)·onehot(y_i) − ε/V
// The gradient is written by hand (tf.customGrad) instead of differentiating logSoftmax → oneHot →
// mul → sum: every op here touches an [N, V] tensor, and with a word vocabulary (V ≈ 20k) those
// ops cost more than the model's matmuls. On the tensorflow backend (tfjs-node) with ε = 0 the
// forward and its gradient are ONE TensorFlow kernel, SparseSoftmaxCrossEntropyWithLogits (the op
// behind tf.nn.sparse_softmax_cross_entropy_with_logits), run by name. On webgpu they are two
// kernels in WGSL, ONE dispatch each way (the tfjs ops below took 8 forward and 6 back, 12 and 7
// with ε > 0, at N = 64, V = 500): a workgroup of 64 invocations per row — each strides over the
// row, so neighbours read neighbouring logits, and the workgroup reduces the row's max and
// Σ exp(z − max) (and Σ (z − max) for ε's mean) in shared memory — for the loss [N], and for
// ∂loss/∂z [N, V], which recomputes the row's max and sum from z instead of saving them (a second
// forward output would take a second dispatch). ε is a uniform: one shader per [N, V].
import * as tf from '@tensorflow/tfjs-core';
import { assertNumber, ShapeError } from './errors.js';
import { runTensorflowOp, tensorflowAvailable, tfAttrs } from './tensorflow-ops.js';
import { webgpuGroupProgram, type WebGPUBackendLike, type WebGPUProgramLike } from './webgpu-program.js';

/** The webgpu kernels' names: logits [N, V], targets int32 [N] → loss [N]; + dy [N] → ∂loss/∂logits [N, V]. */
export const SPARSE_CROSS_ENTROPY = 'AttendSparseSoftmaxCrossEntropy';
export const SPARSE_CROSS_ENTROPY_GRAD = 'AttendSparseSoftmaxCrossEntropyGrad';

type Args = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

/** Invocations per row: a workgroup. */
const LANES = 64;

/** Tree reductions over a workgroup's lanes (every lane gets the result), on its shared `attendLanes`. */
const REDUCE = (() => {
  const halves = Array.from({ length: Math.log2(LANES) }, (_, i) => LANES >> (i + 1)); // 32, 16, …, 1
  const steps = (op: string) => halves.map((s) => `if (lane < ${s}) { attendLanes[lane] = ${op.replaceAll('$', `${s}`)}; }\n    workgroupBarrier();`).join('\n    ');
  return `
  var<workgroup> attendLanes : array<vec2<f32>, ${LANES}>;
  fn attendRowMax(x : f32, lane : i32) -> f32 {
    attendLanes[lane] = vec2<f32>(x, 0.0);
    workgroupBarrier();
    ${steps('vec2<f32>(max(attendLanes[lane].x, attendLanes[lane + $].x), 0.0)')}
    let r = attendLanes[0].x;
    workgroupBarrier();
    return r;
  }
  fn attendRowSum(x : vec2<f32>, lane : i32) -> vec2<f32> {
    attendLanes[lane] = x;
    workgroupBarrier();
    ${steps('attendLanes[lane] + attendLanes[lane + $]')}
    let r = attendLanes[0];
    workgroupBarrier();
    return r;
  }`;
})();

/**
 * A program with one workgroup of LANES invocations per row of z [N, V] (webgpuGroupProgram): `body`
 * sees `row`, `lane`, `live` (false in the grid's spare workgroups, which redo the last row and must
 * not write), and `mx` = max_v z[row, v]; `base` = row·V.
 */
function rowGroupProgram(key: string, variableNames: string[], outputShape: number[], N: number, V: number, body: string): WebGPUProgramLike {
  return webgpuGroupProgram(key, variableNames, outputShape, {
    groups: N,
    lanes: LANES,
    declarations: REDUCE,
    uniforms: 'keep : f32, eps : f32, epsPerClass : f32,',
    body: `
        let live = !spare;
        let row = group;
        let base = row * ${V};
        var mx = -uniforms.INFINITY;
        for (var k = lane; k < ${V}; k += ${LANES}) { mx = max(mx, z[base + k]); }
        mx = attendRowMax(mx, lane);
        ${body}`,
  });
}

/** ε as the programs' uniforms, each made a float32 from double as the tfjs ops' scalars are. */
function smoothingUniforms(eps: number, V: number): { type: string; data: number[] }[] {
  return [1 - eps, eps, eps / V].map((x) => ({ type: 'float32', data: [x] }));
}

// loss_i = log Σ_v exp(z_iv − max_i) − (1 − ε)·(z_iy − max_i) − ε·Σ_v (z_iv − max_i)/V, as the tfjs ops compute it.
function crossEntropyWebgpu(args: Args): tf.TensorInfo {
  const { logits, targets } = args.inputs as Record<string, tf.TensorInfo>;
  const eps = (args.attrs as { labelSmoothing: number }).labelSmoothing;
  const [N, V] = logits!.shape as [number, number];
  const program = rowGroupProgram(`attendSparseCrossEntropy_${N}_${V}`, ['z', 'targets'], [N], N, V, `
        var acc = vec2<f32>(0.0, 0.0); // Σ exp(z − max), Σ (z − max)
        for (var k = lane; k < ${V}; k += ${LANES}) {
          let d = z[base + k] - mx;
          acc += vec2<f32>(exp(d), d);
        }
        acc = attendRowSum(acc, lane);
        if (live && lane == 0) {
          let zy = z[base + targets[row]] - mx;
          result[row] = log(acc.x) - zy * uniforms.keep - acc.y / ${V}.0 * uniforms.eps;
        }`);
  return (args.backend as WebGPUBackendLike).runWebGPUProgram(program, [logits!, targets!], 'float32', smoothingUniforms(eps, V));
}

// ∂loss_i/∂z_iv = (exp(z_iv − max_i − lse_i) − (1 − ε)·[v = y_i] − ε/V)·dloss_i.
function crossEntropyGradWebgpu(args: Args): tf.TensorInfo {
  const { logits, targets, dy } = args.inputs as Record<string, tf.TensorInfo>;
  const eps = (args.attrs as { labelSmoothing: number }).labelSmoothing;
  const [N, V] = logits!.shape as [number, number];
  const program = rowGroupProgram(`attendSparseCrossEntropyGrad_${N}_${V}`, ['z', 'targets', 'dy'], [N, V], N, V, `
        var acc = 0.0;
        for (var k = lane; k < ${V}; k += ${LANES}) { acc += exp(z[base + k] - mx); }
        let lse = log(attendRowSum(vec2<f32>(acc, 0.0), lane).x);
        let y = targets[row];
        let d = dy[row];
        if (live) {
          for (var k = lane; k < ${V}; k += ${LANES}) {
            let p = exp(z[base + k] - mx - lse);
            result[base + k] = (p - select(0.0, uniforms.keep, k == y) - uniforms.epsPerClass) * d;
          }
        }`);
  return (args.backend as WebGPUBackendLike).runWebGPUProgram(program, [logits!, targets!, dy!], 'float32', smoothingUniforms(eps, V));
}

/** Registers the webgpu kernels where missing; safe to call more than once. */
function registerCrossEntropyKernels(): void {
  const kernels: [string, tf.KernelFunc][] = [
    [SPARSE_CROSS_ENTROPY, crossEntropyWebgpu as unknown as tf.KernelFunc],
    [SPARSE_CROSS_ENTROPY_GRAD, crossEntropyGradWebgpu as unknown as tf.KernelFunc],
  ];
  for (const [kernelName, kernelFunc] of kernels) {
    if (!tf.getKernel(kernelName, 'webgpu')) tf.registerKernel({ kernelName, backendName: 'webgpu', kernelFunc });
  }
}

/**
 * Per-position softmax cross-entropy (nats): `logits` `[N, V]`, int32 `targets` `[N]` in [0, V) →
 * `[N]`, yours. `labelSmoothing` ε in [0, 1) (default 0). Differentiable w.r.t. `logits`.
 */
export function sparseSoftmaxCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D, labelSmoothing = 0): tf.Tensor1D {
  assertNumber('sparseSoftmaxCrossEntropy labelSmoothing', labelSmoothing, 0, 0.999);
  if (!(logits instanceof tf.Tensor) || logits.rank !== 2) {
    throw new ShapeError(`sparseSoftmaxCrossEntropy: expected logits of shape [N, V], got ${logits instanceof tf.Tensor ? `[${logits.shape.join(', ')}]` : typeof logits}`);
  }
  const [N, V] = logits.shape;
  if (!(targets instanceof tf.Tensor) || targets.rank !== 1 || targets.shape[0] !== N) {
    throw new ShapeError(`sparseSoftmaxCrossEntropy: expected targets of shape [${N}], got ${targets instanceof tf.Tensor ? `[${targets.shape.join(', ')}]` : typeof targets}`);
  }
  if (targets.dtype !== 'int32') throw new ShapeError(`sparseSoftmaxCrossEntropy: expected int32 targets, got ${targets.dtype}`);
  const z = logits.dtype === 'float32' ? logits : tf.cast(logits, 'float32');
  const fused = labelSmoothing === 0 && tensorflowAvailable();
  const webgpu = tf.getBackend() === 'webgpu' && N * V > 0;
  if (webgpu) registerCrossEntropyKernels();
  const loss = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
    if (webgpu) {
      const attrs = { labelSmoothing };
      save([x]);
      return {
        value: tf.engine().runKernel(SPARSE_CROSS_ENTROPY, { logits: x, targets }, attrs) as tf.Tensor, // [N]
        gradFunc: (dy: tf.Tensor, [z]: tf.Tensor[]) => tf.engine().runKernel(SPARSE_CROSS_ENTROPY_GRAD, { logits: z!, targets, dy }, attrs) as tf.Tensor, // [N, V]
      };
    }
    if (fused) {
      // Outputs: loss [N], backprop [N, V] = softmax(z) − onehot(y).
      const [value, backprop] = runTensorflowOp('SparseSoftmaxCrossEntropyWithLogits', [x, targets], (b) => tfAttrs(b, { type: { T: 'float32', Tlabels: 'int32' } }), 2);
      save([backprop!]);
      return { value: value!, gradFunc: (dy: tf.Tensor, [bp]: tf.Tensor[]) => tf.mul(bp!, tf.reshape(dy, [N, 1])) }; // [N, V]
    }
    const shifted = tf.sub(x, tf.max(x, 1, true)); // [N, V], max 0 per row
    const lse = tf.log(tf.sum(tf.exp(shifted), 1)); // [N]
    const rows = tf.range(0, N, 1, 'int32');
    const zy = tf.gatherND(shifted, tf.stack([rows, targets], 1)); // [N]
    let value = tf.sub(lse, tf.mul(zy, 1 - labelSmoothing)); // [N]
    if (labelSmoothing > 0) value = tf.sub(value, tf.mul(tf.mean(shifted, 1), labelSmoothing));
    save([shifted, lse]);
    const gradFunc = (dy: tf.Tensor, [s, l]: tf.Tensor[]) => {
      const p = tf.exp(tf.sub(s!, tf.reshape(l!, [N, 1]))); // [N, V] softmax
      let g = tf.sub(p, tf.mul(tf.oneHot(targets, V), 1 - labelSmoothing)); // [N, V]
      if (labelSmoothing > 0) g = tf.sub(g, labelSmoothing / V);
      return tf.mul(g, tf.reshape(dy, [N, 1]));
    };
    return { value, gradFunc };
  }) as Parameters<typeof tf.customGrad>[0]);
  return tf.tidy(() => loss(z) as tf.Tensor1D);
}
