// Fused scaled-dot-product attention: softmax(scale·q·kᵀ + mask)·v in one kernel per backend, with the
// row log-sum-exp saved for the backward pass (Dao et al. 2022, "FlashAttention", §3.1 and App. B.2):
//   forward   S = scale·q·kᵀ, P = softmax(S) over the allowed keys, O = P·v, lse = log Σ_j exp(S_ij)
//   backward  P = exp(S − lse) (recomputed, never stored), dv = Pᵀ·dO, dP = dO·vᵀ,
//             D_i = dO_i·O_i − dlse_i, dS = P ∘ (dP − D), dq = scale·dS·k, dk = scale·dSᵀ·q
// Kernels (registered by name, like tfjs's own): `AttendFusedAttention` (q, k, v, mask `[B, Tk]` of
// 1/0 floats — `fusedAttentionKernel` passes all ones when none is given, since tfjs saves every
// input the gradient names — → context, lse) and `AttendFusedAttentionGrad` (q, k, v, mask, context, lse, dContext, dLse → dq, dk, dv)
// on `cpu` and `wasm` (plain JS over the typed arrays / the wasm heap) and `webgpu` (WGSL through
// tfjs-backend-webgpu's program API). The gradient runs the Grad kernel where the backend has it and
// composite tfjs ops otherwise. The reference is the composite path, scaled-dot.ts + mask.ts; masks
// mean the same: a `[B, Tk]` padding mask (non-zero = real key) and/or causal (query i sees keys
// j ≤ i, top-left aligned). Masked keys get weight exactly 0; a fully masked row gives context 0 and
// lse −∞ (log of an empty sum), and gradient 0.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, cpuArrayIO, ShapeError, wasmArrayIO, webgpuRowProgram, wgslFloat, type KernelArrayIO, type WebGPUBackendLike, type WebGPUProgramLike } from '@attend/core';
import { scaledDotProductAttention } from './scaled-dot.js';

export const FUSED_ATTENTION = 'AttendFusedAttention';
export const FUSED_ATTENTION_GRAD = 'AttendFusedAttentionGrad';

/** The backends this module has kernels for. */
export const FUSED_ATTENTION_BACKENDS: readonly string[] = ['cpu', 'wasm', 'webgpu'];

/** Kernel attributes: `scale` multiplies q·kᵀ (usually 1/√d); `causal`: query i sees keys j ≤ i. */
export interface FusedAttentionAttrs {
  causal: boolean;
  scale: number;
}

type Args = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

interface Dims {
  B: number;
  H: number;
  Tq: number;
  Tk: number;
  D: number;
  DV: number;
}

function dimsOf(q: tf.TensorInfo, k: tf.TensorInfo, v: tf.TensorInfo): Dims {
  const [B, H, Tq, D] = q.shape as [number, number, number, number];
  return { B, H, Tq, Tk: k.shape[2]!, D, DV: v.shape[3]! };
}

// ---------------------------------------------------------------------------------------------
// Plain-JS math over flat float32 arrays (cpu and wasm share it).

/** Last allowed key index + 1 for query i (causal: keys j ≤ i). */
const keyEnd = (i: number, Tk: number, causal: boolean) => (causal ? Math.min(i + 1, Tk) : Tk);

