// AssemblyScript → WebAssembly SIMD: the recurrent sequences of @attend/recurrent's
// fused-sequence.ts (same equations, gate orders, mask semantics and layouts; that file's header
// gives them) for one slice of the batch, rows b0 … b1 − 1, so that several threads (../src/simd.ts
// runs one per core on a shared memory; @attend/recurrent's wasm-sequence.ts lays out the tensors)
// can each take a slice; the weight gradient is a second phase split by rows of dW_h. Every pointer
// is a byte offset into the one shared memory. exp: Cephes' expf polynomial on f32x4
// (sigmoid = 1/(1 + e^−x), tanh = 1 − 2/(e^2x + 1)).
import { copyRows, gemm, ld, packRow } from './gemm';

// ---------------------------------------------------------------------------------------------
// Activations on f32x4.

@inline function expv(x0: v128): v128 {
  const x1 = f32x4.min(f32x4.max(x0, f32x4.splat(-87.3)), f32x4.splat(88.3));
  const fx = f32x4.floor(f32x4.add(f32x4.mul(x1, f32x4.splat(1.44269504088896341)), f32x4.splat(0.5)));
  const x = f32x4.sub(f32x4.sub(x1, f32x4.mul(fx, f32x4.splat(0.693359375))), f32x4.mul(fx, f32x4.splat(-2.12194440e-4)));
  let y = f32x4.splat(1.9875691500e-4);
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(1.3981999507e-3));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(8.3334519073e-3));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(4.1665795894e-2));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(1.6666665459e-1));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(5.0000001201e-1));
  y = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(y, x), x), x), f32x4.splat(1));
  const n = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(fx), i32x4.splat(127)), 23); // 2^fx
  return f32x4.mul(y, n);
}
@inline function sigmoidv(x: v128): v128 {
  const one = f32x4.splat(1);
  return f32x4.div(one, f32x4.add(one, expv(f32x4.neg(x))));
}
@inline export function tanhv(x: v128): v128 {
  const one = f32x4.splat(1);
  return f32x4.sub(one, f32x4.div(f32x4.splat(2), f32x4.add(expv(f32x4.add(x, x)), one)));
}
@inline function reluv(x: v128): v128 { return f32x4.max(x, f32x4.splat(0)); }
/** h_prev + m·(h − h_prev): the masked carry (m = 1 takes h, m = 0 keeps h_prev). */
@inline function blend(prev: v128, next: v128, m: v128): v128 { return f32x4.add(prev, f32x4.mul(m, f32x4.sub(next, prev))); }

@inline function at(base: usize, index: i32): usize { return base + (<usize>index << 2); }

// Every activation loop runs over u = 0, 4, … < H in f32x4: H must be a multiple of 4 (the caller checks).

// ---------------------------------------------------------------------------------------------
// LSTM. Layouts (floats): xp [B, T, 4H]; W [H, 4H] and panel = packB(W); mask [B, T]; acts [T, B, 4H]
// (i, f, g, o); cs, hs [T + 1, B, H] with row 0 = c_0, h_0 filled by the caller; tcs [T, B, H];
// packed [B, T + 2, H]. The forward kernels' `panel` is W packed by gemm.ts's packB, read by all threads.

