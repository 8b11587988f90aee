// The fused recurrent sequences of ./fused-sequence.ts on the `webgpu` backend, in WGSL: the same
// kernel names, inputs, outputs, equations and layouts (that file's header gives them). Forward: ONE
// dispatch per timestep for the LSTM, the reset-after GRU and the vanilla RNN (an invocation per
// (b, u) computes its unit's gate pre-activations — rows of h_{t−1}·W_h (+ b_h) — and the state
// update), two for the taught GRU (r and z first: the candidate's matmul needs all of r ⊙ h).
// Backward: ONE dispatch per step (two for the taught GRU): an invocation per (b, u) finishes its
// unit of dh_t (+= dz_{t+1}·W_hᵀ, row t + 1 written by the previous dispatch) and goes straight on to
// step t's elementwise part, which needs no other unit of dh (the taught GRU's d(r ⊙ h) = dn̂·W_nᵀ
// needs all of dn̂_t first: its second dispatch); one more dispatch finishes dh_0. dW_h = Σ_t
// h_{t−1}ᵀ·dz_t (and the reset-after GRU's db_h) is not computed here: the Grad kernels return dz
// (and the taught GRU's r ⊙ h_{t−1}, the reset-after GRU's dhp) and ./fused-sequence.ts takes it as
// one tfjs matMul, a tiled GEMM (an invocation per element of dW_h re-read B·T rows of both). Every
// step reads and writes one state buffer (the program's read_write output, passed back in for the
// next dispatch), with the timestep t as a uniform, so each shader compiles once per shape; WebGPU
// orders the dispatches. The state buffer is then cut into the outputs.
// The step programs' recurrent products are tiled (tiledStepProgram), as a GEMM's: a workgroup of
// BB × BU = 8 × 32 invocations covers 8 batch rows × 32 units and walks the reduction in chunks of K,
// staging the 8 × K block of h_{t−1} (dz, r ⊙ h, dn̂) and the K × (gate columns · 32) block of W_h
// (W_hᵀ backward) in workgroup memory, so each element of W_h is read from global memory once per
// 8 rows instead of once per row (at B = 256, H = 512 the LSTM step read W_h's 4 MB 256 times, ~1 GB
// a step); then each invocation does its unit's elementwise part as before. K = 16 for 3–4 gate
// columns, 32 for 1–2; workgroup memory, whatever H: the LSTM step 8.5 KiB (128 + 16·128 floats),
// the reset-after GRU step 6.5 KiB, the taught GRU's r/z step 9 KiB, every one-column product (the
// backward steps, the taught GRU's candidate step, the RNN step) 5 KiB (256 + 32·32 floats; the
// backward's W_hᵀ tile 32·33, its rows padded by one float against bank conflicts) — within WebGPU's
// default 16 KiB and 256 invocations. Within a dispatch no invocation reads state that another
// writes: a forward step reads row t of hs and writes row t + 1 (row 0 comes from h0 at t = 0); a
// backward step reads row t + 1 of D (the taught GRU's second program row t's dn̂ columns, written by
// the first) and writes row t; dhProgram (dh_0, once after the steps) reads row 0 and writes only dh.
// Correctness is tested on Mesa's llvmpipe (software; ATTEND_WEBGPU_ALLOW_SOFTWARE=1); the speed on
// a GPU is not measured yet, so mode 'auto' does not pick these (setFusedSequenceMode('fused') does).
import type * as tf from '@tensorflow/tfjs-core';
import { webgpuGroupProgram, webgpuRowProgram, type WebGPUBackendLike, type WebGPUProgramLike } from '@attend/core';

type Args = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };
type Infos = Record<string, tf.TensorInfo>;

const up = (t: number) => Array.from({ length: t }, (_, i) => i);
const down = (t: number) => up(t).reverse();

const PRELUDE = `
fn attendSigmoid(x : f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }
fn attendTanh(x : f32) -> f32 { return tanh(clamp(x, -15.0, 15.0)); }`;

/** The tiled step programs' workgroup: BB batch rows × BU units, an invocation each. */
const BB = 8;
const BU = 32;
const LANES = BB * BU;

/**
 * A step program's recurrent product, `columns` sums per (b, u): dot_c = Σ_{k<n} a(b, k)·w(k, c, u)
 * — h_{t−1}·W_h's gate columns forward, dz_{t+1}·W_hᵀ backward.
 */