function forwardJs(
  d: Dims, causal: boolean, scale: number,
  q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, mask: ArrayLike<number> | null,
  out: Float32Array, lse: Float32Array,
): void {
  const { B, H, Tq, Tk, D, DV } = d;
  const s = new Float64Array(Tk);
  const acc = new Float64Array(DV);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const bh = b * H + h;
      const kOff = bh * Tk * D;
      const vOff = bh * Tk * DV;
      for (let i = 0; i < Tq; i++) {
        const row = bh * Tq + i;
        const qOff = row * D;
        const end = keyEnd(i, Tk, causal);
        let m = -Infinity;
        for (let j = 0; j < end; j++) {
          if (mask !== null && mask[b * Tk + j] === 0) {
            s[j] = -Infinity;
            continue;
          }
          let dot = 0;
          const kj = kOff + j * D;
          for (let c = 0; c < D; c++) dot += q[qOff + c]! * k[kj + c]!;
          s[j] = dot * scale;
          if (s[j]! > m) m = s[j]!;
        }
        const oOff = row * DV;
        if (m === -Infinity) {
          // Fully masked row: context 0, lse = log(0).
          for (let c = 0; c < DV; c++) out[oOff + c] = 0;
          lse[row] = -Infinity;
          continue;
        }
        acc.fill(0);
        let l = 0;
        for (let j = 0; j < end; j++) {
          if (s[j] === -Infinity) continue;
          const p = Math.exp(s[j]! - m);
          l += p;
          const vj = vOff + j * DV;
          for (let c = 0; c < DV; c++) acc[c] += p * v[vj + c]!;
        }
        for (let c = 0; c < DV; c++) out[oOff + c] = acc[c]! / l;
        lse[row] = m + Math.log(l);
      }
    }
  }
}