export function lstmForward(B: i32, T: i32, H: i32, b0: i32, b1: i32, xp: usize, W: usize, mask: usize, acts: usize, cs: usize, tcs: usize, hs: usize, packed: usize, panel: usize): void {
  const G = 4 * H;
  const BH = B * H;
  const rows = b1 - b0;
  for (let t = 0; t < T; t++) {
    const z = at(acts, (t * B + b0) * G); // pre-activations of rows b0 …, then the gates in place
    copyRows(z, G, at(xp, (b0 * T + t) * G), T * G, rows, G);
    gemm(z, G, at(hs, t * BH + b0 * H), H, false, W, G, rows, H, G, panel, false);
    for (let b = b0; b < b1; b++) {
      const m = f32x4.splat(load<f32>(at(mask, b * T + t)));
      const a = at(acts, (t * B + b) * G);
      const prev = t * BH + b * H;
      const next = prev + BH;
      const po = (b * (T + 2) + t) * H;
      for (let u = 0; u < H; u += 4) {
        const i = sigmoidv(ld(at(a, u)));
        const f = sigmoidv(ld(at(a, H + u)));
        const g = tanhv(ld(at(a, 2 * H + u)));
        const o = sigmoidv(ld(at(a, 3 * H + u)));
        v128.store(at(a, u), i);
        v128.store(at(a, H + u), f);
        v128.store(at(a, 2 * H + u), g);
        v128.store(at(a, 3 * H + u), o);
        const cPrev = ld(at(cs, prev + u));
        const cc = f32x4.add(f32x4.mul(f, cPrev), f32x4.mul(i, g));
        const tc = tanhv(cc);
        const hc = f32x4.mul(o, tc);
        v128.store(at(tcs, t * BH + b * H + u), tc);
        v128.store(at(packed, po + u), f32x4.mul(m, hc));
        v128.store(at(cs, next + u), blend(cPrev, cc, m));
        v128.store(at(hs, next + u), blend(ld(at(hs, prev + u)), hc, m));
      }
    }
  }
  for (let b = b0; b < b1; b++) {
    memory.copy(at(packed, (b * (T + 2) + T) * H), at(hs, T * BH + b * H), <usize>H << 2);
    memory.copy(at(packed, (b * (T + 2) + T + 1) * H), at(cs, T * BH + b * H), <usize>H << 2);
  }
}

/**
 * BPTT for rows b0 … b1 − 1: writes dz into dxp [B, T, 4H] and leaves dh_0, dc_0 in dh, dc [B, H].
 * WT = W_hᵀ [4H, H], panelT = packB(WT). dzPanel (or 0): dz also packed, rows r = t·B + b, for
 * `weightGradPacked`; else the weight gradient is `weightGrad` afterwards.
 */
export function lstmBackward(B: i32, T: i32, H: i32, b0: i32, b1: i32, WT: usize, mask: usize, acts: usize, cs: usize, tcs: usize, dy: usize, dxp: usize, dh: usize, dc: usize, panelT: usize, dzPanel: usize): void {
  const G = 4 * H;
  const BH = B * H;
  const rows = b1 - b0;
  const one = f32x4.splat(1);
  for (let b = b0; b < b1; b++) {
    memory.copy(at(dh, b * H), at(dy, (b * (T + 2) + T) * H), <usize>H << 2);
    memory.copy(at(dc, b * H), at(dy, (b * (T + 2) + T + 1) * H), <usize>H << 2);
  }
  for (let t = T - 1; t >= 0; t--) {
    for (let b = b0; b < b1; b++) {
      const ms = load<f32>(at(mask, b * T + t));
      const m = f32x4.splat(ms);
      const keep = f32x4.splat(1 - ms);
      const a = at(acts, (t * B + b) * G);
      const dz = at(dxp, (b * T + t) * G);
      const so = b * H;
      for (let u = 0; u < H; u += 4) {
        const i = ld(at(a, u));
        const f = ld(at(a, H + u));
        const g = ld(at(a, 2 * H + u));
        const o = ld(at(a, 3 * H + u));
        const tc = ld(at(tcs, t * BH + so + u));
        const dhOld = ld(at(dh, so + u));
        const dcOld = ld(at(dc, so + u));
        const dhh = f32x4.mul(m, f32x4.add(ld(at(dy, (b * (T + 2) + t) * H + u)), dhOld));
        const dcc = f32x4.add(f32x4.mul(m, dcOld), f32x4.mul(f32x4.mul(dhh, o), f32x4.sub(one, f32x4.mul(tc, tc))));
        v128.store(at(dz, u), f32x4.mul(f32x4.mul(dcc, g), f32x4.mul(i, f32x4.sub(one, i))));
        v128.store(at(dz, H + u), f32x4.mul(f32x4.mul(dcc, ld(at(cs, t * BH + so + u))), f32x4.mul(f, f32x4.sub(one, f))));
        v128.store(at(dz, 2 * H + u), f32x4.mul(f32x4.mul(dcc, i), f32x4.sub(one, f32x4.mul(g, g))));
        v128.store(at(dz, 3 * H + u), f32x4.mul(f32x4.mul(dhh, tc), f32x4.mul(o, f32x4.sub(one, o))));
        v128.store(at(dc, so + u), f32x4.add(f32x4.mul(dcc, f), f32x4.mul(keep, dcOld)));
        v128.store(at(dh, so + u), f32x4.mul(keep, dhOld)); // + dz·W_hᵀ below
      }
      if (dzPanel) packRow(dzPanel, T * B, t * B + b, dz, G);
    }
    gemm(at(dh, b0 * H), H, at(dxp, (b0 * T + t) * G), T * G, false, WT, H, rows, G, H, panelT, false);
  }
}

