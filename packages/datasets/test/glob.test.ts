import { describe, expect, it } from 'vitest';
import { globMatcher, globsMatcher } from '../src/node.js';

describe('glob patterns', () => {
  it.each([
    { pattern: '**/*.txt', yes: ['a.txt', 'x/a.txt', 'x/y/z.txt'], no: ['a.md', 'a.txt.bak', 'x/a.txtx'] },
    { pattern: '*.c', yes: ['main.c', 'src/deep/util.c'], no: ['main.cc', 'c', 'src/main.h'] },
    { pattern: 'src/*.ts', yes: ['src/a.ts'], no: ['src/x/a.ts', 'a.ts', 'lib/src/a.ts'] },
    { pattern: 'src/**/*.ts', yes: ['src/a.ts', 'src/x/y/a.ts'], no: ['lib/a.ts'] },
    { pattern: 'file?.txt', yes: ['file1.txt', 'd/fileA.txt'], no: ['file10.txt', 'file.txt'] },
    { pattern: '*.{c,h}', yes: ['a.c', 'b/a.h'], no: ['a.cpp'] },
    { pattern: 'a+b (1).txt', yes: ['a+b (1).txt'], no: ['aab (1).txt'] },
  ])('$pattern', ({ pattern, yes, no }) => {
    const m = globMatcher(pattern);
    for (const p of yes) expect(m(p), p).toBe(true);
    for (const p of no) expect(m(p), p).toBe(false);
  });

  it('matches anything without patterns, or any of several', () => {
    expect(globsMatcher([])('x/y')).toBe(true);
    const m = globsMatcher(['*.c', '*.h']);
    expect(m('a.h')).toBe(true);
    expect(m('a.o')).toBe(false);
  });
});