interface Product {
  n: number;
  columns: number;
  /** WGSL: the left operand at (row, k), row < B, k < n. */
  a: (row: string, k: string) => string;
  /** WGSL: W's element for k, column c (a WGSL i32), unit u < H. */
  w: (k: string, c: string, u: string) => string;
  /** w is contiguous along k (W_hᵀ: a row of W_h per unit), not along u: the tile loads walk k first. */
  alongK?: boolean;
  /** A uniform WGSL condition: the products are computed only where it holds (else the dots stay 0). */
  when?: string;
}

/**
 * A per-step program whose recurrent product is tiled: a workgroup per block of BB rows × BU units
 * stages, K steps of the reduction at a time, the BB × K block of a and the K × columns·BU block of W
 * in workgroup memory (zeros past B, H and n), so each element of W is read once per workgroup
 * instead of once per row. Then `body` (`b`, the unit, `t` in scope), with `dot0`, `dot1`, … the sums, for the
 * invocations inside B × H (`live`; not in the spare workgroups of the grid, which redo the last
 * block). @attend/core's webgpuGroupProgram gives the workgroups, on a balanced 2-D grid past 65,535:
 * barriers need every invocation of the workgroup, so none returns early, and the loop around them
 * depends on constants and the uniform t only.
 */
function tiledStepProgram(key: string, inputs: string[], total: number, B: number, H: number, p: Product, body: string, unit = 'u', declarations = ''): WebGPUProgramLike {
  const C = p.columns;
  const K = C > 2 ? 16 : 32;
  const nU = Math.ceil(H / BU);
  const groups = Math.ceil(B / BB) * nU;
  const pitch = C * BU + (p.alongK ? 1 : 0); // a W tile row; padded where loads store down its columns (banks)
  const [kk, c, uu] = p.alongK ? [`i % ${K}`, `(i / ${K}) % ${C}`, `i / ${K * C}`] : [`i / ${C * BU}`, `(i / ${BU}) % ${C}`, `i % ${BU}`];
  const sums = up(C).map((j) => `var dot${j} = 0.0;`).join(' ');
  const fma = up(C).map((j) => `dot${j} += a * attendTileW[w + ${j * BU}];`).join(' ');
  const product = `for (var k0 = 0; k0 < ${p.n}; k0 += ${K}) {
          for (var i = lane; i < ${BB * K}; i += ${LANES}) {
            let row = b0 + i / ${K};
            let kr = k0 + i % ${K};
            var v = 0.0;
            if (row < ${B} && kr < ${p.n}) { v = ${p.a('row', 'kr')}; }
            attendTileA[i] = v;
          }
          for (var i = lane; i < ${K * C * BU}; i += ${LANES}) {
            let kt = ${kk}; let ct = ${c}; let ut = ${uu};
            let kr = k0 + kt; let ur = u0 + ut;
            var v = 0.0;
            if (kr < ${p.n} && ur < ${H}) { v = ${p.w('kr', 'ct', 'ur')}; }
            attendTileW[kt * ${pitch} + ct * ${BU} + ut] = v;
          }
          workgroupBarrier();
          for (var j = 0; j < ${K}; j++) {
            let a = attendTileA[rb * ${K} + j];
            let w = j * ${pitch} + ub;
            ${fma}
          }
          workgroupBarrier();
        }`;
  return webgpuGroupProgram(`${key}_${BB}_${BU}_${K}`, inputs, [total], {
    groups,
    lanes: LANES,
    uniforms: 't : i32,',
    declarations: `${PRELUDE}
      var<workgroup> attendTileA : array<f32, ${BB * K}>;
      var<workgroup> attendTileW : array<f32, ${K * pitch}>;
      ${declarations}`,
    body: `
        let t = uniforms.t;
        let gb = group / ${nU};
        let b0 = gb * ${BB};
        let u0 = (group - gb * ${nU}) * ${BU};
        let rb = lane / ${BU};
        let ub = lane - rb * ${BU};
        let b = b0 + rb;
        let ${unit} = u0 + ub;
        let live = !spare && b < ${B} && ${unit} < ${H};
        ${sums}
        ${p.when ? `if (${p.when}) {\n        ${product}\n        }` : product}
        if (live) {
          ${body}
        }`,
  });
}