function backwardJs(
  d: Dims, causal: boolean, scale: number,
  q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, mask: ArrayLike<number> | null,
  o: ArrayLike<number>, lse: ArrayLike<number>, dO: ArrayLike<number>, dLse: ArrayLike<number>,
  dq: Float32Array, dk: Float32Array, dv: Float32Array,
): void {
  const { B, H, Tq, Tk, D, DV } = d;
  const dqRow = new Float64Array(D);
  const dkAcc = new Float64Array(Tk * D);
  const dvAcc = new Float64Array(Tk * DV);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const bh = b * H + h;
      const kOff = bh * Tk * D;
      const vOff = bh * Tk * DV;
      dkAcc.fill(0);
      dvAcc.fill(0);
      for (let i = 0; i < Tq; i++) {
        const row = bh * Tq + i;
        const qOff = row * D;
        const oOff = row * DV;
        dqRow.fill(0);
        const li = lse[row]!;
        if (li !== -Infinity) {
          let Di = -dLse[row]!;
          for (let c = 0; c < DV; c++) Di += dO[oOff + c]! * o[oOff + c]!;
          const end = keyEnd(i, Tk, causal);
          for (let j = 0; j < end; j++) {
            if (mask !== null && mask[b * Tk + j] === 0) continue;
            const kj = kOff + j * D;
            const vj = vOff + j * DV;
            let dot = 0;
            for (let c = 0; c < D; c++) dot += q[qOff + c]! * k[kj + c]!;
            const p = Math.exp(dot * scale - li);
            let dp = 0;
            for (let c = 0; c < DV; c++) {
              dp += dO[oOff + c]! * v[vj + c]!;
              dvAcc[j * DV + c] += p * dO[oOff + c]!;
            }
            const ds = p * (dp - Di) * scale;
            for (let c = 0; c < D; c++) {
              dqRow[c] += ds * k[kj + c]!;
              dkAcc[j * D + c] += ds * q[qOff + c]!;
            }
          }
        }
        for (let c = 0; c < D; c++) dq[qOff + c] = dqRow[c]!;
      }
      for (let x = 0; x < Tk * D; x++) dk[kOff + x] = dkAcc[x]!;
      for (let x = 0; x < Tk * DV; x++) dv[vOff + x] = dvAcc[x]!;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// cpu and wasm kernels.

function forwardKernel(io: (backend: unknown) => KernelArrayIO): tf.KernelFunc {
  return ((args: Args) => {
    const { q, k, v, mask } = args.inputs as Record<string, tf.TensorInfo>;
    const { causal, scale } = args.attrs as unknown as FusedAttentionAttrs;
    const d = dimsOf(q!, k!, v!);
    const a = io(args.backend);
    return a.outputs([[d.B, d.H, d.Tq, d.DV], [d.B, d.H, d.Tq]], ([out, lse]) =>
      forwardJs(d, causal, scale, a.read(q!), a.read(k!), a.read(v!), mask ? a.read(mask) : null, out!, lse!),
    );
  }) as tf.KernelFunc;
}

function gradKernel(io: (backend: unknown) => KernelArrayIO): tf.KernelFunc {
  return ((args: Args) => {
    const { q, k, v, mask, context, lse, dContext, dLse } = args.inputs as Record<string, tf.TensorInfo>;
    const { causal, scale } = args.attrs as unknown as FusedAttentionAttrs;
    const d = dimsOf(q!, k!, v!);
    const a = io(args.backend);
    return a.outputs([q!.shape, k!.shape, v!.shape], ([dq, dk, dv]) =>
      backwardJs(
        d, causal, scale, a.read(q!), a.read(k!), a.read(v!), mask ? a.read(mask) : null,
        a.read(context!), a.read(lse!), a.read(dContext!), a.read(dLse!), dq!, dk!, dv!,
      ),
    );
  }) as tf.KernelFunc;
}

// ---------------------------------------------------------------------------------------------
// webgpu kernels: one invocation per query row (forward, dq) or per key row (dk, dv), online softmax
// (Milakov & Gimelshein 2018) in the forward; programs built with @attend/core's webgpuRowProgram.

const rowProgram = webgpuRowProgram;
const f32 = wgslFloat;

/** Copies columns [c0, c0 + n) of x viewed as `[rows, cols]` into an output of `shape`. */
function columnsProgram(rows: number, cols: number, c0: number, n: number, shape: number[]): WebGPUProgramLike {
  return rowProgram(
    `attendColumns_${rows}_${cols}_${c0}_${n}`, ['x'], shape, rows * n,
    `let r = index / ${n};
        let c = index - r * ${n};
        result[index] = x[r * ${cols} + ${c0} + c];`,
  );
}

/** Splits `[rows, sum(widths)]` into outputs `[rows, width_i]` shaped `shapes[i]`, and disposes it. */
function splitColumns(be: WebGPUBackendLike, packed: tf.TensorInfo, rows: number, widths: number[], shapes: number[][]): tf.TensorInfo[] {
  const cols = widths.reduce((a, b) => a + b, 0);
  let c0 = 0;
  const outs = widths.map((w, i) => {
    const out = be.runWebGPUProgram(columnsProgram(rows, cols, c0, w, shapes[i]!), [packed], 'float32');
    c0 += w;
    return out;
  });
  be.disposeData(packed.dataId);
  return outs;
}

/** WGSL for "key j of batch b is allowed for query i" (`b`, `i`, `j` in scope). */
function allowedExpr(d: Dims, causal: boolean, hasMask: boolean): string {
  const parts = ['true'];
  if (causal) parts.push('j <= i');
  if (hasMask) parts.push(`mask[b * ${d.Tk} + j] != 0.0`);
  return parts.join(' && ');
}

function webgpuForward(args: Args): tf.TensorInfo[] {
  const { q, k, v, mask } = args.inputs as Record<string, tf.TensorInfo>;
  const { causal, scale } = args.attrs as unknown as FusedAttentionAttrs;
  const be = args.backend as WebGPUBackendLike;
  const d = dimsOf(q!, k!, v!);
  const { B, H, Tq, Tk, D, DV } = d;
  const rows = B * H * Tq;
  const hasMask = mask !== undefined;
  const names = hasMask ? ['q', 'k', 'v', 'mask'] : ['q', 'k', 'v'];
  // Output packed as [rows, DV + 1]: the context row, then its lse.
  const program = rowProgram(
    `attendFusedAttention_${B}_${H}_${Tq}_${Tk}_${D}_${DV}_${causal}_${hasMask}_${scale}`, names, [rows, DV + 1], rows,
    `let i = index % ${Tq};
        let bh = index / ${Tq};
        let b = bh / ${H};
        let qOff = index * ${D};
        var qi : array<f32, ${D}>;
        for (var c = 0; c < ${D}; c++) { qi[c] = q[qOff + c] * ${f32(scale)}; }
        var acc : array<f32, ${DV}>;
        var m = 0.0;
        var l = 0.0;
        for (var j = 0; j < ${Tk}; j++) {
          if (!(${allowedExpr(d, causal, hasMask)})) { continue; }
          let kOff = (bh * ${Tk} + j) * ${D};
          var s = 0.0;
          for (var c = 0; c < ${D}; c++) { s += qi[c] * k[kOff + c]; }
          if (l == 0.0) { m = s; } // the first allowed key starts the running max
          let mNew = max(m, s);
          let corr = exp(m - mNew);
          let p = exp(s - mNew);
          l = l * corr + p;
          let vOff = (bh * ${Tk} + j) * ${DV};
          for (var c = 0; c < ${DV}; c++) { acc[c] = acc[c] * corr + p * v[vOff + c]; }
          m = mNew;
        }
        let out = index * ${DV + 1};
        if (l > 0.0) {
          let inv = 1.0 / l;
          for (var c = 0; c < ${DV}; c++) { result[out + c] = acc[c] * inv; }
          result[out + ${DV}] = m + log(l);
        } else {
          for (var c = 0; c < ${DV}; c++) { result[out + c] = 0.0; }
          result[out + ${DV}] = -uniforms.INFINITY;
        }`,
  );
  const inputs = hasMask ? [q!, k!, v!, mask!] : [q!, k!, v!];
  const packed = be.runWebGPUProgram(program, inputs, 'float32');
  return splitColumns(be, packed, rows, [DV, 1], [[B, H, Tq, DV], [B, H, Tq]]);
}

function webgpuGrad(args: Args): tf.TensorInfo[] {
  const { q, k, v, mask, context, lse, dContext, dLse } = args.inputs as Record<string, tf.TensorInfo>;
  const { causal, scale } = args.attrs as unknown as FusedAttentionAttrs;
  const be = args.backend as WebGPUBackendLike;
  const d = dimsOf(q!, k!, v!);
  const { B, H, Tq, Tk, D, DV } = d;
  const rows = B * H * Tq;
  const hasMask = mask !== undefined;
  const key = `${B}_${H}_${Tq}_${Tk}_${D}_${DV}_${causal}_${hasMask}_${scale}`;
  // stats [rows, 2]: (lse_i, D_i = dO_i·O_i − dlse_i); a fully masked row gets lse +∞ so that
  // exp(s − lse) = 0 (its keys are all skipped anyway).
  const stats = be.runWebGPUProgram(
    rowProgram(`attendFusedAttentionStats_${rows}_${DV}`, ['o', 'dO', 'lse', 'dLse'], [rows, 2], rows,
      `var dot = 0.0;
        for (var c = 0; c < ${DV}; c++) { dot += dO[index * ${DV} + c] * o[index * ${DV} + c]; }
        result[index * 2] = lse[index];
        result[index * 2 + 1] = dot - dLse[index];`),
    [context!, dContext!, lse!, dLse!], 'float32',
  );
  const maskName = hasMask ? ['mask'] : [];
  const maskInput = hasMask ? [mask!] : [];
  // dq: one invocation per query row i.
  const dq = be.runWebGPUProgram(
    rowProgram(`attendFusedAttentionDq_${key}`, ['q', 'k', 'v', 'dO', 'stats', ...maskName], [B, H, Tq, D], rows,
      `let i = index % ${Tq};
        let bh = index / ${Tq};
        let b = bh / ${H};
        let li = stats[index * 2];
        let Di = stats[index * 2 + 1];
        var acc : array<f32, ${D}>;
        if (li > -uniforms.INFINITY) {
          var qi : array<f32, ${D}>;
          for (var c = 0; c < ${D}; c++) { qi[c] = q[index * ${D} + c] * ${f32(scale)}; }
          var gi : array<f32, ${DV}>;
          for (var c = 0; c < ${DV}; c++) { gi[c] = dO[index * ${DV} + c]; }
          for (var j = 0; j < ${Tk}; j++) {
            if (!(${allowedExpr(d, causal, hasMask)})) { continue; }
            let kOff = (bh * ${Tk} + j) * ${D};
            let vOff = (bh * ${Tk} + j) * ${DV};
            var s = 0.0;
            for (var c = 0; c < ${D}; c++) { s += qi[c] * k[kOff + c]; }
            let p = exp(s - li);
            var dp = 0.0;
            for (var c = 0; c < ${DV}; c++) { dp += gi[c] * v[vOff + c]; }
            let ds = p * (dp - Di) * ${f32(scale)};
            for (var c = 0; c < ${D}; c++) { acc[c] += ds * k[kOff + c]; }
          }
        }
        for (var c = 0; c < ${D}; c++) { result[index * ${D} + c] = acc[c]; }`),
    [q!, k!, v!, dContext!, stats, ...maskInput], 'float32',
  );
  // dk, dv: one invocation per key row j, packed as [B·H·Tk, D + DV].
  const keyRows = B * H * Tk;
  const dkv = be.runWebGPUProgram(
    rowProgram(`attendFusedAttentionDkv_${key}`, ['q', 'k', 'v', 'dO', 'stats', ...maskName], [keyRows, D + DV], keyRows,
      `let j = index % ${Tk};
        let bh = index / ${Tk};
        let b = bh / ${H};
        let kOff = index * ${D};
        let vOff = index * ${DV};
        var kj : array<f32, ${D}>;
        for (var c = 0; c < ${D}; c++) { kj[c] = k[kOff + c] * ${f32(scale)}; }
        var vj : array<f32, ${DV}>;
        for (var c = 0; c < ${DV}; c++) { vj[c] = v[vOff + c]; }
        var dkAcc : array<f32, ${D}>;
        var dvAcc : array<f32, ${DV}>;
        for (var i = ${causal ? 'j' : '0'}; i < ${Tq}; i++) {
          if (!(${allowedExpr(d, causal, hasMask)})) { continue; }
          let row = bh * ${Tq} + i;
          let li = stats[row * 2];
          if (li == -uniforms.INFINITY) { continue; }
          let Di = stats[row * 2 + 1];
          var s = 0.0;
          for (var c = 0; c < ${D}; c++) { s += q[row * ${D} + c] * kj[c]; }
          let p = exp(s - li);
          var dp = 0.0;
          for (var c = 0; c < ${DV}; c++) {
            let g = dO[row * ${DV} + c];
            dp += g * vj[c];
            dvAcc[c] += p * g;
          }
          let ds = p * (dp - Di) * ${f32(scale)};
          for (var c = 0; c < ${D}; c++) { dkAcc[c] += ds * q[row * ${D} + c]; }
        }
        let out = index * ${D + DV};
        for (var c = 0; c < ${D}; c++) { result[out + c] = dkAcc[c]; }
        for (var c = 0; c < ${DV}; c++) { result[out + ${D} + c] = dvAcc[c]; }`),
    [q!, k!, v!, dContext!, stats, ...maskInput], 'float32',
  );
  be.disposeData(stats.dataId);
  const [dk, dv] = splitColumns(be, dkv, keyRows, [D, DV], [[B, H, Tk, D], [B, H, Tk, DV]]);
  return [dq, dk!, dv!];
}

// ---------------------------------------------------------------------------------------------
// The gradient.

/** dq, dk, dv from composite tfjs ops (for backends without the Grad kernel). Call inside a tidy. */
function compositeGrad(
  saved: { q: tf.Tensor; k: tf.Tensor; v: tf.Tensor; mask: tf.Tensor | undefined; o: tf.Tensor; lse: tf.Tensor },
  dO: tf.Tensor, dLse: tf.Tensor, causal: boolean, scale: number,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const { q, k, v, mask, o, lse } = saved;
  const [B, , Tq] = q.shape as number[];
  const Tk = k.shape[2]!;
  let allowed: tf.Tensor = tf.ones([1, 1, Tq!, Tk], 'bool');
  if (causal) allowed = tf.logicalAnd(allowed, tf.cast(tf.reshape(causalBand(Tq!, Tk), [1, 1, Tq!, Tk]), 'bool'));
  if (mask) allowed = tf.logicalAnd(allowed, tf.reshape(tf.notEqual(mask, 0), [B!, 1, 1, Tk]));
  const s = tf.mul(tf.matMul(q, k, false, true), scale); // [B, h, Tq, Tk]
  const live = tf.expandDims(tf.isFinite(lse), -1); // a fully masked row has lse −∞
  const keep = tf.logicalAnd(tf.broadcastTo(allowed, s.shape), tf.broadcastTo(live, s.shape));
  const p = tf.where(keep, tf.exp(tf.sub(s, tf.expandDims(tf.where(tf.isFinite(lse), lse, tf.zerosLike(lse)), -1))), tf.zerosLike(s));
  const dv = tf.matMul(p, dO, true, false); // [B, h, Tk, dv]
  const dp = tf.matMul(dO, v, false, true); // [B, h, Tq, Tk]
  const rowD = tf.sub(tf.sum(tf.mul(dO, o), -1, true), tf.expandDims(dLse, -1)); // [B, h, Tq, 1]
  const ds = tf.mul(tf.mul(p, tf.sub(dp, rowD)), scale);
  return [tf.matMul(ds, k), tf.matMul(ds, q, true, false), dv];
}

function causalBand(Tq: number, Tk: number): tf.Tensor2D {
  return tf.linalg.bandPart(tf.ones([Tq, Tk]), -1, 0) as tf.Tensor2D; // [Tq, Tk], row i keeps j ≤ i
}

const fusedAttentionGradConfig: tf.GradConfig = {
  kernelName: FUSED_ATTENTION,
  inputsToSave: ['q', 'k', 'v', 'mask'],
  outputsToSave: [true, true],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
    const { causal, scale } = attrs as unknown as FusedAttentionAttrs;
    // saved = inputs present (q, k, v[, mask]) then outputs (context, lse).
    const hasMask = saved.length === 6;
    const [q, k, v] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
    const mask = hasMask ? saved[3] : undefined;
    const o = saved[saved.length - 2]!;
    const lse = saved[saved.length - 1]!;
    const dys = Array.isArray(dy) ? dy : [dy];
    // Computed once, here: tfjs runs gradFunc inside its 'backward' tidy, which keeps the gradients
    // it hands back and frees the rest (tfjs also skips the functions of inputs that need no
    // gradient, so sharing work between them lazily could not tell when to free it).
    const dO = dys[0] ?? tf.zerosLike(o);
    const dLse = dys[1] ?? tf.zerosLike(lse);
    let grads: tf.Tensor[];
    if (tf.getKernel(FUSED_ATTENTION_GRAD, tf.getBackend())) {
      const inputs: tf.NamedTensorMap = { q, k, v, context: o, lse, dContext: dO, dLse };
      if (mask) inputs.mask = mask;
      grads = tf.engine().runKernel(FUSED_ATTENTION_GRAD, inputs, attrs) as tf.Tensor[];
    } else {
      grads = tf.tidy(() => compositeGrad({ q, k, v, mask, o, lse }, dO, dLse, causal, scale));
    }
    const [dq, dk, dv] = grads as [tf.Tensor, tf.Tensor, tf.Tensor];
    const result: Record<string, () => tf.Tensor> = { q: () => dq, k: () => dk, v: () => dv };
    if (hasMask) result.mask = () => tf.zerosLike(mask!);
    return result;
  },
};

