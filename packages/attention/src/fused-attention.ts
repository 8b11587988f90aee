// Fused scaled-dot-product attention: softmax(scale·q·kᵀ + mask)·v in one kernel per backend, with the
// row log-sum-exp saved for the backward pass (Dao et al. 2022, "FlashAttention", §3.1 and App. B.2):
//   forward   S = scale·q·kᵀ, P = softmax(S) over the allowed keys, O = P·v, lse = log Σ_j exp(S_ij)
//   backward  P = exp(S − lse) (recomputed, never stored), dv = Pᵀ·dO, dP = dO·vᵀ,
//             D_i = dO_i·O_i − dlse_i, dS = P ∘ (dP − D), dq = scale·dS·k, dk = scale·dSᵀ·q
// Kernels (registered by name, like tfjs's own): `AttendFusedAttention` (q, k, v, mask `[B, Tk]` of
// 1/0 floats — `fusedAttentionKernel` passes all ones when none is given, since tfjs saves every
// input the gradient names — → context, lse) and `AttendFusedAttentionGrad` (q, k, v, mask, context, lse, dContext, dLse → dq, dk, dv)
// on `cpu` and `wasm` (plain JS over the typed arrays / the wasm heap) and `webgpu` (WGSL through
// tfjs-backend-webgpu's program API, tiled as FlashAttention: a workgroup per block of up to 64 query
// or key rows of one (batch, head), the other side's K/V or Q/dO rows staged in workgroup memory in
// tiles of up to 32 rows; 3 dispatches forward, 5 backward), and `tensorflow` where Attend's native ops
// are loaded (@attend/core's native/attend_ops.cc: a (batch, head) pair per unit of work over
// TensorFlow's threads, its score matrix in cache, Eigen's products). The gradient runs the Grad kernel where
// the backend has it and composite tfjs ops otherwise. The reference is the composite path,
// scaled-dot.ts + mask.ts; masks mean the same: a `[B, Tk]` padding mask (non-zero = real key) and/or
// causal (query i sees keys j ≤ i, top-left aligned). Masked keys get weight exactly 0; a fully masked
// row gives context 0 and lse −∞ (log of an empty sum), and gradient 0.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, cpuArrayIO, runTensorflowOp, ShapeError, tensorflowNativeOps, tfAttrs, wasmArrayIO, webgpuGroupProgram, webgpuRowProgram, wgslFloat, type KernelArrayIO, type TFBinding, type WebGPUBackendLike, type WebGPUProgramLike } from '@attend/core';
import { scaledDotProductAttention } from './scaled-dot.js';

export const FUSED_ATTENTION = 'AttendFusedAttention';
export const FUSED_ATTENTION_GRAD = 'AttendFusedAttentionGrad';
/** Self-attention from packed projections (tensorflow with Attend's native ops only; see fusedSelfAttention). */
export const FUSED_SELF_ATTENTION = 'AttendFusedSelfAttention';
export const FUSED_SELF_ATTENTION_GRAD = 'AttendFusedSelfAttentionGrad';
/** One block of packed projections split into heads (tensorflow with Attend's native ops; see fusedSelfAttention). */
export const SPLIT_HEADS = 'AttendSplitHeads';

/** The backends this module has kernels for. */
export const FUSED_ATTENTION_BACKENDS: readonly string[] = ['cpu', 'wasm', 'webgpu', 'tensorflow'];

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
// webgpu kernels, tiled as FlashAttention's (Dao et al. 2022, Alg. 1 forward, Alg. 2 backward) within
// WebGPU's default limits (16 KiB of workgroup storage, 256 invocations per workgroup). A workgroup of
// BR = min(64, Tq or Tk rounded up to a power of two) invocations takes a block of BR rows of one
// (batch, head), one row per invocation: query rows for the forward and dq, key rows for dk/dv. It
// walks the other side in tiles of BC rows — keys (K and V rows, and 1/0 flags: in range and not
// padding) for the forward and dq, queries (Q and dO rows, and (lse_i, D_i) with lse −∞ past Tq) for
// dk/dv — that its invocations copy together, coalesced, into `var<workgroup>` arrays; a
// workgroupBarrier(); every row reads the tile from there; another barrier before the next tile
// overwrites it. So each K/V (Q/dO) element is read from global memory once per block of BR rows, not
// once per row. BC is the largest power of two ≤ 32 (and ≤ the other side's length rounded up) whose
// tile fits: 16 at D = DV = 64 — 8,256 bytes of workgroup memory forward and dq, 8,320 dk/dv (+ 8 for
// the causal tile range) — 32 at D = 64, DV = 48; where not even one row fits (D + DV over 4,092) the
// tiles' rows are read from global memory instead (flags and stats stay in workgroup memory). Causal:
// the forward and dq stop after the key tile holding the block's last query, dk/dv start at the query
// tile holding the block's first key; that range depends on the block, so it goes through
// workgroupUniformLoad (Tint's uniformity analysis takes whatever derives from the invocation index
// as non-uniform, and a barrier needs uniform control flow). No invocation returns early: rows past
// Tq or Tk, and the spare workgroups of a 2-D grid (over 65,535 workgroups), work on a clamped row,
// reach every barrier and write nothing. The forward keeps the online softmax (Milakov & Gimelshein
// 2018), its running max updated once per tile as in FlashAttention. Dispatches: forward 3 (the
// attention program, its output packed as [rows, DV + 1], then two column copies), backward 5 (the row
// stats, dq, dk/dv packed as [B·H·Tk, D + DV], two column copies); the attention programs run
// B·H·⌈Tq/BR⌉ (forward, dq) and B·H·⌈Tk/BR⌉ (dk/dv) workgroups. nanoGPT's layer (B = 64, H = 6,
// T = 256, d = 64, causal): 1,536 workgroups of 64 per program, each block walking 4–16 of the 16
// tiles (10 on average): K and V (Q and dO) read at most 4 times per (batch, head) instead of 256.