/** Runs `program` once per t in `ts`, all into one state buffer of `total` floats; returns it. */
function loop(be: WebGPUBackendLike, programs: WebGPUProgramLike[], inputs: tf.TensorInfo[][], ts: number[], state?: tf.TensorInfo): tf.TensorInfo {
  let S = state;
  for (const t of ts) programs.forEach((p, i) => (S = be.runWebGPUProgram(p, inputs[i]!, 'float32', [{ type: 'int32', data: [t] }], S)));
  return S!;
}

/** Copies `n` floats of S from `off` into a new tensor of `shape`. */
function cut(be: WebGPUBackendLike, S: tf.TensorInfo, off: number, shape: number[]): tf.TensorInfo {
  const n = shape.reduce((a, b) => a * b, 1);
  return be.runWebGPUProgram(webgpuRowProgram(`attendCut_${S.shape[0]}_${off}_${n}`, ['S'], shape, n, `result[index] = S[${off} + index];`), [S], 'float32');
}

function cutAll(be: WebGPUBackendLike, S: tf.TensorInfo, parts: [number, number[]][]): tf.TensorInfo[] {
  const outs = parts.map(([off, shape]) => cut(be, S, off, shape));
  be.disposeData(S.dataId);
  return outs;
}

/**
 * h_{t−1} for a forward step program: `declaration` (WGSL: attendPrevH(row, k) = h0 at t = 0, else row
 * t of the state's hs at HS), the product's left operand `a`, and `hPrev` = h_{t−1}[b, u] (at t = 0 it
 * also goes into row 0 of hs).
 */
function previousH(HS: number, BH: number, H: number) {
  return {
    declaration: `fn attendPrevH(row : i32, k : i32) -> f32 {
        if (uniforms.t == 0) { return h0[row * ${H} + k]; }
        return result[${HS} + uniforms.t * ${BH} + row * ${H} + k];
      }`,
    a: (row: string, k: string) => `attendPrevH(${row}, ${k})`,
    hPrev: `let hPrev = attendPrevH(b, u);
    if (t == 0) { result[${HS} + b * ${H} + u] = hPrev; }`,
  };
}

/** h_{t−1} (`a`)·W_h's gate blocks off … off + columns − 1 (W_h [H, G], block c at columns c·H …). */
function gateProduct(H: number, G: number, a: Product['a'], columns: number, off = 0): Product {
  return { n: H, columns, a, w: (k, c, u) => `W[${k} * ${G} + (${c} + ${off}) * ${H} + ${u}]` };
}

// ---------------------------------------------------------------------------------------------
// LSTM. State S: acts [T, B, 4H] | cs [T + 1, B, H] | tcs [T, B, H] | hs [T + 1, B, H] | packed [B, T + 2, H].

export function lstmForwardWebgpu(args: Args): tf.TensorInfo[] {
  const { xp, W_h, h0, c0, mask } = args.inputs as Infos;
  const be = args.backend as WebGPUBackendLike;
  const [B, T, G] = xp!.shape as [number, number, number];
  const H = G / 4;
  const BH = B * H;
  const CS = T * B * G;
  const TCS = CS + (T + 1) * BH;
  const HS = TCS + T * BH;
  const PK = HS + (T + 1) * BH;
  const total = PK + B * (T + 2) * H;
  const prev = previousH(HS, BH, H);
  const step = tiledStepProgram(`attendLstmStep_${B}_${T}_${H}`, ['xp', 'W', 'h0', 'c0', 'mask'], total, B, H, gateProduct(H, G, prev.a, 4), `
    let xo = (b * ${T} + t) * ${G};
    let zi = xp[xo + u] + dot0; let zf = xp[xo + ${H} + u] + dot1; let zg = xp[xo + ${2 * H} + u] + dot2; let zo = xp[xo + ${3 * H} + u] + dot3;
    ${prev.hPrev}
    var cPrev : f32;
    if (t == 0) {
      cPrev = c0[b * ${H} + u];
      result[${CS} + b * ${H} + u] = cPrev;
    } else {
      cPrev = result[${CS} + t * ${BH} + b * ${H} + u];
    }
    let m = mask[b * ${T} + t];
    let i = attendSigmoid(zi); let f = attendSigmoid(zf); let g = attendTanh(zg); let o = attendSigmoid(zo);
    let ao = (t * ${B} + b) * ${G};
    result[ao + u] = i; result[ao + ${H} + u] = f; result[ao + ${2 * H} + u] = g; result[ao + ${3 * H} + u] = o;
    let cc = f * cPrev + i * g;
    let tc = attendTanh(cc);
    let hc = o * tc;
    result[${TCS} + t * ${BH} + b * ${H} + u] = tc;
    result[${PK} + (b * ${T + 2} + t) * ${H} + u] = m * hc;
    let cN = select(cPrev + m * (cc - cPrev), cc, m == 1.0);
    let hN = select(hPrev + m * (hc - hPrev), hc, m == 1.0);
    result[${CS} + (t + 1) * ${BH} + b * ${H} + u] = cN;
    result[${HS} + (t + 1) * ${BH} + b * ${H} + u] = hN;
    if (t == ${T - 1}) {
      result[${PK} + (b * ${T + 2} + ${T}) * ${H} + u] = hN;
      result[${PK} + (b * ${T + 2} + ${T + 1}) * ${H} + u] = cN;
    }`, 'u', prev.declaration);
  const S = loop(be, [step], [[xp!, W_h!, h0!, c0!, mask!]], up(T));
  return cutAll(be, S, [[PK, [B, T + 2, H]], [0, [T, B, G]], [CS, [T + 1, B, H]], [TCS, [T, B, H]], [HS, [T + 1, B, H]]]);
}

