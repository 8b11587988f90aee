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
// Correctness is tested on Mesa's llvmpipe (software; ATTEND_WEBGPU_ALLOW_SOFTWARE=1); the speed on
// a GPU is not measured yet, so mode 'auto' does not pick these (setFusedSequenceMode('fused') does).
import type * as tf from '@tensorflow/tfjs-core';
import { webgpuRowProgram, type WebGPUBackendLike, type WebGPUProgramLike } from '@attend/core';

type Args = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };
type Infos = Record<string, tf.TensorInfo>;

const PRELUDE = `
fn attendSigmoid(x : f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }
fn attendTanh(x : f32) -> f32 { return tanh(clamp(x, -15.0, 15.0)); }`;

/** A per-step program (uniform t) over the B·H units: `b`, `u` (or `k`) and `t` in scope. */
function stepProgram(key: string, inputs: string[], total: number, B: number, H: number, body: string, unit = 'u'): WebGPUProgramLike {
  return webgpuRowProgram(key, inputs, [total], B * H, `let t = uniforms.t;\n let b = index / ${H};\n let ${unit} = index - b * ${H};\n ${body}`, { prelude: PRELUDE, uniforms: 't : i32,' });
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
 * WGSL for a step program: the recurrent products `dots(h)` over h_{t−1} (an expression of k: h0 at
 * t = 0, which also goes into row 0 of the state's hs at HS; else row t of hs) and `hPrev` = h_{t−1}[b, u].
 */
function overPrevious(dots: (h: string) => string, HS: number, BH: number, H: number): string {
  return `var hPrev : f32;
    if (t == 0) {
      ${dots(`h0[b * ${H} + k]`)}
      hPrev = h0[b * ${H} + u];
      result[${HS} + b * ${H} + u] = hPrev;
    } else {
      ${dots(`result[${HS} + t * ${BH} + b * ${H} + k]`)}
      hPrev = result[${HS} + t * ${BH} + b * ${H} + u];
    }`;
}

const up = (t: number) => Array.from({ length: t }, (_, i) => i);
const down = (t: number) => up(t).reverse();

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
  const dots = (h: (k: string) => string) => `
    for (var k = 0; k < ${H}; k++) {
      let hk = ${h('k')};
      let w = k * ${G};
      zi += hk * W[w + u]; zf += hk * W[w + ${H} + u]; zg += hk * W[w + ${2 * H} + u]; zo += hk * W[w + ${3 * H} + u];
    }`;
  const step = stepProgram(`attendLstmStep_${B}_${T}_${H}`, ['xp', 'W', 'h0', 'c0', 'mask'], total, B, H, `
    let xo = (b * ${T} + t) * ${G};
    var zi = xp[xo + u]; var zf = xp[xo + ${H} + u]; var zg = xp[xo + ${2 * H} + u]; var zo = xp[xo + ${3 * H} + u];
    var cPrev : f32; var hPrev : f32;
    if (t == 0) {
      ${dots((k) => `h0[b * ${H} + ${k}]`)}
      cPrev = c0[b * ${H} + u]; hPrev = h0[b * ${H} + u];
      result[${CS} + b * ${H} + u] = cPrev; result[${HS} + b * ${H} + u] = hPrev;
    } else {
      let ho = ${HS} + t * ${BH} + b * ${H};
      ${dots((k) => `result[ho + ${k}]`)}
      cPrev = result[${CS} + t * ${BH} + b * ${H} + u]; hPrev = result[ho + u];
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
    }`);
  const S = loop(be, [step], [[xp!, W_h!, h0!, c0!, mask!]], up(T));
  return cutAll(be, S, [[PK, [B, T + 2, H]], [0, [T, B, G]], [CS, [T + 1, B, H]], [TCS, [T, B, H]], [HS, [T + 1, B, H]]]);
}

/**
 * WGSL: `dhIn` = dh_t[b, unit] for a backward step program at t < T − 1 — the part the state holds at
 * DH plus dz_{t+1}·W_hᵀ over the first `n` columns of row t + 1 of D (written by the previous
 * dispatch). Each invocation needs only its own unit of dh_t, so this product and step t's
 * elementwise part share one dispatch; the last dh (dh_0) is finished by `dhProgram` at t = 0.
 */
function carriedDh(T: number, H: number, G: number, DH: number, n: number, unit = 'u'): string {
  return `var dhIn = result[${DH} + b * ${H} + ${unit}];
      let dNext = (b * ${T} + t + 1) * ${G};
      for (var j = 0; j < ${n}; j++) { dhIn += result[dNext + j] * W[${unit} * ${G} + j]; }`;
}

/** dh_{t−1} += dz_t·W_hᵀ over the first `n` columns of dz (rows of D at DXP), into D at DH. */
function dhProgram(key: string, total: number, B: number, T: number, H: number, G: number, DH: number, n: number, wOff = 0): WebGPUProgramLike {
  return stepProgram(`attendSeqDh_${key}_${B}_${T}_${H}_${G}_${n}_${wOff}`, ['W'], total, B, H, `
    let d = (b * ${T} + t) * ${G};
    var s = 0.0;
    for (var j = 0; j < ${n}; j++) { s += result[d + ${wOff} + j] * W[k * ${G} + ${wOff} + j]; }
    result[${DH} + b * ${H} + k] += s;`, 'k');
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
  const dz = stepProgram(`attendLstmGradDz_${B}_${T}_${H}`, ['W', 'mask', 'acts', 'cs', 'tcs', 'dy'], total, B, H, `
    let m = mask[b * ${T} + t];
    var dhOld : f32; var dcOld : f32;
    if (t == ${T - 1}) {
      dhOld = dy[(b * ${T + 2} + ${T}) * ${H} + u]; dcOld = dy[(b * ${T + 2} + ${T + 1}) * ${H} + u];
    } else {
      ${carriedDh(T, H, G, DH, G)}
      dhOld = dhIn; dcOld = result[${DC} + b * ${H} + u];
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
  const dots = (h: string) => `
    for (var k = 0; k < ${H}; k++) {
      let hk = ${h};
      zr += hk * W[k * ${G} + u]; zz += hk * W[k * ${G} + ${H} + u];
    }`;
  const rz = stepProgram(`attendGruStepRz_${B}_${T}_${H}`, ['xp', 'W', 'h0'], total, B, H, `
    let xo = (b * ${T} + t) * ${G};
    var zr = xp[xo + u]; var zz = xp[xo + ${H} + u];
    ${overPrevious(dots, HS, BH, H)}
    let r = attendSigmoid(zr);
    let ao = (t * ${B} + b) * ${G};
    result[ao + u] = r; result[ao + ${H} + u] = attendSigmoid(zz);
    result[${RH} + t * ${BH} + b * ${H} + u] = r * hPrev;`);
  const n = stepProgram(`attendGruStepN_${B}_${T}_${H}`, ['xp', 'W', 'mask'], total, B, H, `
    var zn = xp[(b * ${T} + t) * ${G} + ${2 * H} + u];
    for (var k = 0; k < ${H}; k++) { zn += result[${RH} + t * ${BH} + b * ${H} + k] * W[k * ${G} + ${2 * H} + u]; }
    let nn = attendTanh(zn);
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
  const p1 = stepProgram(`attendGruGrad1_${B}_${T}_${H}`, ['W', 'mask', 'acts', 'hs', 'dy'], total, B, H, `
    var dhOld : f32;
    if (t == ${T - 1}) { dhOld = dy[(b * ${T + 1} + ${T}) * ${H} + u]; } else {
      ${carriedDh(T, H, G, DH, 2 * H)}
      dhOld = dhIn;
    }
    let m = mask[b * ${T} + t];
    let dhh = m * (dy[(b * ${T + 1} + t) * ${H} + u] + dhOld);
    let ao = (t * ${B} + b) * ${G};
    let nn = acts[ao + ${2 * H} + u];
    let d = (b * ${T} + t) * ${G};
    result[d + ${2 * H} + u] = dhh * acts[ao + ${H} + u] * (1.0 - nn * nn);
    result[d + ${H} + u] = dhh;
    result[${RH} + t * ${BH} + b * ${H} + u] = acts[ao + u] * hs[t * ${BH} + b * ${H} + u];
    result[${DH} + b * ${H} + u] = dhOld;`);
  // d(r⊙h) = dn̂·W_nᵀ, then dr̂, dẑ and dh_{t−1} = dĥ(1 − z) + d(r⊙h)⊙r + (1 − m)dh.
  const p2 = stepProgram(`attendGruGrad2_${B}_${T}_${H}`, ['W', 'mask', 'acts', 'hs'], total, B, H, `
    let d = (b * ${T} + t) * ${G};
    var dR = 0.0;
    for (var j = 0; j < ${H}; j++) { dR += result[d + ${2 * H} + j] * W[k * ${G} + ${2 * H} + j]; }
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
  const dots = (h: string) => `
    for (var k = 0; k < ${H}; k++) {
      let hk = ${h};
      let w = k * ${G};
      ar += hk * W[w + u]; az += hk * W[w + ${H} + u]; an += hk * W[w + ${2 * H} + u];
    }`;
  const step = stepProgram(`attendGruResetAfterStep_${B}_${T}_${H}`, ['xp', 'W', 'bh', 'h0', 'mask'], total, B, H, `
    var ar = bh[u]; var az = bh[${H} + u]; var an = bh[${2 * H} + u];
    ${overPrevious(dots, HS, BH, H)}
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
    if (t == ${T - 1}) { result[${PK} + (b * ${T + 1} + ${T}) * ${H} + u] = hN; }`);
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
  const step = stepProgram(`attendGruResetAfterGrad_${B}_${T}_${H}`, ['W', 'mask', 'acts', 'an', 'hs', 'dy'], total, B, H, `
    var dh : f32;
    if (t == ${T - 1}) {
      dh = dy[(b * ${T + 1} + ${T}) * ${H} + k];
    } else {
      ${carriedDh(T, H, G, DH, G, 'k')}
      dh = dhIn;
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
  const step = stepProgram(`attendRnnStep_${B}_${T}_${H}_${relu}`, ['xp', 'W', 'h0', 'mask'], total, B, H, `
    var a = xp[(b * ${T} + t) * ${H} + u];
    ${overPrevious((h) => `for (var k = 0; k < ${H}; k++) { a += ${h} * W[k * ${H} + u]; }`, HS, BH, H)}
    let hc = ${relu ? 'max(a, 0.0)' : 'attendTanh(a)'};
    result[(t * ${B} + b) * ${H} + u] = hc;
    let m = mask[b * ${T} + t];
    result[${PK} + (b * ${T + 1} + t) * ${H} + u] = m * hc;
    let hN = select(hPrev + m * (hc - hPrev), hc, m == 1.0);
    result[${HS} + (t + 1) * ${BH} + b * ${H} + u] = hN;
    if (t == ${T - 1}) { result[${PK} + (b * ${T + 1} + ${T}) * ${H} + u] = hN; }`);
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
  const da = stepProgram(`attendRnnGradDa_${B}_${T}_${H}_${relu}`, ['W', 'mask', 'acts', 'dy'], total, B, H, `
    var dOld : f32;
    if (t == ${T - 1}) { dOld = dy[(b * ${T + 1} + ${T}) * ${H} + u]; } else {
      ${carriedDh(T, H, H, DH, H)}
      dOld = dhIn;
    }
    let m = mask[b * ${T} + t];
    let y = acts[(t * ${B} + b) * ${H} + u];
    let g = m * (dy[(b * ${T + 1} + t) * ${H} + u] + dOld);
    result[(b * ${T} + t) * ${H} + u] = ${relu ? 'select(0.0, g, y > 0.0)' : 'g * (1.0 - y * y)'};
    result[${DH} + b * ${H} + u] = (1.0 - m) * dOld;`);
  const D = loop(be, [dhProgram('rnn', total, B, T, H, H, DH, H)], [[W_h!]], [0], loop(be, [da], [[W_h!, mask!, acts!, dy!]], down(T)));
  return cutAll(be, D, [[0, [B, T, H]], [DH, [B, H]]]); // [dxp, dh0]
}