// ---------------------------------------------------------------------------------------------
// Registration and the public function.

/** Registers the kernels (cpu, wasm, webgpu) and the gradient where missing; safe to call more than once. */
export function registerFusedAttention(): void {
  const kernels: [string, string, tf.KernelFunc][] = [
    [FUSED_ATTENTION, 'cpu', forwardKernel(cpuArrayIO)],
    [FUSED_ATTENTION_GRAD, 'cpu', gradKernel(cpuArrayIO)],
    [FUSED_ATTENTION, 'wasm', forwardKernel(wasmArrayIO)],
    [FUSED_ATTENTION_GRAD, 'wasm', gradKernel(wasmArrayIO)],
    [FUSED_ATTENTION, 'webgpu', webgpuForward as unknown as tf.KernelFunc],
    [FUSED_ATTENTION_GRAD, 'webgpu', webgpuGrad as unknown as tf.KernelFunc],
  ];
  for (const [kernelName, backendName, kernelFunc] of kernels) {
    if (!tf.getKernel(kernelName, backendName)) tf.registerKernel({ kernelName, backendName, kernelFunc });
  }
  if (!tf.getGradient(FUSED_ATTENTION)) tf.registerGradient(fusedAttentionGradConfig);
}

export type FusedAttentionMode = 'auto' | 'fused' | 'composite';
export const FUSED_ATTENTION_MODES: readonly FusedAttentionMode[] = ['auto', 'fused', 'composite'];