/** Σ_j D[b, `step`, wOff + j]·W_h[unit, wOff + j] over j < n: a product with W_hᵀ, rows of D [B, T, G] at 0 (`step` a WGSL expression of t). */
function timesWT(T: number, G: number, n: number, step: string, wOff = 0): Product {
  return {
    n,
    columns: 1,
    a: (row, j) => `result[(${row} * ${T} + ${step}) * ${G} + ${wOff} + ${j}]`,
    w: (j, _c, u) => `W[${u} * ${G} + ${wOff} + ${j}]`,
    alongK: true,
  };
}

/**
 * dz_{t+1}·W_hᵀ over the first `n` columns of row t + 1 of D (written by the previous dispatch), for a
 * backward step program at t < T − 1: its `dot0` plus the part the state holds at DH is dh_t[b, unit].
 * Each invocation needs only its own unit of dh_t, so this product and step t's elementwise part
 * share one dispatch; the last dh (dh_0) is finished by `dhProgram` at t = 0.
 */
function carriedDh(T: number, G: number, n: number): Product {
  return { ...timesWT(T, G, n, 't + 1'), when: `t < ${T - 1}` };
}

/** dh_{t−1} += dz_t·W_hᵀ over the first `n` columns of row t of D, into D at DH: run once, at t = 0, for dh_0. */
function dhProgram(key: string, total: number, B: number, T: number, H: number, G: number, DH: number, n: number): WebGPUProgramLike {
  return tiledStepProgram(`attendSeqDh_${key}_${B}_${T}_${H}_${G}_${n}`, ['W'], total, B, H, timesWT(T, G, n, 't'), `result[${DH} + b * ${H} + u] += dot0;`);
}

// D: dxp [B, T, 4H] | dh [B, H] | dc [B, H].
export function lstmGradWebgpu(args: Args): tf.TensorInfo[] {
  const { W_h, mask, acts, cs, tcs, dy } = args.inputs as Infos;
  const be = args.backend as WebGPUBackendLike;
  const [T, B, G] = acts!.shape as [number, number, number];
  const H = G / 4;
  const BH = B * H;
  const DH = B * T * G;
  const DC = DH + BH;
  const total = DC + BH;
  // One dispatch a step: dh_t (carriedDh), then dz_t and the carried parts of dh_{t−1}, dc_{t−1}.
  const dz = tiledStepProgram(`attendLstmGradDz_${B}_${T}_${H}`, ['W', 'mask', 'acts', 'cs', 'tcs', 'dy'], total, B, H, carriedDh(T, G, G), `
    let m = mask[b * ${T} + t];
    var dhOld : f32; var dcOld : f32;
    if (t == ${T - 1}) {
      dhOld = dy[(b * ${T + 2} + ${T}) * ${H} + u]; dcOld = dy[(b * ${T + 2} + ${T + 1}) * ${H} + u];
    } else {
      dhOld = result[${DH} + b * ${H} + u] + dot0; dcOld = result[${DC} + b * ${H} + u];
    }
    let ao = (t * ${B} + b) * ${G};
    let i = acts[ao + u]; let f = acts[ao + ${H} + u]; let g = acts[ao + ${2 * H} + u]; let o = acts[ao + ${3 * H} + u];
    let tc = tcs[t * ${BH} + b * ${H} + u];
    let dhh = m * (dy[(b * ${T + 2} + t) * ${H} + u] + dhOld);
    let dcc = m * dcOld + dhh * o * (1.0 - tc * tc);
    let d = (b * ${T} + t) * ${G};
    result[d + u] = dcc * g * i * (1.0 - i);
    result[d + ${H} + u] = dcc * cs[t * ${BH} + b * ${H} + u] * f * (1.0 - f);
    result[d + ${2 * H} + u] = dcc * i * (1.0 - g * g);
    result[d + ${3 * H} + u] = dhh * tc * o * (1.0 - o);
    result[${DC} + b * ${H} + u] = dcc * f + (1.0 - m) * dcOld;
    result[${DH} + b * ${H} + u] = (1.0 - m) * dhOld;`);
  const D = loop(be, [dhProgram('lstm', total, B, T, H, G, DH, G)], [[W_h!]], [0], loop(be, [dz], [[W_h!, mask!, acts!, cs!, tcs!, dy!]], down(T)));
  return cutAll(be, D, [[0, [B, T, G]], [DH, [B, H]], [DC, [B, H]]]); // [dxp, dh0, dc0]
}

