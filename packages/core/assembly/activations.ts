// AssemblyScript → WebAssembly SIMD: elementwise activations and layer normalisation on f32x4 for one thread's range of a
// tensor (the caller splits a tensor over its threads and pads regions to whole f32x4 vectors).
// GELU in its tanh approximation (Hendrycks & Gimpel 2016; PyTorch's approximate='tanh'), as
// @attend/transformer's feed-forward.ts defines it, forward and backward:
//   y = 0.5·x·(1 + t),  t = tanh(c·(x + a·x³));   dy/dx = 0.5·(1 + t) + 0.5·x·(1 − t²)·c·(1 + 3a·x²)
import { ld } from './gemm';
import { tanhv } from './sequence';

const GELU_C: f32 = 0.7978845608028654; // √(2/π)
const GELU_A: f32 = 0.044715;

/** out[i] = gelu(x[i]) for i < n (n rounded up to a multiple of 4). */
export function gelu(out: usize, x: usize, n: i32): void {
  const c = f32x4.splat(GELU_C);
  const a = f32x4.splat(GELU_A);
  const half = f32x4.splat(0.5);
  const one = f32x4.splat(1);
  for (let i = 0; i < n; i += 4) {
    const v = ld(x + (<usize>i << 2));
    const t = tanhv(f32x4.mul(c, f32x4.mul(v, f32x4.add(one, f32x4.mul(a, f32x4.mul(v, v))))));
    v128.store(out + (<usize>i << 2), f32x4.mul(f32x4.mul(half, v), f32x4.add(one, t)));
  }
}

/** dx[i] = dy[i]·gelu′(x[i]) for i < n (n rounded up to a multiple of 4). */
export function geluGrad(dx: usize, x: usize, dy: usize, n: i32): void {
  const c = f32x4.splat(GELU_C);
  const a = f32x4.splat(GELU_A);
  const a3 = f32x4.splat(3 * GELU_A);
  const half = f32x4.splat(0.5);
  const one = f32x4.splat(1);
  for (let i = 0; i < n; i += 4) {
    const v = ld(x + (<usize>i << 2));
    const v2 = f32x4.mul(v, v);
    const t = tanhv(f32x4.mul(c, f32x4.mul(v, f32x4.add(one, f32x4.mul(a, v2)))));
    const inner = f32x4.mul(f32x4.mul(f32x4.sub(one, f32x4.mul(t, t)), c), f32x4.add(one, f32x4.mul(a3, v2)));
    const d = f32x4.mul(half, f32x4.add(f32x4.add(one, t), f32x4.mul(v, inner)));
    v128.store(dx + (<usize>i << 2), f32x4.mul(ld(dy + (<usize>i << 2)), d));
  }
}

// Layer normalisation over rows of D features (D a multiple of 4; @attend/transformer's
// layer-norm.ts): y = γ ⊙ x̂ + β with x̂ = (x − μ)·rstd, rstd = 1/√(σ² + ε), biased σ²; backward with
// g = dy ⊙ γ:  dx = (g − mean(g) − x̂ ⊙ mean(g ⊙ x̂))·rstd,  dγ = Σ dy ⊙ x̂,  dβ = Σ dy.

/** Rows r0 … r1 − 1: y, x̂ [rows, D] and rstd [rows]. ε comes as its f32 bits (job arguments are i32). */
export function layerNorm(y: usize, xhat: usize, rstd: usize, x: usize, gamma: usize, beta: usize, r0: i32, r1: i32, D: i32, epsBits: i32): void {
  const eps = reinterpret<f32>(epsBits);
  const inv: f32 = 1 / <f32>D;
  for (let r = r0; r < r1; r++) {
    const row = x + ((<usize>r * D) << 2);
    let acc = f32x4.splat(0);
    for (let j = 0; j < D; j += 4) acc = f32x4.add(acc, ld(row + (<usize>j << 2)));
    const mu = f32x4.splat((f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3)) * inv);
    acc = f32x4.splat(0);
    for (let j = 0; j < D; j += 4) {
      const c = f32x4.sub(ld(row + (<usize>j << 2)), mu);
      acc = f32x4.add(acc, f32x4.mul(c, c));
    }
    const variance = (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3)) * inv;
    const rs: f32 = 1 / Mathf.sqrt(variance + eps);
    store<f32>(rstd + (<usize>r << 2), rs);
    const rsv = f32x4.splat(rs);
    const out = y + ((<usize>r * D) << 2);
    const xh = xhat + ((<usize>r * D) << 2);
    for (let j = 0; j < D; j += 4) {
      const o = <usize>j << 2;
      const h = f32x4.mul(f32x4.sub(ld(row + o), mu), rsv);
      v128.store(xh + o, h);
      v128.store(out + o, f32x4.add(f32x4.mul(h, ld(gamma + o)), ld(beta + o)));
    }
  }
}