const rowProgram = webgpuRowProgram;
const f32 = wgslFloat;

/** WebGPU's default maxComputeWorkgroupStorageSize (16 KiB), in f32s; tests lower it (setWebgpuTileBudget). */
let workgroupFloats = 16384 / 4;

/**
 * For tests: the workgroup memory the webgpu kernels' tiles may use, in bytes (default 16,384, WebGPU's
 * default limit), so that small shapes take the small-tile and global-memory paths; returns the previous.
 * @internal Not exported from the package.
 */
export function setWebgpuTileBudget(bytes: number): number {
  const prev = workgroupFloats * 4;
  workgroupFloats = Math.floor(bytes / 4);
  return prev;
}

/** Rows per workgroup at most (one invocation each). */
const BLOCK_ROWS = 64;
/** Rows per tile at most. */
const TILE_ROWS = 32;

const pow2AtLeast = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(n, 1)));

/** How a tiled program splits the work. */
interface Tiling {
  /** Rows per workgroup (invocations). */
  BR: number;
  /** Rows of the other side per tile. */
  BC: number;
  /** Blocks per (batch, head), and workgroups in all. */
  blocks: number;
  groups: number;
  /** Whether the tiles' wide rows live in workgroup memory (false: read from global memory). */
  shared: boolean;
}

/**
 * Blocks of `rows` rows per (batch, head), tiles of `others` rows of `wide` f32s (in workgroup memory
 * when they fit) plus `narrow` f32s (always there); `extra` f32s of workgroup memory besides.
 */
function tiling(BH: number, rows: number, others: number, wide: number, narrow: number, extra: number): Tiling {
  const BR = Math.min(BLOCK_ROWS, pow2AtLeast(rows));
  const most = Math.min(TILE_ROWS, pow2AtLeast(others));
  let BC = most;
  while (BC > 1 && BC * (wide + narrow) + extra > workgroupFloats) BC /= 2;
  const shared = BC * (wide + narrow) + extra <= workgroupFloats;
  const blocks = Math.ceil(rows / BR);
  return { BR, BC: shared ? BC : most, blocks, groups: BH * blocks, shared };
}

/**
 * A tiled program (@attend/core's webgpuGroupProgram): one workgroup of `t.BR` invocations per block,
 * on a balanced 2-D grid past 65,535 workgroups. `body` sees `lane`, `bh`, `b`, `r0` (the block's
 * first row), `r = r0 + lane` (the invocation's row within the (batch, head)) and `live` (false past
 * `rows` and in the grid's spare workgroups, which redo the last block: those must not write). Every
 * invocation must reach every barrier, so none returns.
 */
function tiledProgram(key: string, variableNames: string[], outputShape: number[], H: number, rows: number, t: Tiling, declarations: string, body: string): WebGPUProgramLike {
  return webgpuGroupProgram(`${key}_${t.BR}_${t.BC}_${t.shared}`, variableNames, outputShape, {
    groups: t.groups,
    lanes: t.BR,
    declarations,
    body: `
        let bh = group / ${t.blocks};
        let b = bh / ${H};
        let r0 = (group - bh * ${t.blocks}) * ${t.BR};
        let r = r0 + lane;
        let live = !spare && r < ${rows};
        ${body}`,
  });
}

/**
 * The tiles [begin, end) a block walks, as `tiles` (vec2<i32>): WGSL expressions of `r0` and
 * constants. One that depends on the block (`perBlock`) is read back through workgroup memory with
 * workgroupUniformLoad, so that the loop around the barriers is uniform to Tint.
 */