/**
 * Backends where `'auto'` picks the fused kernel: where it beats the composite path. Not `wasm`: there
 * the kernel is plain JS over the heap and the composite path's XNNPACK matMuls win (B=16, h=4,
 * T=128, d=32 fwd+bwd on 2 vCPUs: fused 330 ms vs composite 257 ms causal; on cpu, fused 281 ms vs
 * composite 1144 ms). Mode `'fused'` runs it on wasm too.
 */
export const FUSED_ATTENTION_AUTO_BACKENDS: readonly string[] = ['cpu', 'webgpu'];

let mode: FusedAttentionMode = 'auto';

/**
 * Which path `fusedAttention` takes: `'auto'` (default) the fused kernel on the backends in
 * FUSED_ATTENTION_AUTO_BACKENDS; `'fused'` the fused kernel wherever it is registered; `'composite'`
 * always the composite path (for tests and benchmarks). Returns the previous mode.
 */
export function setFusedAttentionMode(next: FusedAttentionMode): FusedAttentionMode {
  if (!FUSED_ATTENTION_MODES.includes(next)) {
    throw new ConfigError(`setFusedAttentionMode: expected one of ${FUSED_ATTENTION_MODES.map((m) => `'${m}'`).join(', ')}, got ${JSON.stringify(next)}`);
  }
  const prev = mode;
  mode = next;
  return prev;
}

