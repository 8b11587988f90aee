// The fused recurrent sequences of ./fused-sequence.ts on @attend/core's WebAssembly SIMD module
// (kernels: packages/core/assembly/sequence.ts), with the batch split over its threads: one job per
// thread (rows b0 … b1 − 1 for all T steps; then rows of dW_h for the weight gradient). The
// functions here take and fill the same arrays as the plain-JS kernels they replace, so the
// registered kernels (cpu and wasm backends) only choose between the two: the SIMD ones wherever
// the module loads and H is a multiple of 4.
import { simdKernels, type SimdKernels } from '@attend/core';

/** The SIMD kernels for hidden size H, or null (then the plain-JS kernels run). */
export function simdFor(H: number): SimdKernels | null {
  return H % 4 === 0 ? simdKernels() : null;
}

/** Batch slices: at most one per thread, at least 4 rows each (a 4 × 8 tile's height). */
const batchSlices = (s: SimdKernels, B: number) => s.split(B, 4);
/** Rows of a weight gradient (H or D of them) split over the threads, multiples of 4. */
const rowSlices = (s: SimdKernels, H: number) => s.split(H, 8, 4);
/** Rows of [B·T, …] split over the threads, multiples of 4, at least 16 each. */
const rowParts = (s: SimdKernels, n: number) => s.split(n, 16, 4);

type Arr = ArrayLike<number>;

/** The input projection done inside the kernel (./fused-layer.ts): xp = x·W_x + b, x `[B, T, D]`, W_x `[D, G]`, b `[G]`. */
export interface Projection {
  D: number;
  x: Arr;
  W_x: Arr;
  b: Arr;
}
/** …and its gradient: from dxp (never leaving the module) to dx `[B, T, D]`, dW_x `[D, G]`, db `[G]`. */
export interface ProjectionGrad {
  D: number;
  x: Arr;
  W_x: Arr;
  dx: Float32Array;
  dW_x: Float32Array;
  db: Float32Array;
}

/** Lays out xp `[B, T, G]` and fills it: a copy of xp, or x·W_x + b computed here (rows split over the threads). */
function placeXp(s: SimdKernels, alloc: (floats: number) => number, xp: Arr | Projection, B: number, T: number, G: number): number {
  const pXp = alloc(B * T * G);
  if (!('W_x' in xp)) {
    s.write([[xp, pXp]]);
    return pXp;
  }
  const { D, x, W_x, b } = xp;
  const [pX, pW, pB, pPanel] = [B * T * D, D * G, G, D * G].map(alloc) as [number, number, number, number];
  s.write([[x, pX], [W_x, pW], [b, pB]]);
  s.exports.packB(pPanel, pW, G, D, G);
  // linear(C, A, lda, W, ldw, b, M, K, N, panel) on rows r0 … r1 − 1 of [B·T, D]
  s.run('linear', rowParts(s, B * T).map(([r0, r1]) => [pXp + r0 * G * 4, pX + r0 * D * 4, D, pW, G, pB, r1 - r0, D, G, pPanel]));
  return pXp;
}

/**
 * The gradient reaching xp — dz, at pDxp `[B, T, G]` and packed at pDz (rows t·B + b) — copied out as
 * dxp, or taken on through the projection: dW_x = Σ x_{t,b}ᵀ dz_{t,b} (one product over all rows,
 * split by rows of dW_x), db = Σ dz, dx = dz·W_xᵀ (split by rows).
 */
function leaveXp(s: SimdKernels, alloc: (floats: number) => number, target: Float32Array | ProjectionGrad, B: number, T: number, G: number, pDxp: number, pDz: number): void {
  if (target instanceof Float32Array) {
    s.read([[target, pDxp]]);
    return;
  }
  const { D, x, W_x } = target;
  const [pXT, pW, pWT, pPanel, pDx, pDW, pDb] = [T * B * D, D * G, G * D, G * D, B * T * D, D * G, G].map(alloc) as number[];
  const m = s.f32();
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let k = 0; k < D; k++) m[pXT! / 4 + (t * B + b) * D + k] = x[(b * T + t) * D + k]!; // x as [T, B, D]
  s.write([[W_x, pW!]]);
  s.exports.transpose(pWT!, pW!, D, G);
  s.exports.packB(pPanel!, pWT!, D, G, D);
  s.run('weightGradPacked', rowSlices(s, D).map(([k0, k1]) => [T, B, D, k0, k1, pXT!, pDz, G, pDW!, G]));
  s.exports.sumRows(pDb!, pDxp, B * T, G);
  // gemm(C, ldc, A, lda, transA, B, ldb, M, K, N, panel, overwrite) on rows r0 … r1 − 1 of [B·T, G]
  s.run('gemm', rowParts(s, B * T).map(([r0, r1]) => [pDx! + r0 * D * 4, D, pDxp + r0 * G * 4, G, 0, pWT!, D, r1 - r0, G, D, pPanel!, 1]));
  s.read([[target.dx, pDx!], [target.dW_x, pDW!], [target.db, pDb!]]);
}