// ---------------------------------------------------------------------------------------------
// The taught GRU. S: acts [T, B, 3H] | hs [T + 1, B, H] | packed [B, T + 1, H] | r ⊙ h [T, B, H].

export function gruForwardWebgpu(args: Args): tf.TensorInfo[] {
  const { xp, W_h, h0, mask } = args.inputs as Infos;
  const be = args.backend as WebGPUBackendLike;
  const [B, T, G] = xp!.shape as [number, number, number];
  const H = G / 3;
  const BH = B * H;
  const HS = T * B * G;
  const PK = HS + (T + 1) * BH;
  const RH = PK + B * (T + 1) * H;
  const total = RH + T * BH;
  const prev = previousH(HS, BH, H);
  const rz = tiledStepProgram(`attendGruStepRz_${B}_${T}_${H}`, ['xp', 'W', 'h0'], total, B, H, gateProduct(H, G, prev.a, 2), `
    let xo = (b * ${T} + t) * ${G};
    let zr = xp[xo + u] + dot0; let zz = xp[xo + ${H} + u] + dot1;
    ${prev.hPrev}
    let r = attendSigmoid(zr);
    let ao = (t * ${B} + b) * ${G};
    result[ao + u] = r; result[ao + ${H} + u] = attendSigmoid(zz);
    result[${RH} + t * ${BH} + b * ${H} + u] = r * hPrev;`, 'u', prev.declaration);
  // (r ⊙ h_{t−1})·W_n: rows of r ⊙ h at RH, written by rz.
  const rh = (row: string, k: string) => `result[${RH} + t * ${BH} + ${row} * ${H} + ${k}]`;
  const n = tiledStepProgram(`attendGruStepN_${B}_${T}_${H}`, ['xp', 'W', 'mask'], total, B, H, gateProduct(H, G, rh, 1, 2), `
    let nn = attendTanh(xp[(b * ${T} + t) * ${G} + ${2 * H} + u] + dot0);
    let ao = (t * ${B} + b) * ${G};
    result[ao + ${2 * H} + u] = nn;
    let hPrev = result[${HS} + t * ${BH} + b * ${H} + u];
    let hc = hPrev + result[ao + ${H} + u] * (nn - hPrev);
    let m = mask[b * ${T} + t];
    result[${PK} + (b * ${T + 1} + t) * ${H} + u] = m * hc;
    let hN = select(hPrev + m * (hc - hPrev), hc, m == 1.0);
    result[${HS} + (t + 1) * ${BH} + b * ${H} + u] = hN;
    if (t == ${T - 1}) { result[${PK} + (b * ${T + 1} + ${T}) * ${H} + u] = hN; }`);
  const S = loop(be, [rz, n], [[xp!, W_h!, h0!], [xp!, W_h!, mask!]], up(T));
  return cutAll(be, S, [[PK, [B, T + 1, H]], [0, [T, B, G]], [HS, [T + 1, B, H]]]);
}