/** dW [H, N] rows k0 … k1 − 1 = Σ_t srcₜᵀ·dzₜ: src [T, B, H] (rows of srcₜ: B), dz rows (b, t) of [B, T, ldz] from column `col`. */
export function weightGrad(T: i32, B: i32, H: i32, k0: i32, k1: i32, src: usize, dz: usize, ldz: i32, col: i32, N: i32, dW: usize, ldw: i32): void {
  for (let r = k0; r < k1; r++) memory.fill(at(dW, r * ldw), 0, <usize>N << 2);
  for (let t = 0; t < T; t++) {
    // transA: A = srcₜ stored [B × H] → columns k0 …; B = dz rows b = 0 … B − 1 of step t (stride T·ldz).
    gemm(at(dW, k0 * ldw), ldw, at(src, t * B * H + k0), H, true, at(dz, t * ldz + col), T * ldz, k1 - k0, B, N, 0, false);
  }
}

/**
 * dW [H, N] rows k0 … k1 − 1 = srcᵀ·dz as ONE product over all T·B rows: src [T, B, H] (row r = t·B + b),
 * dz packed by the backward kernel (packRow; rows r, N columns, N a multiple of 8).
 */
export function weightGradPacked(T: i32, B: i32, H: i32, k0: i32, k1: i32, src: usize, panel: usize, N: i32, dW: usize, ldw: i32): void {
  gemm(at(dW, k0 * ldw), ldw, at(src, k0), H, true, 0, 0, k1 - k0, T * B, N, panel, true);
}

// ---------------------------------------------------------------------------------------------
// The taught GRU. xp [B, T, 3H] (r, z, n); W [H, 3H]; acts [T, B, 3H] (r, z, n); hs [T + 1, B, H]
// with row 0 = h_0; packed [B, T + 1, H]; rh [T, B, H] scratch (r ⊙ h_{t−1}, kept for the backward).

/** Rows b0 … b1 − 1: the final state h_T (row T of hs [T + 1, B, H]) into row T of packed [B, T + 1, H] (GRUs, RNN). */
@inline function lastState(packed: usize, hs: usize, B: i32, b0: i32, b1: i32, T: i32, H: i32): void {
  for (let b = b0; b < b1; b++) memory.copy(at(packed, (b * (T + 1) + T) * H), at(hs, (T * B + b) * H), <usize>H << 2);
}
/** Rows b0 … b1 − 1: dh starts as the gradient of the final state (row T of dy [B, T + 1, H]; GRUs, RNN). */
@inline function stateGradFromOutput(dh: usize, dy: usize, b0: i32, b1: i32, T: i32, H: i32): void {
  for (let b = b0; b < b1; b++) memory.copy(at(dh, b * H), at(dy, (b * (T + 1) + T) * H), <usize>H << 2);
}