function tileRange(begin: string, end: string, perBlock: boolean): { declaration: string; code: string } {
  if (!perBlock) return { declaration: '', code: `let tiles = vec2<i32>(${begin}, ${end});` };
  return {
    declaration: 'var<workgroup> attendTiles : vec2<i32>;',
    code: `if (lane == 0) { attendTiles = vec2<i32>(${begin}, ${end}); }
        let tiles = workgroupUniformLoad(&attendTiles);`,
  };
}

/**
 * The key tiles of the forward and dq: declarations, K and V row `jj` column `c` of the tile (WGSL),
 * and the code that fills tile `tile` (`j0` its first key, `kRow` = bh·Tk + j0) and ends with a barrier.
 */
function keyTiles(d: Dims, t: Tiling, hasMask: boolean) {
  const { Tk, D, DV } = d;
  const { BR, BC } = t;
  return {
    declarations: `${t.shared ? `var<workgroup> attendK : array<f32, ${BC * D}>;
      var<workgroup> attendV : array<f32, ${BC * DV}>;` : ''}
      var<workgroup> attendKeyOk : array<f32, ${BC}>; // 1: key j0 + jj exists and is not padding`,
    kAt: (c: string) => (t.shared ? `attendK[jj * ${D} + ${c}]` : `k[(kRow + jj) * ${D} + ${c}]`),
    vAt: (c: string) => (t.shared ? `attendV[jj * ${DV} + ${c}]` : `v[(kRow + jj) * ${DV} + ${c}]`),
    load: `let j0 = tile * ${BC};
          let n = min(${BC}, ${Tk} - j0);
          let kRow = bh * ${Tk} + j0;
          ${t.shared ? `for (var x = lane; x < n * ${D}; x += ${BR}) { attendK[x] = k[kRow * ${D} + x]; }
          for (var x = lane; x < n * ${DV}; x += ${BR}) { attendV[x] = v[kRow * ${DV} + x]; }` : ''}
          for (var x = lane; x < ${BC}; x += ${BR}) { attendKeyOk[x] = select(0.0, 1.0, x < n${hasMask ? ` && mask[b * ${Tk} + j0 + x] != 0.0` : ''}); }
          workgroupBarrier();`,
  };
}

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