export interface FusedAttentionOptions {
  /** Query i attends to keys j ≤ i only (default false). */
  causal?: boolean;
  /**
   * `[B, Tk]` padding mask (non-zero = real key). A `[B, Tq, Tk]` mask is accepted too but always
   * takes the composite path.
   */
  mask?: tf.Tensor;
  /** Multiplies q·kᵀ; default 1/√d. */
  scale?: number;
}

/** Whether `fusedAttention` would run the fused kernel on the active backend (with a `[B, Tk]` or no mask), given the mode. */
export function fusedAttentionAvailable(): boolean {
  registerFusedAttention();
  const backend = tf.getBackend();
  if (mode === 'composite' || !tf.getKernel(FUSED_ATTENTION, backend)) return false;
  return mode === 'fused' || FUSED_ATTENTION_AUTO_BACKENDS.includes(backend);
}

const fmt = (t: tf.Tensor) => `[${t.shape.join(', ')}]`;

function checkInputs(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor): void {
  const what = 'fusedAttention';
  for (const [name, t] of [['q', q], ['k', k], ['v', v]] as const) {
    if (!(t instanceof tf.Tensor)) throw new ShapeError(`${what}: ${name} must be a tf.Tensor, got ${typeof t}`);
    if (t.rank !== 4) throw new ShapeError(`${what}: expected ${name} of rank 4 [B, heads, T, d], got ${fmt(t)}`);
    if (t.dtype !== 'float32') throw new ShapeError(`${what}: ${name} expected dtype float32, got ${t.dtype}`);
  }
  const [B, h, , d] = q.shape;
  if (k.shape[0] !== B || k.shape[1] !== h || k.shape[3] !== d) {
    throw new ShapeError(`${what}: with q ${fmt(q)} = [B, heads, Tq, d], expected k of shape [${B}, ${h}, Tk, ${d}], got ${fmt(k)}`);
  }
  if (v.shape[0] !== B || v.shape[1] !== h || v.shape[2] !== k.shape[2]) {
    throw new ShapeError(`${what}: with k ${fmt(k)}, expected v of shape [${B}, ${h}, ${k.shape[2]}, dv], got ${fmt(v)}`);
  }
}