/** h_t = h_{t−1} + z ⊙ (n − h_{t−1}) for lanes u … u + 3 of row `ho`: packed output m·h_t, hs row t + 1 the masked carry (both GRUs). */
@inline function gruStore(packed: usize, po: i32, hs: usize, ho: i32, BH: i32, u: i32, zz: v128, n: v128, m: v128): void {
  const hPrev = ld(at(hs, ho + u));
  const hc = f32x4.add(hPrev, f32x4.mul(zz, f32x4.sub(n, hPrev)));
  v128.store(at(packed, po + u), f32x4.mul(m, hc));
  v128.store(at(hs, ho + BH + u), blend(hPrev, hc, m));
}

export function gruForward(B: i32, T: i32, H: i32, b0: i32, b1: i32, xp: usize, W: usize, mask: usize, acts: usize, hs: usize, packed: usize, rh: usize, panel: usize): void {
  const G = 3 * H;
  const BH = B * H;
  const rows = b1 - b0;
  for (let t = 0; t < T; t++) {
    const z = at(acts, (t * B + b0) * G);
    copyRows(z, G, at(xp, (b0 * T + t) * G), T * G, rows, G);
    gemm(z, G, at(hs, t * BH + b0 * H), H, false, W, G, rows, H, 2 * H, panel, false); // r̄, z̄ += h·W_rz
    for (let b = b0; b < b1; b++) {
      const a = at(acts, (t * B + b) * G);
      const ho = t * BH + b * H;
      for (let u = 0; u < 2 * H; u += 4) v128.store(at(a, u), sigmoidv(ld(at(a, u))));
      for (let u = 0; u < H; u += 4) v128.store(at(rh, ho + u), f32x4.mul(ld(at(a, u)), ld(at(hs, ho + u))));
    }
    gemm(at(z, 2 * H), G, at(rh, t * BH + b0 * H), H, false, at(W, 2 * H), G, rows, H, H, panel + (<usize>(2 * H >> 3) * H << 5), false); // n̄ += (r⊙h)·W_n: strips from column 2H
    for (let b = b0; b < b1; b++) {
      const m = f32x4.splat(load<f32>(at(mask, b * T + t)));
      const a = at(acts, (t * B + b) * G);
      const ho = t * BH + b * H;
      const po = (b * (T + 1) + t) * H;
      for (let u = 0; u < H; u += 4) {
        const n = tanhv(ld(at(a, 2 * H + u)));
        v128.store(at(a, 2 * H + u), n);
        gruStore(packed, po, hs, ho, BH, u, ld(at(a, H + u)), n, m);
      }
    }
  }
  lastState(packed, hs, B, b0, b1, T, H);
}

/**
 * GRU BPTT for rows b0 …: dxp [B, T, 3H] = (dr̂, dẑ, dn̂); dh [B, H] ends as dh_0; rh [T, B, H] (r ⊙ h_{t−1})
 * is filled; dRh [B, H] scratch. WT = W_hᵀ [3H, H]; panelRZ, panelN = packB of its rows 0 … 2H and 2H … 3H;
 * dzPanel (or 0): dxp's rows packed for `weightGradPacked` (H a multiple of 8).
 */