export function lstmForwardSimd(
  s: SimdKernels, B: number, T: number, H: number,
  xp: Arr | Projection, W: Arr, h0: Arr, c0: Arr, mask: Arr,
  packed: Float32Array, acts: Float32Array, cs: Float32Array, tcs: Float32Array, hs: Float32Array,
): void {
  const G = 4 * H;
  const BH = B * H;
  const alloc = s.layout();
  const pXp = placeXp(s, alloc, xp, B, T, G);
  const [pW, pMask, pActs, pCs, pTcs, pHs, pPacked, pPanel] = [H * G, B * T, T * B * G, (T + 1) * BH, T * BH, (T + 1) * BH, B * (T + 2) * H, H * G].map(alloc) as number[];
  s.write([[W, pW!], [mask, pMask!], [h0, pHs!], [c0, pCs!]]);
  s.exports.packB(pPanel!, pW!, G, H, G);
  s.run('lstmForward', batchSlices(s, B).map(([b0, b1]) => [B, T, H, b0, b1, pXp, pW!, pMask!, pActs!, pCs!, pTcs!, pHs!, pPacked!, pPanel!]));
  s.read([[packed, pPacked!], [acts, pActs!], [cs, pCs!], [tcs, pTcs!], [hs, pHs!]]);
}

export function lstmBackwardSimd(
  s: SimdKernels, B: number, T: number, H: number,
  W: Arr, mask: Arr, acts: Arr, cs: Arr, tcs: Arr, hs: Arr, dy: Arr,
  dxp: Float32Array | ProjectionGrad, dW: Float32Array, dh0: Float32Array, dc0: Float32Array,
): void {
  const G = 4 * H;
  const BH = B * H;
  const alloc = s.layout();
  const [pW, pWT, pMask, pActs, pCs, pTcs, pHs, pDy, pDxp, pDW, pDh, pDc, pPanel, pDz] = [H * G, G * H, B * T, T * B * G, (T + 1) * BH, T * BH, (T + 1) * BH, B * (T + 2) * H, B * T * G, H * G, BH, BH, G * H, T * B * G].map(alloc) as number[];
  s.write([[W, pW!], [mask, pMask!], [acts, pActs!], [cs, pCs!], [tcs, pTcs!], [hs, pHs!], [dy, pDy!]]);
  s.exports.transpose(pWT!, pW!, H, G);
  s.exports.packB(pPanel!, pWT!, H, G, H);
  s.run('lstmBackward', batchSlices(s, B).map(([b0, b1]) => [B, T, H, b0, b1, pWT!, pMask!, pActs!, pCs!, pTcs!, pDy!, pDxp!, pDh!, pDc!, pPanel!, pDz!]));
  s.run('weightGradPacked', rowSlices(s, H).map(([k0, k1]) => [T, B, H, k0, k1, pHs!, pDz!, G, pDW!, G]));
  s.read([[dW, pDW!], [dh0, pDh!], [dc0, pDc!]]);
  leaveXp(s, alloc, dxp, B, T, G, pDxp!, pDz!);
}

export function gruForwardSimd(
  s: SimdKernels, B: number, T: number, H: number,
  xp: Arr | Projection, W: Arr, h0: Arr, mask: Arr,
  packed: Float32Array, acts: Float32Array, hs: Float32Array,
): void {
  const G = 3 * H;
  const BH = B * H;
  const alloc = s.layout();
  const pXp = placeXp(s, alloc, xp, B, T, G);
  const [pW, pMask, pActs, pHs, pPacked, pRh, pPanel] = [H * G, B * T, T * B * G, (T + 1) * BH, B * (T + 1) * H, T * BH, H * G].map(alloc) as number[];
  s.write([[W, pW!], [mask, pMask!], [h0, pHs!]]);
  s.exports.packB(pPanel!, pW!, G, H, G);
  s.run('gruForward', batchSlices(s, B).map(([b0, b1]) => [B, T, H, b0, b1, pXp, pW!, pMask!, pActs!, pHs!, pPacked!, pRh!, pPanel!]));
  s.read([[packed, pPacked!], [acts, pActs!], [hs, pHs!]]);
}