/**
 * The raw kernel call: context `[B, h, Tq, dv]` and the row log-sum-exp `[B, h, Tq]` (−∞ for a fully
 * masked row). Needs a backend with the kernel (`fusedAttentionAvailable()`); `mask` is `[B, Tk]`.
 * Differentiable in q, k, v (and in the lse). The caller owns both tensors.
 */
export function fusedAttentionKernel(
  q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, options: FusedAttentionOptions = {},
): { context: tf.Tensor4D; lse: tf.Tensor3D } {
  registerFusedAttention();
  checkInputs(q, k, v);
  const { causal = false, mask, scale = 1 / Math.sqrt(q.shape[3]) } = options;
  if (typeof causal !== 'boolean') throw new ConfigError(`fusedAttention: causal expected true or false, got ${JSON.stringify(causal)}`);
  if (!Number.isFinite(scale)) throw new ConfigError(`fusedAttention: scale expected a finite number, got ${scale}`);
  const backend = tf.getBackend();
  if (!tf.getKernel(FUSED_ATTENTION, backend)) {
    throw new ConfigError(`fusedAttention: no ${FUSED_ATTENTION} kernel for backend '${backend}' (have: ${FUSED_ATTENTION_BACKENDS.join(', ')}); use fusedAttention() for the composite fallback`);
  }
  const B = q.shape[0];
  const Tk = k.shape[2];
  return tf.tidy(() => {
    if (mask !== undefined && (!(mask instanceof tf.Tensor) || mask.rank !== 2 || mask.shape[0] !== B || mask.shape[1] !== Tk)) {
      throw new ShapeError(`fusedAttention: expected mask of shape [${B}, ${Tk}] (1 = real key, 0 = padding), got ${mask instanceof tf.Tensor ? fmt(mask) : typeof mask}`);
    }
    // Always a mask input (all ones when none is given): tfjs saves every name in inputsToSave.
    const m = mask === undefined ? tf.ones([B, Tk]) : mask.dtype === 'float32' ? mask : tf.cast(tf.notEqual(mask, 0), 'float32');
    const inputs: tf.NamedTensorMap = { q, k, v, mask: m };
    const attrs: FusedAttentionAttrs = { causal, scale };
    const [context, lse] = tf.engine().runKernel(FUSED_ATTENTION, inputs, attrs as unknown as tf.NamedAttrMap) as [tf.Tensor4D, tf.Tensor3D];
    return { context: context!, lse: lse! };
  });
}