export function gruBackward(B: i32, T: i32, H: i32, b0: i32, b1: i32, WT: usize, mask: usize, acts: usize, hs: usize, dy: usize, dxp: usize, dh: usize, rh: usize, dRh: usize, panelRZ: usize, panelN: usize, dzPanel: usize): void {
  const G = 3 * H;
  const BH = B * H;
  const rows = b1 - b0;
  const one = f32x4.splat(1);
  stateGradFromOutput(dh, dy, b0, b1, T, H);
  for (let t = T - 1; t >= 0; t--) {
    for (let b = b0; b < b1; b++) {
      const m = f32x4.splat(load<f32>(at(mask, b * T + t)));
      const a = at(acts, (t * B + b) * G);
      const d = at(dxp, (b * T + t) * G);
      const so = b * H;
      for (let u = 0; u < H; u += 4) {
        const dhh = f32x4.mul(m, f32x4.add(ld(at(dy, (b * (T + 1) + t) * H + u)), ld(at(dh, so + u))));
        const n = ld(at(a, 2 * H + u));
        v128.store(at(d, 2 * H + u), f32x4.mul(f32x4.mul(dhh, ld(at(a, H + u))), f32x4.sub(one, f32x4.mul(n, n)))); // dn̂
        v128.store(at(d, H + u), dhh); // dĥ, parked where dẑ goes
        v128.store(at(rh, t * BH + so + u), f32x4.mul(ld(at(a, u)), ld(at(hs, t * BH + so + u))));
      }
      memory.fill(at(dRh, so), 0, <usize>H << 2);
    }
    // d(r⊙h) = dn̂·W_nᵀ: WT rows 2H … 3H.
    gemm(at(dRh, b0 * H), H, at(dxp, (b0 * T + t) * G + 2 * H), T * G, false, at(WT, 2 * H * H), H, rows, H, H, panelN, false);
    for (let b = b0; b < b1; b++) {
      const ms = load<f32>(at(mask, b * T + t));
      const keep = f32x4.splat(1 - ms);
      const a = at(acts, (t * B + b) * G);
      const d = at(dxp, (b * T + t) * G);
      const so = b * H;
      for (let u = 0; u < H; u += 4) {
        const r = ld(at(a, u));
        const zz = ld(at(a, H + u));
        const n = ld(at(a, 2 * H + u));
        const hp = ld(at(hs, t * BH + so + u));
        const dhh = ld(at(d, H + u));
        const dR = ld(at(dRh, so + u));
        v128.store(at(d, u), f32x4.mul(f32x4.mul(dR, hp), f32x4.mul(r, f32x4.sub(one, r))));
        v128.store(at(d, H + u), f32x4.mul(f32x4.mul(dhh, f32x4.sub(n, hp)), f32x4.mul(zz, f32x4.sub(one, zz))));
        // dh_{t−1} = dĥ(1 − z) + d(r⊙h)⊙r + (1 − m)dh, + [dr̂, dẑ]·W_rzᵀ below
        v128.store(at(dh, so + u), f32x4.add(f32x4.add(f32x4.mul(dhh, f32x4.sub(one, zz)), f32x4.mul(dR, r)), f32x4.mul(keep, ld(at(dh, so + u)))));
      }
      if (dzPanel) packRow(dzPanel, T * B, t * B + b, d, G);
    }
    gemm(at(dh, b0 * H), H, at(dxp, (b0 * T + t) * G), T * G, false, WT, H, rows, 2 * H, H, panelRZ, false);
  }
}

// ---------------------------------------------------------------------------------------------
// The reset-after GRU (PyTorch's, Keras's, cuDNN's): one recurrent matmul a step, its bias b_h
// inside, the reset scaling the candidate's part of it:
//   [a_r, a_z, a_n] = h_{t−1}·W + b_h    r = σ(xp_r + a_r)    z = σ(xp_z + a_z)
//   n = tanh(xp_n + r ⊙ a_n)             h_t = h_{t−1} + z ⊙ (n − h_{t−1})
// xp [B, T, 3H]; W [H, 3H]; bh [3H]; acts [T, B, 3H] (r, z, n); an [T, B, H] (a_n, kept for the
// backward); hs [T + 1, B, H] with row 0 = h_0; packed [B, T + 1, H].