// D: dxp [B, T, 3H] | dh [B, H] | r ⊙ h_{t−1} [T, B, H].
export function gruGradWebgpu(args: Args): tf.TensorInfo[] {
  const { W_h, mask, acts, hs, dy } = args.inputs as Infos;
  const be = args.backend as WebGPUBackendLike;
  const [T, B, G] = acts!.shape as [number, number, number];
  const H = G / 3;
  const BH = B * H;
  const DH = B * T * G;
  const RH = DH + BH;
  const total = RH + T * BH;
  // dĥ (parked where dẑ goes), dn̂, r ⊙ h_{t−1}; dh keeps its old value for the next program.
  // dh_t first (carriedDh: + the r and z columns of dz_{t+1}·W_hᵀ).
  const p1 = tiledStepProgram(`attendGruGrad1_${B}_${T}_${H}`, ['W', 'mask', 'acts', 'hs', 'dy'], total, B, H, carriedDh(T, G, 2 * H), `
    var dhOld : f32;
    if (t == ${T - 1}) { dhOld = dy[(b * ${T + 1} + ${T}) * ${H} + u]; } else { dhOld = result[${DH} + b * ${H} + u] + dot0; }
    let m = mask[b * ${T} + t];
    let dhh = m * (dy[(b * ${T + 1} + t) * ${H} + u] + dhOld);
    let ao = (t * ${B} + b) * ${G};
    let nn = acts[ao + ${2 * H} + u];
    let d = (b * ${T} + t) * ${G};
    result[d + ${2 * H} + u] = dhh * acts[ao + ${H} + u] * (1.0 - nn * nn);
    result[d + ${H} + u] = dhh;
    result[${RH} + t * ${BH} + b * ${H} + u] = acts[ao + u] * hs[t * ${BH} + b * ${H} + u];
    result[${DH} + b * ${H} + u] = dhOld;`);
  // d(r⊙h) = dn̂·W_nᵀ (dn̂_t: row t of D, written by p1), then dr̂, dẑ and dh_{t−1} = dĥ(1 − z) + d(r⊙h)⊙r + (1 − m)dh.
  const p2 = tiledStepProgram(`attendGruGrad2_${B}_${T}_${H}`, ['W', 'mask', 'acts', 'hs'], total, B, H, timesWT(T, G, H, 't', 2 * H), `
    let d = (b * ${T} + t) * ${G};
    let dR = dot0;
    let ao = (t * ${B} + b) * ${G};
    let r = acts[ao + k]; let z = acts[ao + ${H} + k]; let nn = acts[ao + ${2 * H} + k];
    let hp = hs[t * ${BH} + b * ${H} + k];
    let dhh = result[d + ${H} + k];
    result[d + k] = dR * hp * r * (1.0 - r);
    result[d + ${H} + k] = dhh * (nn - hp) * z * (1.0 - z);
    let m = mask[b * ${T} + t];
    result[${DH} + b * ${H} + k] = dhh * (1.0 - z) + dR * r + (1.0 - m) * result[${DH} + b * ${H} + k];`, 'k');
  const D = loop(be, [dhProgram('gru', total, B, T, H, G, DH, 2 * H)], [[W_h!]], [0], loop(be, [p1, p2], [[W_h!, mask!, acts!, hs!, dy!], [W_h!, mask!, acts!, hs!]], down(T)));
  return cutAll(be, D, [[0, [B, T, G]], [DH, [B, H]], [RH, [T, B, H]]]); // [dxp, dh0, r ⊙ h_{t−1}]
}

// ---------------------------------------------------------------------------------------------
// The reset-after GRU (PyTorch's). S: acts [T, B, 3H] (r, z, n) | an [T, B, H] (a_n = h·W_hn + b_hn)
// | hs [T + 1, B, H] | packed [B, T + 1, H].

