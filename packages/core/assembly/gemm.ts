// AssemblyScript → WebAssembly SIMD: the matrix product the Attend kernels are built on (also
// tfjs's BatchMatMul on the wasm backend, ../src/wasm-fast-paths.ts). A 4 × 8 register-blocked
// f32x4 kernel — the tile shape XNNPACK uses for wasm SIMD: 8 accumulators, two B loads and four
// broadcast A loads per k — plus scalar edges. Pointers are byte offsets into the shared memory.

// ---------------------------------------------------------------------------------------------
// C[M × N] (+)= A·B with A [M × K] (or, `transA`, stored [K × M]) and B [K × N], row strides in floats.

@inline export function ld(p: usize): v128 { return v128.load(p); }

/**
 * c + a·b on f32x4: one fused multiply–add in the relaxed-SIMD build (attend-simd-relaxed.wasm; the
 * result rounded once, or twice where the CPU has no FMA — relaxed semantics), a multiply and an add
 * in the baseline build. Only the GEMM's tiles use it: everything else keeps exact float32 steps.
 */
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

/**
 * C[4 × 8] += A·B over kc steps: c0 → C's tile (row stride ldc floats); pa → A's entries for this
 * tile at the first k (rows `lda` floats apart, or with transA consecutive with k rows lda apart);
 * pb → B's 8 floats at the first k, the next k `sb` bytes on (32 in a packed panel). `fresh`: start
 * from 0 instead of C's values (C = A·B).
 */
@inline function tile4x8(c0: usize, ldc: i32, pa: usize, lda: i32, transA: bool, pb: usize, sb: usize, kc: i32, fresh: bool): void {
  const c1 = c0 + (<usize>ldc << 2);
  const c2 = c1 + (<usize>ldc << 2);
  const c3 = c2 + (<usize>ldc << 2);
  const z = f32x4.splat(0);
  let a00 = fresh ? z : ld(c0), a01 = fresh ? z : ld(c0 + 16);
  let a10 = fresh ? z : ld(c1), a11 = fresh ? z : ld(c1 + 16);
  let a20 = fresh ? z : ld(c2), a21 = fresh ? z : ld(c2 + 16);
  let a30 = fresh ? z : ld(c3), a31 = fresh ? z : ld(c3 + 16);
  const sa = <usize>lda << 2;
  // Per k: A's four entries at o0 … o3 from pa, then pa moves on by da.
  const o1: usize = transA ? 4 : sa;
  const o2: usize = 2 * o1;
  const o3: usize = 3 * o1;
  const da: usize = transA ? sa : 4;
  for (let k = 0; k < kc; k++) {
    const b0 = ld(pb), b1 = ld(pb + 16);
    let s = v128.load32_splat(pa);
    a00 = madd(s, b0, a00); a01 = madd(s, b1, a01);
    s = v128.load32_splat(pa + o1);
    a10 = madd(s, b0, a10); a11 = madd(s, b1, a11);
    s = v128.load32_splat(pa + o2);
    a20 = madd(s, b0, a20); a21 = madd(s, b1, a21);
    s = v128.load32_splat(pa + o3);
    a30 = madd(s, b0, a30); a31 = madd(s, b1, a31);
    pa += da;
    pb += sb;
  }
  v128.store(c0, a00); v128.store(c0 + 16, a01);
  v128.store(c1, a10); v128.store(c1 + 16, a11);
  v128.store(c2, a20); v128.store(c2 + 16, a21);
  v128.store(c3, a30); v128.store(c3 + 16, a31);
}

/**
 * One element of C += A·B (the edges the 4 × 8 tiles do not cover). B(k, j) comes from the packed
 * panel for the columns it holds (j < N & ~7), so B itself is needed only for the last N % 8 columns.
 */
@inline function dotAt(A: usize, lda: i32, transA: bool, B: usize, ldb: i32, panel: usize, N8: i32, i: i32, j: i32, K: i32): f32 {
  let s: f32 = 0;
  const packed = panel != 0 && j < N8;
  const pb: usize = packed ? panel + ((<usize>(j >> 3) * K) << 5) + (<usize>(j & 7) << 2) : B + (<usize>j << 2);
  const sb: usize = packed ? 32 : <usize>ldb << 2;
  for (let k = 0; k < K; k++) {
    const a = transA ? load<f32>(A + ((<usize>k * lda + i) << 2)) : load<f32>(A + ((<usize>i * lda + k) << 2));
    s += a * load<f32>(pb + <usize>k * sb);
  }
  return s;
}

/**
 * Packs B [K × N] (row stride ldb) for `gemm`: panel[s][k][c] = B[k][8s + c] for the N & ~7 columns
 * a tile covers — each 8-column strip contiguous, so a tile streams it (no 4 KiB strides, no
 * half-used cache lines). K · (N & ~7) floats.
 */
export function packB(panel: usize, B: usize, ldb: i32, K: i32, N: i32): void {
  const N8 = N & ~7;
  for (let j = 0; j < N8; j += 8) {
    const strip = panel + ((<usize>(j >> 3) * K) << 5);
    for (let k = 0; k < K; k++) {
      const src = B + ((<usize>k * ldb + j) << 2);
      v128.store(strip + (<usize>k << 5), ld(src));
      v128.store(strip + (<usize>k << 5) + 16, ld(src + 16));
    }
  }
}