export function gruBackwardSimd(
  s: SimdKernels, B: number, T: number, H: number,
  W: Arr, mask: Arr, acts: Arr, hs: Arr, dy: Arr,
  dxp: Float32Array | ProjectionGrad, dW: Float32Array, dh0: Float32Array,
): void {
  const G = 3 * H;
  const BH = B * H;
  const alloc = s.layout();
  const packed = H % 8 === 0; // dz packed for one weight-gradient product per block (else one per step)
  const [pW, pWT, pMask, pActs, pHs, pDy, pDxp, pDW, pDh, pRh, pDRh, pPanelRZ, pPanelN, pDz] = [H * G, G * H, B * T, T * B * G, (T + 1) * BH, B * (T + 1) * H, B * T * G, H * G, BH, T * BH, BH, 2 * H * H, H * H, packed ? T * B * G : 0].map(alloc) as number[];
  s.write([[W, pW!], [mask, pMask!], [acts, pActs!], [hs, pHs!], [dy, pDy!]]);
  s.exports.transpose(pWT!, pW!, H, G);
  s.exports.packB(pPanelRZ!, pWT!, H, 2 * H, H); // rows 0 … 2H of W_hᵀ
  s.exports.packB(pPanelN!, pWT! + 8 * H * H, H, H, H); // rows 2H … 3H
  s.run('gruBackward', batchSlices(s, B).map(([b0, b1]) => [B, T, H, b0, b1, pWT!, pMask!, pActs!, pHs!, pDy!, pDxp!, pDh!, pRh!, pDRh!, pPanelRZ!, pPanelN!, packed ? pDz! : 0]));
  const rows = rowSlices(s, H);
  if (packed) {
    s.run('weightGradPacked', rows.map(([k0, k1]) => [T, B, H, k0, k1, pHs!, pDz!, 2 * H, pDW!, G]));
    s.run('weightGradPacked', rows.map(([k0, k1]) => [T, B, H, k0, k1, pRh!, pDz! + (2 * H / 8) * T * B * 32, H, pDW! + 8 * H, G]));
  } else {
    s.run('weightGrad', rows.map(([k0, k1]) => [T, B, H, k0, k1, pHs!, pDxp!, G, 0, 2 * H, pDW!, G]));
    s.run('weightGrad', rows.map(([k0, k1]) => [T, B, H, k0, k1, pRh!, pDxp!, G, 2 * H, H, pDW! + 8 * H, G]));
  }
  s.read([[dW, pDW!], [dh0, pDh!]]);
  leaveXp(s, alloc, dxp, B, T, G, pDxp!, pDz!);
}

/** The reset-after GRU's layer forward (./fused-layer.ts; H a multiple of 8): packed [B, T + 1, H], acts [T, B, 3H] (r, z, n), an [T, B, H] (a_n), hs [T + 1, B, H]. */
export function gruResetAfterForwardSimd(
  s: SimdKernels, B: number, T: number, H: number,
  xp: Projection, W: Arr, bh: Arr, h0: Arr, mask: Arr,
  packed: Float32Array, acts: Float32Array, an: Float32Array, hs: Float32Array,
): void {
  const G = 3 * H;
  const BH = B * H;
  const alloc = s.layout();
  const pXp = placeXp(s, alloc, xp, B, T, G);
  const [pW, pBh, pMask, pActs, pAn, pHs, pPacked, pPanel] = [H * G, G, B * T, T * B * G, T * BH, (T + 1) * BH, B * (T + 1) * H, H * G].map(alloc) as number[];
  s.write([[W, pW!], [bh, pBh!], [mask, pMask!], [h0, pHs!]]);
  s.exports.packB(pPanel!, pW!, G, H, G);
  s.run('gruRAForward', batchSlices(s, B).map(([b0, b1]) => [B, T, H, b0, b1, pXp, pW!, pBh!, pMask!, pActs!, pAn!, pHs!, pPacked!, pPanel!]));
  s.read([[packed, pPacked!], [acts, pActs!], [an, pAn!], [hs, pHs!]]);
}