export function gruResetAfterForwardWebgpu(args: Args): tf.TensorInfo[] {
  const { xp, W_h, b_h, h0, mask } = args.inputs as Infos;
  const be = args.backend as WebGPUBackendLike;
  const [B, T, G] = xp!.shape as [number, number, number];
  const H = G / 3;
  const BH = B * H;
  const AN = T * B * G;
  const HS = AN + T * BH;
  const PK = HS + (T + 1) * BH;
  const total = PK + B * (T + 1) * H;
  // [a_r, a_z, a_n] = h·W_h + b_h: all three blocks from h_{t−1}, so one dispatch a step.
  const prev = previousH(HS, BH, H);
  const step = tiledStepProgram(`attendGruResetAfterStep_${B}_${T}_${H}`, ['xp', 'W', 'bh', 'h0', 'mask'], total, B, H, gateProduct(H, G, prev.a, 3), `
    let ar = bh[u] + dot0; let az = bh[${H} + u] + dot1; let an = bh[${2 * H} + u] + dot2;
    ${prev.hPrev}
    let xo = (b * ${T} + t) * ${G};
    let r = attendSigmoid(xp[xo + u] + ar);
    let z = attendSigmoid(xp[xo + ${H} + u] + az);
    let nn = attendTanh(xp[xo + ${2 * H} + u] + r * an);
    let ao = (t * ${B} + b) * ${G};
    result[ao + u] = r; result[ao + ${H} + u] = z; result[ao + ${2 * H} + u] = nn;
    result[${AN} + t * ${BH} + b * ${H} + u] = an;
    let hc = hPrev + z * (nn - hPrev);
    let m = mask[b * ${T} + t];
    result[${PK} + (b * ${T + 1} + t) * ${H} + u] = m * hc;
    let hN = select(hPrev + m * (hc - hPrev), hc, m == 1.0);
    result[${HS} + (t + 1) * ${BH} + b * ${H} + u] = hN;
    if (t == ${T - 1}) { result[${PK} + (b * ${T + 1} + ${T}) * ${H} + u] = hN; }`, 'u', prev.declaration);
  const S = loop(be, [step], [[xp!, W_h!, b_h!, h0!, mask!]], up(T));
  return cutAll(be, S, [[PK, [B, T + 1, H]], [0, [T, B, G]], [AN, [T, B, H]], [HS, [T + 1, B, H]]]);
}

// D: dhp [B, T, 3H] (dr̂, dẑ, dn̂ ⊙ r: the gradient of h·W_h + b_h) | dh [B, H] | dn̂ [B, T, H].
export function gruResetAfterGradWebgpu(args: Args): tf.TensorInfo[] {
  const { W_h, mask, acts, an, hs, dy } = args.inputs as Infos;
  const be = args.backend as WebGPUBackendLike;
  const [T, B, G] = acts!.shape as [number, number, number];
  const H = G / 3;
  const BH = B * H;
  const DH = B * T * G;
  const DN = DH + BH;
  const total = DN + B * T * H;
  // One dispatch a step, unit k: dh_t = (the part D holds) + dhp_{t+1}·W_hᵀ (row t + 1 of D, written by
  // the previous dispatch; dy's h_T row at t = T − 1), then dĥ = m(dy_t + dh_t), dn̂ = dĥ⊙z⊙(1 − n²),
  // dhp_t = [dn̂⊙a_n⊙r(1 − r), dĥ⊙(n − h)⊙z(1 − z), dn̂⊙r] and the part dĥ⊙(1 − z) + (1 − m)⊙dh_t.
  const step = tiledStepProgram(`attendGruResetAfterGrad_${B}_${T}_${H}`, ['W', 'mask', 'acts', 'an', 'hs', 'dy'], total, B, H, carriedDh(T, G, G), `
    var dh : f32;
    if (t == ${T - 1}) {
      dh = dy[(b * ${T + 1} + ${T}) * ${H} + k];
    } else {
      dh = result[${DH} + b * ${H} + k] + dot0;
    }
    let m = mask[b * ${T} + t];
    let dhh = m * (dy[(b * ${T + 1} + t) * ${H} + k] + dh);
    let ao = (t * ${B} + b) * ${G};
    let r = acts[ao + k]; let z = acts[ao + ${H} + k]; let nn = acts[ao + ${2 * H} + k];
    let dn = dhh * z * (1.0 - nn * nn);
    let d = (b * ${T} + t) * ${G};
    result[d + k] = dn * an[t * ${BH} + b * ${H} + k] * r * (1.0 - r);
    result[d + ${H} + k] = dhh * (nn - hs[t * ${BH} + b * ${H} + k]) * z * (1.0 - z);
    result[d + ${2 * H} + k] = dn * r;
    result[${DN} + (b * ${T} + t) * ${H} + k] = dn;
    result[${DH} + b * ${H} + k] = dhh * (1.0 - z) + (1.0 - m) * dh;`, 'k');
  // Then dh0 = its part + dhp_0·W_hᵀ (t = 0: row 0 of D).
  const D = loop(be, [dhProgram('gruResetAfter', total, B, T, H, G, DH, G)], [[W_h!]], [0], loop(be, [step], [[W_h!, mask!, acts!, an!, hs!, dy!]], down(T)));
  // dxp_t = [dr̂, dẑ, dn̂]: dhp's first 2H columns, then dn̂.
  const dxp = be.runWebGPUProgram(webgpuRowProgram(`attendGruResetAfterDxp_${B}_${T}_${H}`, ['D'], [B, T, G], B * T * G, `
    let row = index / ${G};
    let j = index - row * ${G};
    if (j < ${2 * H}) { result[index] = D[index]; } else { result[index] = D[${DN} + row * ${H} + j - ${2 * H}]; }`), [D], 'float32');
  const [dh0, dhp] = cutAll(be, D, [[DH, [B, H]], [0, [B, T, G]]]);
  return [dxp, dh0!, dhp!]; // dhp [B, T, 3H]: dW_h = H_prevᵀ·dhp, db_h = Σ dhp (./fused-sequence.ts)
}