export function gruRAForward(B: i32, T: i32, H: i32, b0: i32, b1: i32, xp: usize, W: usize, bh: usize, mask: usize, acts: usize, an: usize, hs: usize, packed: usize, panel: usize): void {
  const G = 3 * H;
  const BH = B * H;
  const rows = b1 - b0;
  for (let t = 0; t < T; t++) {
    const a0 = at(acts, (t * B + b0) * G);
    for (let b = b0; b < b1; b++) memory.copy(at(acts, (t * B + b) * G), bh, <usize>G << 2);
    gemm(a0, G, at(hs, t * BH + b0 * H), H, false, W, G, rows, H, G, panel, false); // a = b_h + h·W
    for (let b = b0; b < b1; b++) {
      const m = f32x4.splat(load<f32>(at(mask, b * T + t)));
      const a = at(acts, (t * B + b) * G);
      const x = at(xp, (b * T + t) * G);
      const ho = t * BH + b * H;
      const po = (b * (T + 1) + t) * H;
      for (let u = 0; u < H; u += 4) {
        const r = sigmoidv(f32x4.add(ld(at(x, u)), ld(at(a, u))));
        const zz = sigmoidv(f32x4.add(ld(at(x, H + u)), ld(at(a, H + u))));
        const aN = ld(at(a, 2 * H + u));
        const n = tanhv(f32x4.add(ld(at(x, 2 * H + u)), f32x4.mul(r, aN)));
        v128.store(at(an, ho + u), aN);
        v128.store(at(a, u), r);
        v128.store(at(a, H + u), zz);
        v128.store(at(a, 2 * H + u), n);
        gruStore(packed, po, hs, ho, BH, u, zz, n, m);
      }
    }
  }
  lastState(packed, hs, B, b0, b1, T, H);
}

/**
 * Reset-after GRU BPTT for rows b0 …: dxp [B, T, 3H] = (dr̂, dẑ, dn̂) (the gradient of xp) and
 * dA [B, T, 3H] = (dr̂, dẑ, d a_n) (of h·W + b_h); dh [B, H] ends as dh_0. WT = Wᵀ [3H, H] and panelT
 * its packB; dzPanel, dAPanel: dxp's and dA's rows packed for `weightGradPacked` (H a multiple of 8).
 */
export function gruRABackward(B: i32, T: i32, H: i32, b0: i32, b1: i32, WT: usize, mask: usize, acts: usize, an: usize, hs: usize, dy: usize, dxp: usize, dA: usize, dh: usize, panelT: usize, dzPanel: usize, dAPanel: usize): void {
  const G = 3 * H;
  const BH = B * H;
  const rows = b1 - b0;
  const one = f32x4.splat(1);
  stateGradFromOutput(dh, dy, b0, b1, T, H);
  for (let t = T - 1; t >= 0; t--) {
    for (let b = b0; b < b1; b++) {
      const ms = load<f32>(at(mask, b * T + t));
      const m = f32x4.splat(ms);
      const keep = f32x4.splat(1 - ms);
      const a = at(acts, (t * B + b) * G);
      const d = at(dxp, (b * T + t) * G);
      const dq = at(dA, (b * T + t) * G);
      const so = b * H;
      for (let u = 0; u < H; u += 4) {
        const r = ld(at(a, u));
        const zz = ld(at(a, H + u));
        const n = ld(at(a, 2 * H + u));
        const aN = ld(at(an, t * BH + so + u));
        const hp = ld(at(hs, t * BH + so + u));
        const dhOld = ld(at(dh, so + u));
        const dhh = f32x4.mul(m, f32x4.add(ld(at(dy, (b * (T + 1) + t) * H + u)), dhOld));
        const dZ = f32x4.mul(f32x4.mul(dhh, f32x4.sub(n, hp)), f32x4.mul(zz, f32x4.sub(one, zz)));
        const dN = f32x4.mul(f32x4.mul(dhh, zz), f32x4.sub(one, f32x4.mul(n, n)));
        const dR = f32x4.mul(f32x4.mul(dN, aN), f32x4.mul(r, f32x4.sub(one, r)));
        v128.store(at(d, u), dR);
        v128.store(at(d, H + u), dZ);
        v128.store(at(d, 2 * H + u), dN);
        v128.store(at(dq, u), dR);
        v128.store(at(dq, H + u), dZ);
        v128.store(at(dq, 2 * H + u), f32x4.mul(dN, r)); // d a_n = dn̂ ⊙ r
        // dh_{t−1} = dĥ(1 − z) + (1 − m)dh, + dA·Wᵀ below
        v128.store(at(dh, so + u), f32x4.add(f32x4.mul(dhh, f32x4.sub(one, zz)), f32x4.mul(keep, dhOld)));
      }
      if (dzPanel) packRow(dzPanel, T * B, t * B + b, d, G);
      if (dAPanel) packRow(dAPanel, T * B, t * B + b, dq, G);
    }
    gemm(at(dh, b0 * H), H, at(dA, (b0 * T + t) * G), T * G, false, WT, H, rows, G, H, panelT, false);
  }
}

