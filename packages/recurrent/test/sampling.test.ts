// Sampling helpers: temperature, top-k, top-p (nucleus) filtering and the seeded categorical draw.
import { Rng } from '@attend/core';
import { describe, expect, it } from 'vitest';
import { sampleIndex, sampleToken, samplingDistribution } from '../src/index.js';

const logitsOf = (probs: number[]) => probs.map(Math.log);

describe('samplingDistribution', () => {
  it('is the softmax at temperature 1, one-hot at the argmax at temperature 0 and in the limit', () => {
    const logits = [0.5, 2, -1, 1.999];
    const p = samplingDistribution(logits);
    const z = logits.reduce((s, l) => s + Math.exp(l), 0);
    logits.forEach((l, i) => expect(p[i]).toBeCloseTo(Math.exp(l) / z, 12));
    expect(Array.from(samplingDistribution(logits, { temperature: 0 }))).toEqual([0, 1, 0, 0]);
    expect(Array.from(samplingDistribution(logits, { temperature: 1e-6 }))).toEqual([0, 1, 0, 0]);
    const hot = samplingDistribution(logits, { temperature: 0.5 });
    const cold = samplingDistribution(logits, { temperature: 2 });
    expect(hot[1]! + hot[3]!).toBeGreaterThan(p[1]! + p[3]!);
    expect(cold[2]).toBeGreaterThan(p[2]!);
  });

  it('top-k keeps the k most probable tokens, renormalised', () => {
    const logits = logitsOf([0.1, 0.4, 0.2, 0.3]);
    expect(Array.from(samplingDistribution(logits, { topK: 1 }))).toEqual([0, 1, 0, 0]);
    const p = samplingDistribution(logits, { topK: 2 });
    expect(p[0]).toBe(0);
    expect(p[2]).toBe(0);
    expect(p[1]).toBeCloseTo(0.4 / 0.7, 12);
    expect(p[3]).toBeCloseTo(0.3 / 0.7, 12);
    expect(Array.from(samplingDistribution(logits, { topK: 10 }))).toEqual(Array.from(samplingDistribution(logits)));
  });

  it('top-p keeps the smallest set of most probable tokens with cumulative probability ≥ p', () => {
    const logits = logitsOf([0.05, 0.5, 0.15, 0.3]);
    const kept = (topP: number) => Array.from(samplingDistribution(logits, { topP })).flatMap((v, i) => (v > 0 ? [i] : []));
    expect(kept(0.4)).toEqual([1]);
    expect(kept(0.49)).toEqual([1]);
    expect(kept(0.7)).toEqual([1, 3]);
    expect(kept(0.9)).toEqual([1, 2, 3]);
    expect(kept(0.97)).toEqual([0, 1, 2, 3]);
    expect(kept(1)).toEqual([0, 1, 2, 3]);
    // Property check on random distributions.
    const rng = new Rng(5);
    for (let trial = 0; trial < 200; trial++) {
      const V = 2 + rng.int(12);
      const ls = Array.from({ length: V }, () => 3 * rng.normal());
      const p0 = samplingDistribution(ls);
      const topP = 0.05 + 0.95 * rng.next();
      const p = samplingDistribution(ls, { topP });
      const keep = [...Array(V).keys()].filter((i) => p[i]! > 0);
      const mass = keep.reduce((s, i) => s + p0[i]!, 0);
      expect(mass).toBeGreaterThanOrEqual(topP - 1e-12);
      const smallest = Math.min(...keep.map((i) => p0[i]!));
      expect(mass - smallest).toBeLessThan(topP); // dropping any kept token falls short: it is the smallest set
      for (let i = 0; i < V; i++) if (p[i] === 0) expect(p0[i]).toBeLessThanOrEqual(smallest); // the most probable ones
      expect(keep.reduce((s, i) => s + p[i]!, 0)).toBeCloseTo(1, 12);
    }
  });

  it('never draws an excluded token, at any temperature, and rejects excluding everything', () => {
    const logits = [5, 1, 4, 0];
    const p = samplingDistribution(logits, { exclude: [0, 3] });
    expect(p[0]).toBe(0);
    expect(p[3]).toBe(0);
    expect(p[1]! + p[2]!).toBeCloseTo(1, 12);
    expect(p[2]! / p[1]!).toBeCloseTo(Math.exp(3), 9);
    expect(Array.from(samplingDistribution(logits, { exclude: [0], temperature: 0 }))).toEqual([0, 0, 1, 0]);
    expect(Array.from(samplingDistribution(logits, { exclude: [0, 2], topK: 1 }))).toEqual([0, 1, 0, 0]);
    expect(() => samplingDistribution(logits, { exclude: [0, 1, 2, 3] })).toThrow('every one of the 4 tokens is excluded');
    expect(() => samplingDistribution(logits, { exclude: [-1] })).toThrow('exclude: expected a list of token ids');
  });

  it('applies top-k before top-p, and rejects bad options', () => {
    const logits = logitsOf([0.05, 0.5, 0.15, 0.3]);
    // After top-2: {1: 0.625, 3: 0.375}; p = 0.6 keeps only token 1.
    expect(Array.from(samplingDistribution(logits, { topK: 2, topP: 0.6 }))).toEqual([0, 1, 0, 0]);
    expect(() => samplingDistribution(logits, { temperature: -1 })).toThrow(/temperature/);
    expect(() => samplingDistribution(logits, { topK: 0 })).toThrow(/topK: expected an integer ≥ 1, got 0/);
    expect(() => samplingDistribution(logits, { topP: 0 })).toThrow(/topP: expected a number in \(0, 1\]/);
    expect(() => samplingDistribution(logits, { topP: 1.5 })).toThrow(/topP/);
    expect(() => samplingDistribution(logits, { top_k: 3 } as never)).toThrow(/unknown option "top_k"/);
  });
});

describe('sampleIndex / sampleToken', () => {
  it('draws with the right frequencies, never a zero-probability token, reproducibly', () => {
    const probs = [0.1, 0, 0.6, 0.3];
    const rng = new Rng(1);
    const counts = [0, 0, 0, 0];
    const n = 20_000;
    for (let i = 0; i < n; i++) counts[sampleIndex(probs, rng)]!++;
    expect(counts[1]).toBe(0);
    probs.forEach((p, i) => expect(Math.abs(counts[i]! / n - p)).toBeLessThan(0.015));
    const a = new Rng(9);
    const b = new Rng(9);
    const logits = [0.3, -0.2, 1.1, 0.4, 0];
    const draws = (r: Rng) => Array.from({ length: 50 }, () => sampleToken(logits, r, { temperature: 0.8, topP: 0.9 }));
    expect(draws(a)).toEqual(draws(b));
  });
});