// ---------------------------------------------------------------------------------------------
// The vanilla RNN. S: acts [T, B, H] (ĥ) | hs [T + 1, B, H] | packed [B, T + 1, H].

export function rnnForwardWebgpu(args: Args): tf.TensorInfo[] {
  const { xp, W_h, h0, mask } = args.inputs as Infos;
  const relu = (args.attrs as { activation?: string } | undefined)?.activation === 'relu';
  const be = args.backend as WebGPUBackendLike;
  const [B, T, H] = xp!.shape as [number, number, number];
  const BH = B * H;
  const HS = T * BH;
  const PK = HS + (T + 1) * BH;
  const total = PK + B * (T + 1) * H;
  const prev = previousH(HS, BH, H);
  const step = tiledStepProgram(`attendRnnStep_${B}_${T}_${H}_${relu}`, ['xp', 'W', 'h0', 'mask'], total, B, H, gateProduct(H, H, prev.a, 1), `
    let a = xp[(b * ${T} + t) * ${H} + u] + dot0;
    ${prev.hPrev}
    let hc = ${relu ? 'max(a, 0.0)' : 'attendTanh(a)'};
    result[(t * ${B} + b) * ${H} + u] = hc;
    let m = mask[b * ${T} + t];
    result[${PK} + (b * ${T + 1} + t) * ${H} + u] = m * hc;
    let hN = select(hPrev + m * (hc - hPrev), hc, m == 1.0);
    result[${HS} + (t + 1) * ${BH} + b * ${H} + u] = hN;
    if (t == ${T - 1}) { result[${PK} + (b * ${T + 1} + ${T}) * ${H} + u] = hN; }`, 'u', prev.declaration);
  const S = loop(be, [step], [[xp!, W_h!, h0!, mask!]], up(T));
  return cutAll(be, S, [[PK, [B, T + 1, H]], [0, [T, B, H]], [HS, [T + 1, B, H]]]);
}

// D: dxp [B, T, H] | dh [B, H].
export function rnnGradWebgpu(args: Args): tf.TensorInfo[] {
  const { W_h, mask, acts, dy } = args.inputs as Infos;
  const relu = (args.attrs as { activation?: string } | undefined)?.activation === 'relu';
  const be = args.backend as WebGPUBackendLike;
  const [T, B, H] = acts!.shape as [number, number, number];
  const DH = B * T * H;
  const total = DH + B * H;
  // One dispatch a step: dh_t (carriedDh), then da_t and the carried part of dh_{t−1}.
  const da = tiledStepProgram(`attendRnnGradDa_${B}_${T}_${H}_${relu}`, ['W', 'mask', 'acts', 'dy'], total, B, H, carriedDh(T, H, H), `
    var dOld : f32;
    if (t == ${T - 1}) { dOld = dy[(b * ${T + 1} + ${T}) * ${H} + u]; } else { dOld = result[${DH} + b * ${H} + u] + dot0; }
    let m = mask[b * ${T} + t];
    let y = acts[(t * ${B} + b) * ${H} + u];
    let g = m * (dy[(b * ${T + 1} + t) * ${H} + u] + dOld);
    result[(b * ${T} + t) * ${H} + u] = ${relu ? 'select(0.0, g, y > 0.0)' : 'g * (1.0 - y * y)'};
    result[${DH} + b * ${H} + u] = (1.0 - m) * dOld;`);
  const D = loop(be, [dhProgram('rnn', total, B, T, H, H, DH, H)], [[W_h!]], [0], loop(be, [da], [[W_h!, mask!, acts!, dy!]], down(T)));
  return cutAll(be, D, [[0, [B, T, H]], [DH, [B, H]]]); // [dxp, dh0]
}
