// Test helpers: the golden fixtures; closeness checks, seeded tensors, a leak check and a
// finite-difference gradient check come from @attend/test-utils (shared with the other packages).
import { readFileSync } from 'node:fs';
import type { Nested } from '@attend/test-utils';

export { checkDirectional, expectClose, expectNoLeak, expectSame, randn, t, type Nested } from '@attend/test-utils';

export interface GoldenVariant {
  mask?: Nested;
  causal: boolean;
  scores: Nested;
  weights: Nested;
  context: Nested;
  loss: number;
  grads: Record<string, Nested>;
}

export interface GoldenCase {
  source: string;
  query: Nested;
  keys: Nested;
  values: Nested;
  params: Record<string, Nested>;
  R: { context: Nested; weights: Nested };
  variants: Record<'none' | 'padding' | 'causal' | 'padding_causal', GoldenVariant>;
}

export interface Golden {
  meta: { B: number; Tq: number; Tk: number; Dq: number; Dk: number; Dv: number; A: number; heads: number; d: number; lengths: number[] };
  cases: Record<'dot' | 'general' | 'additive' | 'scaledDot' | 'scaledDot_heads', GoldenCase>;
}

export function loadGolden(): Golden {
  return JSON.parse(readFileSync(new URL('../fixtures/golden.json', import.meta.url), 'utf8')) as Golden;
}

