// Seeded weight initialisers in plain Float32Array math (no tensors, so they are fast on every
// backend and identical everywhere).
//   glorotUniform (in @attend/core, shared with the attention layers): Glorot & Bengio 2010.
//   orthogonal: Saxe et al. 2014, "Exact solutions to the nonlinear dynamics of learning in deep
//     linear neural networks": the Q of a QR decomposition of a Gaussian matrix, here computed by
//     modified Gram–Schmidt in float64 (tf.linalg.qr is very slow on the cpu backend).
import { Rng, assertInt } from '@attend/core';

/**
 * An `[n, n]` orthogonal matrix (row-major): orthonormalise the columns of a standard normal
 * matrix by modified Gram–Schmidt. Equivalent to Q of QR with R's diagonal made positive, so Q
 * is uniformly (Haar) distributed over the orthogonal group.
 */
export function orthogonal(rng: Rng, n: number): Float32Array {
  assertInt('orthogonal n', n);
  const cols: Float64Array[] = [];
  for (let j = 0; j < n; j++) {
    const v = new Float64Array(n);
    for (;;) {
      for (let i = 0; i < n; i++) v[i] = rng.normal();
      for (const q of cols) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += q[i]! * v[i]!;
        for (let i = 0; i < n; i++) v[i]! -= dot * q[i]!;
      }
      let norm = 0;
      for (let i = 0; i < n; i++) norm += v[i]! * v[i]!;
      norm = Math.sqrt(norm);
      if (norm > 1e-6) { // a (practically impossible) dependent draw is simply redrawn
        for (let i = 0; i < n; i++) v[i]! /= norm;
        break;
      }
    }
    cols.push(v);
  }
  const out = new Float32Array(n * n);
  for (let j = 0; j < n; j++) for (let i = 0; i < n; i++) out[i * n + j] = cols[j]![i]!;
  return out;
}

/**
 * A recurrent kernel `[H, k·H]` made of `k` independent orthogonal `[H, H]` blocks side by side,
 * one per gate (so each gate's recurrent map is orthogonal on its own).
 */
export function orthogonalBlocks(rng: Rng, hidden: number, k: number): Float32Array {
  const out = new Float32Array(hidden * k * hidden);
  for (let g = 0; g < k; g++) {
    const q = orthogonal(rng, hidden);
    for (let i = 0; i < hidden; i++) {
      for (let j = 0; j < hidden; j++) out[i * k * hidden + g * hidden + j] = q[i * hidden + j]!;
    }
  }
  return out;
}