/** Row r of a packB panel (K rows) from the N & ~7 floats at src: for B written a row at a time. */
export function packRow(panel: usize, K: i32, r: i32, src: usize, N: i32): void {
  const N8 = N & ~7;
  for (let j = 0; j < N8; j += 8) {
    const dst = panel + ((<usize>(j >> 3) * K + r) << 5);
    v128.store(dst, ld(src + (<usize>j << 2)));
    v128.store(dst + 16, ld(src + (<usize>j << 2) + 16));
  }
}

/**
 * C += A·B, or with `overwrite` C = A·B (C's old values never read). A [M × K] (or, transA,
 * stored [K × M]) and B [K × N], row strides in floats. `panel`: B packed by `packB` (or row by row
 * by packRow: then B may be 0 when N is a multiple of 8), or 0 to read B in place. K is blocked so that the rows of A one block touches (M × KC floats) stay within
 * 1 MiB — in L2 while the strips of B go by.
 */
export function gemm(C: usize, ldc: i32, A: usize, lda: i32, transA: bool, B: usize, ldb: i32, M: i32, K: i32, N: i32, panel: usize, overwrite: bool): void {
  const M4 = M & ~3;
  const N8 = N & ~7;
  let KC = K;
  if (M4 > 0) KC = max(32, min(K, (262144 / M4) & ~7));
  if (transA) KC = min(KC, 256); // a tile's k-walk down A's rows (one cache line each) stays in L1
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min(KC, K - k0);
    for (let j = 0; j < N8; j += 8) {
      const pb: usize = panel ? panel + ((<usize>(j >> 3) * K + k0) << 5) : B + ((<usize>k0 * ldb + j) << 2);
      const sb: usize = panel ? 32 : <usize>ldb << 2;
      for (let i = 0; i < M4; i += 4) {
        const pa: usize = transA ? A + ((<usize>k0 * lda + i) << 2) : A + ((<usize>i * lda + k0) << 2);
        tile4x8(C + ((<usize>i * ldc + j) << 2), ldc, pa, lda, transA, pb, sb, kc, overwrite && k0 == 0);
      }
    }
  }
  for (let i = 0; i < M; i++) {
    const from = i < M4 ? N8 : 0;
    for (let j = from; j < N; j++) {
      const p = C + ((<usize>i * ldc + j) << 2);
      store<f32>(p, (overwrite ? <f32>0 : load<f32>(p)) + dotAt(A, lda, transA, B, ldb, panel, N8, i, j, K));
    }
  }
}

/**
 * `count` products C_i = A_i·B_i (items `strideC`, `strideA`, `strideB` floats apart; B_i [K × N]
 * row-major), each B_i packed into this thread's `panel` first: one thread's share of a batch.
 */
export function gemmBatch(count: i32, C: usize, strideC: i32, A: usize, strideA: i32, lda: i32, transA: bool, B: usize, strideB: i32, M: i32, K: i32, N: i32, panel: usize): void {
  for (let i = 0; i < count; i++) {
    const b = B + ((<usize>i * strideB) << 2);
    packB(panel, b, N, K, N);
    gemm(C + ((<usize>i * strideC) << 2), N, A + ((<usize>i * strideA) << 2), lda, transA, b, N, M, K, N, panel, true);
  }
}

/** C [M × N] = A·W + b: each row of C starts as b [N], then the product (one thread's rows; W packed in `panel`). */
export function linear(C: usize, A: usize, lda: i32, W: usize, ldw: i32, b: usize, M: i32, K: i32, N: i32, panel: usize): void {
  for (let i = 0; i < M; i++) memory.copy(C + ((<usize>i * N) << 2), b, <usize>N << 2);
  gemm(C, N, A, lda, false, W, ldw, M, K, N, panel, false);
}

/** out [n] = Σ_r src[r × n + j]: the column sums of src [rows × n] (a bias gradient), a row at a time. */
export function sumRows(out: usize, src: usize, rows: i32, n: i32): void {
  const n4 = n & ~3;
  memory.fill(out, 0, <usize>n << 2);
  for (let r = 0; r < rows; r++) {
    const row = src + ((<usize>r * n) << 2);
    for (let j = 0; j < n4; j += 4) {
      const o = out + (<usize>j << 2);
      v128.store(o, f32x4.add(ld(o), ld(row + (<usize>j << 2))));
    }
    for (let j = n4; j < n; j++) store<f32>(out + (<usize>j << 2), load<f32>(out + (<usize>j << 2)) + load<f32>(row + (<usize>j << 2)));
  }
}

/** dst[r × ldd + j] = src[r × lds + j] for r < rows, j < n. */
export function copyRows(dst: usize, ldd: i32, src: usize, lds: i32, rows: i32, n: i32): void {
  for (let r = 0; r < rows; r++) memory.copy(dst + ((<usize>r * ldd) << 2), src + ((<usize>r * lds) << 2), <usize>n << 2);
}

/** out [cols × rows] = inᵀ for in [rows × cols] (for W_hᵀ in the backward passes). */
export function transpose(out: usize, inp: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) store<f32>(out + ((<usize>c * rows + r) << 2), load<f32>(inp + ((<usize>r * cols + c) << 2)));
  }
}

