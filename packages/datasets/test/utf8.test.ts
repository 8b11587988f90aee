import { Rng } from '@attend/core';
import { describe, expect, it } from 'vitest';
import { Utf8Validator } from '../src/utf8.js';

const validate = (bytes: number[], split = bytes.length) => {
  const v = new Utf8Validator();
  const a = v.push(Uint8Array.from(bytes.slice(0, split)));
  if (a >= 0) return a;
  const b = v.push(Uint8Array.from(bytes.slice(split)));
  return b >= 0 ? b : v.end();
};

describe('Utf8Validator', () => {
  it.each([
    { name: 'ASCII', bytes: [0x61, 0x62], at: -1 },
    { name: '你 split across chunks', bytes: [0x61, 0xe4, 0xbd, 0xa0], split: 2, at: -1 },
    { name: 'emoji', bytes: [0xf0, 0x9f, 0x91, 0x8b], at: -1 },
    { name: 'lone continuation byte', bytes: [0x61, 0x80], at: 1 },
    { name: 'Latin-1 é', bytes: [0x63, 0xe9, 0x21], at: 1 },
    { name: 'overlong /', bytes: [0xc0, 0xaf], at: 0 },
    { name: 'surrogate U+D800', bytes: [0x61, 0xed, 0xa0, 0x80], at: 1 },
    { name: 'past U+10FFFF', bytes: [0xf4, 0x90, 0x80, 0x80], at: 0 },
    { name: 'truncated at end', bytes: [0x61, 0x62, 0xe4, 0xbd], at: 2 },
  ])('$name', ({ bytes, split, at }) => {
    expect(validate(bytes, split)).toBe(at);
  });

  it('agrees with TextDecoder({ fatal: true }) on random bytes', () => {
    const rng = new Rng(5);
    const pool = [0x00, 0x41, 0x7f, 0x80, 0xbf, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xa0, 0x90, 0x8f];
    for (let trial = 0; trial < 2000; trial++) {
      const bytes = Array.from({ length: 1 + rng.int(8) }, () => pool[rng.int(pool.length)]!);
      let ok = true;
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
      } catch {
        ok = false;
      }
      expect(validate(bytes, rng.int(bytes.length + 1)) < 0, JSON.stringify(bytes)).toBe(ok);
    }
  });
});