// ---------------------------------------------------------------------------------------------
// The vanilla RNN (tanh or relu). xp [B, T, H]; W [H, H]; acts [T, B, H] (ĥ); hs [T + 1, B, H]; packed [B, T + 1, H].

export function rnnForward(B: i32, T: i32, H: i32, b0: i32, b1: i32, relu: bool, xp: usize, W: usize, mask: usize, acts: usize, hs: usize, packed: usize, panel: usize): void {
  const BH = B * H;
  const rows = b1 - b0;
  for (let t = 0; t < T; t++) {
    const z = at(acts, (t * B + b0) * H);
    copyRows(z, H, at(xp, (b0 * T + t) * H), T * H, rows, H);
    gemm(z, H, at(hs, t * BH + b0 * H), H, false, W, H, rows, H, H, panel, false);
    for (let b = b0; b < b1; b++) {
      const m = f32x4.splat(load<f32>(at(mask, b * T + t)));
      const a = at(acts, (t * B + b) * H);
      const ho = t * BH + b * H;
      const po = (b * (T + 1) + t) * H;
      for (let u = 0; u < H; u += 4) {
        const hc = relu ? reluv(ld(at(a, u))) : tanhv(ld(at(a, u)));
        v128.store(at(a, u), hc);
        v128.store(at(packed, po + u), f32x4.mul(m, hc));
        v128.store(at(hs, ho + BH + u), blend(ld(at(hs, ho + u)), hc, m));
      }
    }
  }
  lastState(packed, hs, B, b0, b1, T, H);
}

export function rnnBackward(B: i32, T: i32, H: i32, b0: i32, b1: i32, relu: bool, WT: usize, mask: usize, acts: usize, dy: usize, dxp: usize, dh: usize, panelT: usize, dzPanel: usize): void {
  const rows = b1 - b0;
  const one = f32x4.splat(1);
  const zero = f32x4.splat(0);
  stateGradFromOutput(dh, dy, b0, b1, T, H);
  for (let t = T - 1; t >= 0; t--) {
    for (let b = b0; b < b1; b++) {
      const ms = load<f32>(at(mask, b * T + t));
      const m = f32x4.splat(ms);
      const keep = f32x4.splat(1 - ms);
      const a = at(acts, (t * B + b) * H);
      const d = at(dxp, (b * T + t) * H);
      const so = b * H;
      for (let u = 0; u < H; u += 4) {
        const y = ld(at(a, u));
        const dOld = ld(at(dh, so + u));
        const g = f32x4.mul(m, f32x4.add(ld(at(dy, (b * (T + 1) + t) * H + u)), dOld));
        v128.store(at(d, u), relu ? v128.and(g, f32x4.gt(y, zero)) : f32x4.mul(g, f32x4.sub(one, f32x4.mul(y, y))));
        v128.store(at(dh, so + u), f32x4.mul(keep, dOld));
      }
      if (dzPanel) packRow(dzPanel, T * B, t * B + b, d, H);
    }
    gemm(at(dh, b0 * H), H, at(dxp, (b0 * T + t) * H), T * H, false, WT, H, rows, H, H, panelT, false);
  }
}