/** …and its backward: dW_h [H, 3H] = Σ h_{t−1}ᵀ·dA, db_h [3H] = Σ dA, dh0 [B, H], and the projection's gradients. */
export function gruResetAfterBackwardSimd(
  s: SimdKernels, B: number, T: number, H: number,
  W: Arr, mask: Arr, acts: Arr, an: Arr, hs: Arr, dy: Arr,
  proj: ProjectionGrad, dW: Float32Array, dbh: Float32Array, dh0: Float32Array,
): void {
  const G = 3 * H;
  const BH = B * H;
  const alloc = s.layout();
  const [pW, pWT, pMask, pActs, pAn, pHs, pDy, pDxp, pDA, pDW, pDbh, pDh, pPanel, pDz, pDzA] = [H * G, G * H, B * T, T * B * G, T * BH, (T + 1) * BH, B * (T + 1) * H, B * T * G, B * T * G, H * G, G, BH, G * H, T * B * G, T * B * G].map(alloc) as number[];
  s.write([[W, pW!], [mask, pMask!], [acts, pActs!], [an, pAn!], [hs, pHs!], [dy, pDy!]]);
  s.exports.transpose(pWT!, pW!, H, G);
  s.exports.packB(pPanel!, pWT!, H, G, H);
  s.run('gruRABackward', batchSlices(s, B).map(([b0, b1]) => [B, T, H, b0, b1, pWT!, pMask!, pActs!, pAn!, pHs!, pDy!, pDxp!, pDA!, pDh!, pPanel!, pDz!, pDzA!]));
  s.run('weightGradPacked', rowSlices(s, H).map(([k0, k1]) => [T, B, H, k0, k1, pHs!, pDzA!, G, pDW!, G]));
  s.exports.sumRows(pDbh!, pDA!, B * T, G);
  s.read([[dW, pDW!], [dbh, pDbh!], [dh0, pDh!]]);
  leaveXp(s, alloc, proj, B, T, G, pDxp!, pDz!);
}

export function rnnForwardSimd(
  s: SimdKernels, B: number, T: number, H: number, relu: boolean,
  xp: Arr | Projection, W: Arr, h0: Arr, mask: Arr,
  packed: Float32Array, acts: Float32Array, hs: Float32Array,
): void {
  const BH = B * H;
  const alloc = s.layout();
  const pXp = placeXp(s, alloc, xp, B, T, H);
  const [pW, pMask, pActs, pHs, pPacked, pPanel] = [H * H, B * T, T * BH, (T + 1) * BH, B * (T + 1) * H, H * H].map(alloc) as number[];
  s.write([[W, pW!], [mask, pMask!], [h0, pHs!]]);
  s.exports.packB(pPanel!, pW!, H, H, H);
  s.run('rnnForward', batchSlices(s, B).map(([b0, b1]) => [B, T, H, b0, b1, relu ? 1 : 0, pXp, pW!, pMask!, pActs!, pHs!, pPacked!, pPanel!]));
  s.read([[packed, pPacked!], [acts, pActs!], [hs, pHs!]]);
}

export function rnnBackwardSimd(
  s: SimdKernels, B: number, T: number, H: number, relu: boolean,
  W: Arr, mask: Arr, acts: Arr, hs: Arr, dy: Arr,
  dxp: Float32Array | ProjectionGrad, dW: Float32Array, dh0: Float32Array,
): void {
  const BH = B * H;
  const alloc = s.layout();
  const packed = H % 8 === 0;
  const [pW, pWT, pMask, pActs, pHs, pDy, pDxp, pDW, pDh, pPanel, pDz] = [H * H, H * H, B * T, T * BH, (T + 1) * BH, B * (T + 1) * H, B * T * H, H * H, BH, H * H, packed ? T * BH : 0].map(alloc) as number[];
  s.write([[W, pW!], [mask, pMask!], [acts, pActs!], [hs, pHs!], [dy, pDy!]]);
  s.exports.transpose(pWT!, pW!, H, H);
  s.exports.packB(pPanel!, pWT!, H, H, H);
  s.run('rnnBackward', batchSlices(s, B).map(([b0, b1]) => [B, T, H, b0, b1, relu ? 1 : 0, pWT!, pMask!, pActs!, pDy!, pDxp!, pDh!, pPanel!, packed ? pDz! : 0]));
  if (packed) s.run('weightGradPacked', rowSlices(s, H).map(([k0, k1]) => [T, B, H, k0, k1, pHs!, pDz!, H, pDW!, H]));
  else s.run('weightGrad', rowSlices(s, H).map(([k0, k1]) => [T, B, H, k0, k1, pHs!, pDxp!, H, 0, H, pDW!, H]));
  s.read([[dW, pDW!], [dh0, pDh!]]);
  leaveXp(s, alloc, dxp, B, T, H, pDxp!, pDz!);
}