function webgpuForward(args: Args): tf.TensorInfo[] {
  const { q, k, v, mask } = args.inputs as Record<string, tf.TensorInfo>;
  const { causal, scale } = args.attrs as unknown as FusedAttentionAttrs;
  const be = args.backend as WebGPUBackendLike;
  const d = dimsOf(q!, k!, v!);
  const { B, H, Tq, Tk, D, DV } = d;
  const rows = B * H * Tq;
  const hasMask = mask !== undefined;
  const names = hasMask ? ['q', 'k', 'v', 'mask'] : ['q', 'k', 'v'];
  const t = tiling(B * H, Tq, Tk, D + DV, 1, 2);
  const { BR, BC } = t;
  const keys = keyTiles(d, t, hasMask);
  // Causal: keys up to the block's last query.
  const range = tileRange('0', causal ? `(min(${Math.min(Tq, Tk)}, r0 + ${BR}) + ${BC - 1}) / ${BC}` : `${Math.ceil(Tk / BC)}`, causal);
  const ok = `attendKeyOk[jj] != 0.0${causal ? ' && j0 + jj <= i' : ''}`;
  // Output packed as [rows, DV + 1]: the context row, then its lse.
  const program = tiledProgram(
    `attendFusedAttention_${B}_${H}_${Tq}_${Tk}_${D}_${DV}_${causal}_${hasMask}_${scale}`, names, [rows, DV + 1], H, Tq, t,
    `${keys.declarations}
      ${range.declaration}`,
    `let i = r;
        let row = bh * ${Tq} + min(i, ${Tq - 1});
        var qi : array<f32, ${D}>;
        for (var c = 0; c < ${D}; c++) { qi[c] = q[row * ${D} + c] * ${f32(scale)}; }
        var acc : array<f32, ${DV}>;
        var s : array<f32, ${BC}>;
        var m = 0.0; // the running max over the allowed keys so far
        var l = 0.0; // Σ exp(s − m) over them (0 before the first)
        ${range.code}
        for (var tile = tiles.x; tile < tiles.y; tile++) {
          ${keys.load}
          var tm = 0.0; // the max over the tile's allowed keys
          var seen = false;
          for (var jj = 0; jj < ${BC}; jj++) {
            if (${ok}) {
              var dot = 0.0;
              for (var c = 0; c < ${D}; c++) { dot += qi[c] * ${keys.kAt('c')}; }
              s[jj] = dot;
              tm = select(dot, max(tm, dot), seen);
              seen = true;
            }
          }
          if (seen) {
            if (l == 0.0) { m = tm; } // the first allowed key starts the running max
            let mNew = max(m, tm);
            let corr = exp(m - mNew);
            l *= corr;
            for (var c = 0; c < ${DV}; c++) { acc[c] *= corr; }
            for (var jj = 0; jj < ${BC}; jj++) {
              if (${ok}) {
                let p = exp(s[jj] - mNew);
                l += p;
                for (var c = 0; c < ${DV}; c++) { acc[c] += p * ${keys.vAt('c')}; }
              }
            }
            m = mNew;
          }
          workgroupBarrier(); // before the next tile overwrites this one
        }
        if (live) {
          let out = row * ${DV + 1};
          if (l > 0.0) {
            let inv = 1.0 / l;
            for (var c = 0; c < ${DV}; c++) { result[out + c] = acc[c] * inv; }
            result[out + ${DV}] = m + log(l);
          } else {
            for (var c = 0; c < ${DV}; c++) { result[out + c] = 0.0; }
            result[out + ${DV}] = -uniforms.INFINITY;
          }
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
  // stats [rows, 2]: (lse_i, D_i = dO_i·O_i − dlse_i); a fully masked row keeps lse −∞ and is skipped.
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
  // dq: a block of query rows per workgroup against key tiles (K, V), as the forward.
  const tq = tiling(B * H, Tq, Tk, D + DV, 1, 2);
  const keys = keyTiles(d, tq, hasMask);
  const qRange = tileRange('0', causal ? `(min(${Math.min(Tq, Tk)}, r0 + ${tq.BR}) + ${tq.BC - 1}) / ${tq.BC}` : `${Math.ceil(Tk / tq.BC)}`, causal);
  const dq = be.runWebGPUProgram(
    tiledProgram(`attendFusedAttentionDq_${key}`, ['q', 'k', 'v', 'dO', 'stats', ...maskName], [B, H, Tq, D], H, Tq, tq,
      `${keys.declarations}
      ${qRange.declaration}`,
      `let i = r;
        let row = bh * ${Tq} + min(i, ${Tq - 1});
        let li = stats[row * 2];
        let Di = stats[row * 2 + 1];
        let go = live && li > -uniforms.INFINITY; // a fully masked row's gradient is 0
        var qi : array<f32, ${D}>;
        for (var c = 0; c < ${D}; c++) { qi[c] = q[row * ${D} + c] * ${f32(scale)}; }
        var gi : array<f32, ${DV}>;
        for (var c = 0; c < ${DV}; c++) { gi[c] = dO[row * ${DV} + c]; }
        var acc : array<f32, ${D}>;
        ${qRange.code}
        for (var tile = tiles.x; tile < tiles.y; tile++) {
          ${keys.load}
          if (go) {
            for (var jj = 0; jj < ${tq.BC}; jj++) {
              if (!(attendKeyOk[jj] != 0.0${causal ? ' && j0 + jj <= i' : ''})) { continue; }
              var s = 0.0;
              for (var c = 0; c < ${D}; c++) { s += qi[c] * ${keys.kAt('c')}; }
              let p = exp(s - li);
              var dp = 0.0;
              for (var c = 0; c < ${DV}; c++) { dp += gi[c] * ${keys.vAt('c')}; }
              let ds = p * (dp - Di) * ${f32(scale)};
              for (var c = 0; c < ${D}; c++) { acc[c] += ds * ${keys.kAt('c')}; }
            }
          }
          workgroupBarrier();
        }
        if (live) {
          for (var c = 0; c < ${D}; c++) { result[row * ${D} + c] = acc[c]; }
        }`),
    [q!, k!, v!, dContext!, stats, ...maskInput], 'float32',
  );
  // dk, dv: a block of key rows per workgroup against query tiles (Q, dO, stats), packed as [B·H·Tk, D + DV].
  const keyRows = B * H * Tk;
  const tk = tiling(B * H, Tk, Tq, D + DV, 2, 2);
  const { BR, BC } = tk;
  const qAt = (c: string) => (tk.shared ? `attendQ[ii * ${D} + ${c}]` : `q[(qRow + ii) * ${D} + ${c}]`);
  const gAt = (c: string) => (tk.shared ? `attendG[ii * ${DV} + ${c}]` : `dO[(qRow + ii) * ${DV} + ${c}]`);
  // Causal: queries from the block's first key on.
  const kRange = tileRange(causal ? `r0 / ${BC}` : '0', `${Math.ceil(Tq / BC)}`, causal);
  const dkv = be.runWebGPUProgram(
    tiledProgram(`attendFusedAttentionDkv_${key}`, ['q', 'k', 'v', 'dO', 'stats', ...maskName], [keyRows, D + DV], H, Tk, tk,
      `${tk.shared ? `var<workgroup> attendQ : array<f32, ${BC * D}>;
      var<workgroup> attendG : array<f32, ${BC * DV}>;` : ''}
      var<workgroup> attendStats : array<f32, ${BC * 2}>; // (lse, D_i) of query i0 + ii; lse −∞ past Tq
      ${kRange.declaration}`,
      `let j = r;
        let row = bh * ${Tk} + min(j, ${Tk - 1});
        let go = live${hasMask ? ` && mask[b * ${Tk} + j] != 0.0` : ''}; // a padding key's gradient is 0
        var kj : array<f32, ${D}>;
        for (var c = 0; c < ${D}; c++) { kj[c] = k[row * ${D} + c] * ${f32(scale)}; }
        var vj : array<f32, ${DV}>;
        for (var c = 0; c < ${DV}; c++) { vj[c] = v[row * ${DV} + c]; }
        var dkAcc : array<f32, ${D}>;
        var dvAcc : array<f32, ${DV}>;
        ${kRange.code}
        for (var tile = tiles.x; tile < tiles.y; tile++) {
          let i0 = tile * ${BC};
          let n = min(${BC}, ${Tq} - i0);
          let qRow = bh * ${Tq} + i0;
          ${tk.shared ? `for (var x = lane; x < n * ${D}; x += ${BR}) { attendQ[x] = q[qRow * ${D} + x]; }
          for (var x = lane; x < n * ${DV}; x += ${BR}) { attendG[x] = dO[qRow * ${DV} + x]; }` : ''}
          for (var x = lane; x < ${BC}; x += ${BR}) {
            if (x < n) {
              attendStats[x * 2] = stats[(qRow + x) * 2];
              attendStats[x * 2 + 1] = stats[(qRow + x) * 2 + 1];
            } else {
              attendStats[x * 2] = -uniforms.INFINITY;
              attendStats[x * 2 + 1] = 0.0;
            }
          }
          workgroupBarrier();
          if (go) {
            for (var ii = 0; ii < ${BC}; ii++) {
              let li = attendStats[ii * 2];
              if (!(li > -uniforms.INFINITY${causal ? ' && i0 + ii >= j' : ''})) { continue; }
              var s = 0.0;
              for (var c = 0; c < ${D}; c++) { s += ${qAt('c')} * kj[c]; }
              let p = exp(s - li);
              var dp = 0.0;
              for (var c = 0; c < ${DV}; c++) {
                let g = ${gAt('c')};
                dp += g * vj[c];
                dvAcc[c] += p * g;
              }
              let ds = p * (dp - attendStats[ii * 2 + 1]) * ${f32(scale)};
              for (var c = 0; c < ${D}; c++) { dkAcc[c] += ds * ${qAt('c')}; }
            }
          }
          workgroupBarrier();
        }
        if (live) {
          let out = row * ${D + DV};
          for (var c = 0; c < ${D}; c++) { result[out + c] = dkAcc[c]; }
          for (var c = 0; c < ${DV}; c++) { result[out + ${D} + c] = dvAcc[c]; }
        }`),
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

// tensorflow: Attend's native ops (the kernels exist only where tensorflowNativeOps(): see fusedAttentionAvailable).
function tensorflowAttrs(attrs: tf.NamedAttrMap | undefined) {
  const { causal, scale } = attrs as unknown as FusedAttentionAttrs;
  return (b: TFBinding) => tfAttrs(b, { bool: { causal }, float: { scale } });
}

const tensorflowForward = ((args: Args) => {
  const { q, k, v, mask } = args.inputs as Record<string, tf.TensorInfo>;
  return runTensorflowOp('AttendFusedAttention', [q!, k!, v!, mask ?? null], tensorflowAttrs(args.attrs), 2);
}) as unknown as tf.KernelFunc;

const tensorflowGrad = ((args: Args) => {
  const { q, k, v, mask, context, lse, dContext, dLse } = args.inputs as Record<string, tf.TensorInfo>;
  return runTensorflowOp('AttendFusedAttentionGrad', [q!, k!, v!, mask ?? null, context!, lse!, dContext!, dLse!], tensorflowAttrs(args.attrs), 3);
}) as unknown as tf.KernelFunc;

/**
 * The packed self-attention's attributes: `heads` splits each of q, k, v's d columns into heads of
 * d/heads; `batch` is B for qkv given as rows `[B·T, 3d]` (0 for `[B, T, 3d]`).
 */
interface FusedSelfAttentionAttrs extends FusedAttentionAttrs {
  heads: number;
  batch: number;
}

function selfAttentionAttrs(attrs: tf.NamedAttrMap | undefined) {
  const { heads, batch, causal, scale } = attrs as unknown as FusedSelfAttentionAttrs;
  return (b: TFBinding) => tfAttrs(b, { int: { heads, batch }, bool: { causal }, float: { scale } });
}

const tensorflowSelfForward = ((args: Args) => {
  const { qkv, mask, bias } = args.inputs as Record<string, tf.TensorInfo>;
  return runTensorflowOp('AttendFusedSelfAttention', [qkv!, mask ?? null, bias ?? null], selfAttentionAttrs(args.attrs), 2);
}) as unknown as tf.KernelFunc;

/** → [∂qkv, ∂bias] (∂bias `[0]` without a bias input). */
const tensorflowSelfGrad = ((args: Args) => {
  const { qkv, mask, bias, context, lse, dContext, dLse } = args.inputs as Record<string, tf.TensorInfo>;
  return runTensorflowOp('AttendFusedSelfAttentionGrad', [qkv!, mask ?? null, bias ?? null, context!, lse!, dContext!, dLse!], selfAttentionAttrs(args.attrs), 2);
}) as unknown as tf.KernelFunc;

const fusedSelfAttentionGradConfig: tf.GradConfig = {
  kernelName: FUSED_SELF_ATTENTION,
  inputsToSave: ['qkv', 'mask', 'bias'],
  outputsToSave: [true, true],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
    // saved = the inputs (qkv, mask, bias — `[0]` for none: tfjs saves every name listed) then the outputs.
    const [qkv, mask, bias, context, lse] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    const dys = Array.isArray(dy) ? dy : [dy];
    const inputs: tf.NamedTensorMap = { qkv, mask, bias, context, lse, dContext: dys[0] ?? tf.zerosLike(context), dLse: dys[1] ?? tf.zerosLike(lse) };
    const [dqkv, dbias] = tf.engine().runKernel(FUSED_SELF_ATTENTION_GRAD, inputs, attrs) as tf.Tensor[]; // ∂bias [0] without one
    return { qkv: () => dqkv!, mask: () => tf.zerosLike(mask), bias: () => dbias! };
  },
};

/** Attributes of SPLIT_HEADS: x `[B, T, parts·heads·d_k]` → block `part` as `[B, heads, T, d_k]`. */
interface SplitHeadsAttrs {
  heads: number;
  parts: number;
  part: number;
}

const tensorflowSplitHeads = ((args: Args) => {
  const { heads, parts, part } = args.attrs as unknown as SplitHeadsAttrs;
  return runTensorflowOp('AttendSplitHeads', [args.inputs.x!], (b) => tfAttrs(b, { int: { heads, parts, part } }), 1)[0];
}) as unknown as tf.KernelFunc;

const splitHeadsGradConfig: tf.GradConfig = {
  kernelName: SPLIT_HEADS,
  inputsToSave: ['x'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
    const { parts, part } = attrs as unknown as SplitHeadsAttrs;
    const [B, T, row] = saved[0]!.shape as [number, number, number];
    const width = row / parts;
    const merged = tf.reshape(tf.transpose(dy as tf.Tensor, [0, 2, 1, 3]), [B, T, width]); // [B, T, heads·d_k]
    return { x: () => tf.pad(merged, [[0, 0], [0, 0], [part * width, (parts - 1 - part) * width]]) };
  },
};

/** Registers the kernels (cpu, wasm, webgpu, tensorflow) and the gradient where missing; safe to call more than once. */
export function registerFusedAttention(): void {
  const kernels: [string, string, tf.KernelFunc][] = [
    [FUSED_ATTENTION, 'cpu', forwardKernel(cpuArrayIO)],
    [FUSED_ATTENTION_GRAD, 'cpu', gradKernel(cpuArrayIO)],
    [FUSED_ATTENTION, 'wasm', forwardKernel(wasmArrayIO)],
    [FUSED_ATTENTION_GRAD, 'wasm', gradKernel(wasmArrayIO)],
    [FUSED_ATTENTION, 'webgpu', webgpuForward as unknown as tf.KernelFunc],
    [FUSED_ATTENTION_GRAD, 'webgpu', webgpuGrad as unknown as tf.KernelFunc],
    [FUSED_ATTENTION, 'tensorflow', tensorflowForward],
    [FUSED_ATTENTION_GRAD, 'tensorflow', tensorflowGrad],
  ];
  for (const [kernelName, backendName, kernelFunc] of kernels) {
    if (!tf.getKernel(kernelName, backendName)) tf.registerKernel({ kernelName, backendName, kernelFunc });
  }
  if (!tf.getGradient(FUSED_ATTENTION)) tf.registerGradient(fusedAttentionGradConfig);
  if (!tf.getKernel(FUSED_SELF_ATTENTION, 'tensorflow')) tf.registerKernel({ kernelName: FUSED_SELF_ATTENTION, backendName: 'tensorflow', kernelFunc: tensorflowSelfForward });
  if (!tf.getKernel(FUSED_SELF_ATTENTION_GRAD, 'tensorflow')) tf.registerKernel({ kernelName: FUSED_SELF_ATTENTION_GRAD, backendName: 'tensorflow', kernelFunc: tensorflowSelfGrad });
  if (!tf.getGradient(FUSED_SELF_ATTENTION)) tf.registerGradient(fusedSelfAttentionGradConfig);
  if (!tf.getKernel(SPLIT_HEADS, 'tensorflow')) tf.registerKernel({ kernelName: SPLIT_HEADS, backendName: 'tensorflow', kernelFunc: tensorflowSplitHeads });
  if (!tf.getGradient(SPLIT_HEADS)) tf.registerGradient(splitHeadsGradConfig);
}

export type FusedAttentionMode = 'auto' | 'fused' | 'composite';
export const FUSED_ATTENTION_MODES: readonly FusedAttentionMode[] = ['auto', 'fused', 'composite'];

/**
 * Backends where `'auto'` picks the fused kernel: where it beats the composite path. Not `wasm`: there
 * the kernel is plain JS over the heap and the composite path's XNNPACK matMuls win (B=16, h=4,
 * T=128, d=32 fwd+bwd on 2 vCPUs: fused 330 ms vs composite 257 ms causal; on cpu, fused 281 ms vs
 * composite 1144 ms). Mode `'fused'` runs it on wasm too. On tensorflow only where Attend's native ops
 * are loaded (the kernel is one of them).
 */
export const FUSED_ATTENTION_AUTO_BACKENDS: readonly string[] = ['cpu', 'webgpu', 'tensorflow'];

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
  if (backend === 'tensorflow' && !tensorflowNativeOps()) return false; // its kernel is Attend's native op
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
  if (backend === 'tensorflow' && !tensorflowNativeOps()) {
    throw new ConfigError(`fusedAttention: on the tensorflow backend the ${FUSED_ATTENTION} kernel is one of Attend's native ops, which are not loaded (run \`attend setup tensorflow\`); use fusedAttention() for the composite fallback`);
  }
  if (!tf.getKernel(FUSED_ATTENTION, backend)) {
    throw new ConfigError(`fusedAttention: no ${FUSED_ATTENTION} kernel for backend '${backend}' (have: ${FUSED_ATTENTION_BACKENDS.join(', ')}); use fusedAttention() for the composite fallback`);
  }
  return tf.tidy(() => {
    const inputs: tf.NamedTensorMap = { q, k, v, mask: keyMask('fusedAttention', mask, q.shape[0], k.shape[2]) };
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

/**
 * Whether `fusedSelfAttention` runs here: on tensorflow with Attend's native ops loaded, unless the
 * mode is `'composite'`.
 */
export function fusedSelfAttentionAvailable(): boolean {
  registerFusedAttention();
  return mode !== 'composite' && tf.getBackend() === 'tensorflow' && tensorflowNativeOps();
}

export interface FusedSelfAttentionOptions {
  /** Heads: each of q, k, v's d columns splits into `heads` blocks of d/heads. */
  heads: number;
  /** B, when qkv comes as rows `[B·T, 3d]` (the context is then rows `[B·T, d]` too). */
  batch?: number;
  /** `[3d]`: [b_q | b_k | b_v], added to q, k, v inside the kernel (its gradient too), instead of to qkv before it. */
  bias?: tf.Tensor1D;
  /** Query i attends to keys j ≤ i only (default false). */
  causal?: boolean;
  /** `[B, T]` padding mask (non-zero = real key). */
  mask?: tf.Tensor2D;
  /** Multiplies q·kᵀ; default 1/√(d/heads). */
  scale?: number;
}

/**
 * Self-attention from packed projections, with no head split or merge: `qkv` `[B, T, 3d]` — the
 * rows of x·[W_q | W_k | W_v] (+ biases), head h of q at columns h·d_k … of the first d, of k and v
 * likewise in the next two — → context `[B, T, d]` with the heads side by side (what the output
 * projection takes); or both as rows, qkv `[B·T, 3d]` with `batch: B` → context `[B·T, d]` (no
 * reshape around the projections). The same values and gradients as `fusedAttention` on the split
 * heads; needs `fusedSelfAttentionAvailable()`. The caller owns the result. (`packedHeads` gives the
 * keys and values split into heads, e.g. for a cache.)
 */
export function fusedSelfAttention<T extends tf.Tensor3D | tf.Tensor2D>(qkv: T, options: FusedSelfAttentionOptions): T {
  registerFusedAttention();
  const { heads, causal = false, mask, bias } = options;
  const [B, T] = checkPacked('fusedSelfAttention', qkv, heads, 3, options.batch);
  const width = qkv.shape[qkv.rank - 1]!;
  if (bias !== undefined && (!(bias instanceof tf.Tensor) || bias.rank !== 1 || bias.shape[0] !== width || bias.dtype !== 'float32')) {
    throw new ShapeError(`fusedSelfAttention: expected bias float32 [${width}] ([b_q | b_k | b_v]), got ${bias instanceof tf.Tensor ? `${bias.dtype} ${fmt(bias)}` : typeof bias}`);
  }
  const scale = options.scale ?? 1 / Math.sqrt(width / 3 / heads);
  return tf.tidy(() => {
    const attrs: FusedSelfAttentionAttrs = { heads, batch: qkv.rank === 2 ? B : 0, causal, scale };
    const inputs: tf.NamedTensorMap = { qkv, mask: keyMask('fusedSelfAttention', mask, B, T), bias: bias ?? tf.zeros([0]) }; // always a bias input ([0]: none): tfjs saves every input the gradient names
    const [context, lse] = tf.engine().runKernel(FUSED_SELF_ATTENTION, inputs, attrs as unknown as tf.NamedAttrMap) as [T, tf.Tensor3D];
    lse!.dispose();
    return context!;
  });
}

/**
 * Block `part` of `parts` packed projections `[B, T, parts·d]` split into heads: `[B, heads, T, d/heads]`
 * — e.g. the keys (part 1 of 3) of fusedSelfAttention's qkv — in one op instead of a slice, a reshape
 * and a transpose. Differentiable; needs `fusedSelfAttentionAvailable()`. The caller owns the result.
 */
export function packedHeads(x: tf.Tensor3D, heads: number, parts: number, part: number): tf.Tensor4D {
  registerFusedAttention();
  checkPacked('packedHeads', x, heads, parts);
  if (!Number.isInteger(part) || part < 0 || part >= parts) throw new ConfigError(`packedHeads: expected part an integer in [0, ${parts}), got ${part}`);
  const attrs: SplitHeadsAttrs = { heads, parts, part };
  return tf.engine().runKernel(SPLIT_HEADS, { x }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

/**
 * The kernels' mask input: `mask` `[B, Tk]` (any dtype; non-zero = real key) as float 1/0, or all ones
 * when none is given — always a mask input, since tfjs saves every input a gradient names. Throws
 * naming the expected shape. Call inside a tidy.
 */
function keyMask(what: string, mask: tf.Tensor | undefined, B: number, Tk: number): tf.Tensor {
  if (mask === undefined) return tf.ones([B, Tk]);
  if (!(mask instanceof tf.Tensor) || mask.rank !== 2 || mask.shape[0] !== B || mask.shape[1] !== Tk) {
    throw new ShapeError(`${what}: expected mask of shape [${B}, ${Tk}] (1 = real key, 0 = padding), got ${mask instanceof tf.Tensor ? fmt(mask) : typeof mask}`);
  }
  return mask.dtype === 'float32' ? mask : tf.cast(tf.notEqual(mask, 0), 'float32');
}

/**
 * Checks packed projections `[B, T, parts·heads·d_k]` (or rows `[B·T, …]` with `batch` = B) and that
 * the native kernels run here; returns [B, T].
 */
function checkPacked(what: string, x: tf.Tensor, heads: number, parts: number, batch?: number): [number, number] {
  const shape = `[B, T, ${parts}d]${batch === undefined ? '' : ` or [B·T, ${parts}d] with batch = B`}`;
  if (!(x instanceof tf.Tensor) || !(x.rank === 3 || (x.rank === 2 && batch !== undefined)) || x.dtype !== 'float32') {
    throw new ShapeError(`${what}: expected float32 ${shape}, got ${x instanceof tf.Tensor ? `${x.dtype} ${fmt(x)}` : typeof x}`);
  }
  const width = x.shape[x.rank - 1]!;
  if (x.rank === 2 && (!Number.isInteger(batch) || batch! < 1 || x.shape[0]! % batch! !== 0)) {
    throw new ConfigError(`${what}: expected batch a positive integer dividing the ${x.shape[0]} rows of ${fmt(x)}, got ${batch}`);
  }
  if (!Number.isInteger(heads) || heads < 1 || width % (parts * heads) !== 0) {
    throw new ConfigError(`${what}: expected heads a positive integer dividing d = ${width / parts} (input ${fmt(x)}), got ${heads}`);
  }
  if (!fusedSelfAttentionAvailable()) {
    throw new ConfigError(`${what}: runs only on the tensorflow backend with Attend's native ops (attend setup tensorflow); backend here: '${tf.getBackend()}'`);
  }
  return x.rank === 3 ? [x.shape[0]!, x.shape[1]!] : [batch!, x.shape[0]! / batch!];
}