/** Rows r0 … r1 − 1: dx [rows, D]; this thread's partial dγ, dβ [D] (set, not added to). */
export function layerNormGrad(dx: usize, dgamma: usize, dbeta: usize, dy: usize, xhat: usize, rstd: usize, gamma: usize, r0: i32, r1: i32, D: i32): void {
  const inv: f32 = 1 / <f32>D;
  memory.fill(dgamma, 0, <usize>D << 2);
  memory.fill(dbeta, 0, <usize>D << 2);
  for (let r = r0; r < r1; r++) {
    const base = (<usize>r * D) << 2;
    let sg = f32x4.splat(0);
    let sgx = f32x4.splat(0);
    for (let j = 0; j < D; j += 4) {
      const o = <usize>j << 2;
      const d = ld(dy + base + o);
      const h = ld(xhat + base + o);
      const g = f32x4.mul(d, ld(gamma + o));
      sg = f32x4.add(sg, g);
      sgx = f32x4.add(sgx, f32x4.mul(g, h));
      v128.store(dgamma + o, f32x4.add(ld(dgamma + o), f32x4.mul(d, h)));
      v128.store(dbeta + o, f32x4.add(ld(dbeta + o), d));
    }
    const mg = f32x4.splat((f32x4.extract_lane(sg, 0) + f32x4.extract_lane(sg, 1) + f32x4.extract_lane(sg, 2) + f32x4.extract_lane(sg, 3)) * inv);
    const mgx = f32x4.splat((f32x4.extract_lane(sgx, 0) + f32x4.extract_lane(sgx, 1) + f32x4.extract_lane(sgx, 2) + f32x4.extract_lane(sgx, 3)) * inv);
    const rs = f32x4.splat(load<f32>(rstd + (<usize>r << 2)));
    for (let j = 0; j < D; j += 4) {
      const o = <usize>j << 2;
      const g = f32x4.mul(ld(dy + base + o), ld(gamma + o));
      const h = ld(xhat + base + o);
      v128.store(dx + base + o, f32x4.mul(f32x4.sub(f32x4.sub(g, mg), f32x4.mul(h, mgx)), rs));
    }
  }
}

// Adam's update (Kingma & Ba 2015) exactly as tfjs's AdamOptimizer computes it op by op in float32
// (@attend/training's fused-adam.ts): every f32x4 operation here is IEEE-rounded like each of its ops.
//   m' = m·β1 + g·(1 − β1)    v' = v·β2 + g²·(1 − β2)    w' = (m'/c1) / (√(v'/c2) + ε) · (−lr) + w
// w, m, v are updated in place over i < n (n rounded up to a multiple of 4); the scalars come as f32 bits.
export function adam(w: usize, m: usize, v: usize, g: usize, n: i32, b1Bits: i32, omb1Bits: i32, b2Bits: i32, omb2Bits: i32, c1Bits: i32, c2Bits: i32, epsBits: i32, negLrBits: i32): void {
  const b1 = f32x4.splat(reinterpret<f32>(b1Bits));
  const omb1 = f32x4.splat(reinterpret<f32>(omb1Bits));
  const b2 = f32x4.splat(reinterpret<f32>(b2Bits));
  const omb2 = f32x4.splat(reinterpret<f32>(omb2Bits));
  const c1 = f32x4.splat(reinterpret<f32>(c1Bits));
  const c2 = f32x4.splat(reinterpret<f32>(c2Bits));
  const eps = f32x4.splat(reinterpret<f32>(epsBits));
  const negLr = f32x4.splat(reinterpret<f32>(negLrBits));
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2;
    const gi = ld(g + o);
    const mi = f32x4.add(f32x4.mul(ld(m + o), b1), f32x4.mul(gi, omb1));
    const vi = f32x4.add(f32x4.mul(ld(v + o), b2), f32x4.mul(f32x4.mul(gi, gi), omb2));
    const denom = f32x4.add(f32x4.sqrt(f32x4.div(vi, c2)), eps);
    v128.store(w + o, f32x4.add(f32x4.mul(f32x4.div(f32x4.div(mi, c1), denom), negLr), ld(w + o)));
    v128.store(m + o, mi);
    v128.store(v + o, vi);
  }
}
