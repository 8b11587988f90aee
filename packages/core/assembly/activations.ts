// AssemblyScript → WebAssembly SIMD: elementwise activations on f32x4 for one thread's range of a
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