/**
 * softmax(scale·q·kᵀ)·v with optional causal and `[B, Tk]` padding masks: q `[B, h, Tq, d]`,
 * k `[B, h, Tk, d]`, v `[B, h, Tk, dv]` → context `[B, h, Tq, dv]`. Runs the fused kernel when
 * `fusedAttentionAvailable()` (by default on cpu and webgpu; see setFusedAttentionMode); otherwise
 * (or for a `[B, Tq, Tk]` mask) the composite `scaledDotProductAttention`. Same values and gradients either
 * way. The caller owns the result.
 */
export function fusedAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, options: FusedAttentionOptions = {}): tf.Tensor4D {
  checkInputs(q, k, v);
  const { causal = false, mask, scale } = options;
  const paddingOnly = mask === undefined || (mask instanceof tf.Tensor && mask.rank === 2);
  if (paddingOnly && fusedAttentionAvailable()) {
    const { context, lse } = fusedAttentionKernel(q, k, v, options);
    lse.dispose();
    return context;
  }
  return tf.tidy(() => {
    const d = q.shape[3];
    // The composite path divides by √d; fold any other scale into q.
    const qs = scale === undefined || scale === 1 / Math.sqrt(d) ? q : tf.mul(q, scale * Math.sqrt(d));
    const { context, weights } = scaledDotProductAttention(qs as tf.Tensor4D, k, v, { causal, mask });
    weights.dispose();
    return context;
  });
}
