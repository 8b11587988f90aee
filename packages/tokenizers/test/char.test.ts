import { ConfigError, DataError } from '@attend/core';
import { describe, expect, it } from 'vitest';
import { CharTokenizer, SPECIALS, SPECIAL_TOKENS } from '../src/index.js';

// One vocabulary for the tables: specials 0..3, then code-point order.
//   '!'=4 'H'=5 'a'=6 'b'=7 'c'=8 'П'=9 'в'=10 'е'=11 'и'=12 'р'=13 'т'=14 '你'=15 '好'=16 '🏽'=17 (U+1F3FD) '👋'=18 (U+1F44B) '😀'=19
const CORPUS = 'abc! Привет 你好 👋🏽 😀 H';
const tok = CharTokenizer.fromText(CORPUS.replace(/ /g, ''));

describe('CharTokenizer vocabulary', () => {
  it('puts the specials at fixed ids, then characters by code point', () => {
    expect(SPECIALS).toEqual({ pad: 0, bos: 1, eos: 2, unk: 3 });
    expect(tok.specials).toEqual(SPECIALS);
    expect(tok.vocab.slice(0, 4)).toEqual([...SPECIAL_TOKENS]);
    expect(tok.vocab.slice(4)).toEqual(['!', 'H', 'a', 'b', 'c', 'П', 'в', 'е', 'и', 'р', 'т', '你', '好', '🏽', '👋', '😀']);
    expect(tok.vocabSize).toBe(20);
    const cps = tok.vocab.slice(4).map((c) => c.codePointAt(0)!);
    expect([...cps].sort((a, b) => a - b)).toEqual(cps);
  });

  it('counts code points, not UTF-16 units', () => {
    const t = CharTokenizer.fromText('😀😀😀');
    expect(t.vocabSize).toBe(5);
    expect(t.encode('😀😀')).toEqual([4, 4]);
  });

  it('looks up characters and specials both ways', () => {
    expect(tok.idOf('П')).toBe(9);
    expect(tok.idOf('😀')).toBe(19);
    expect(tok.idOf('[EOS]')).toBe(2);
    expect(tok.idOf('z')).toBeUndefined();
    expect(tok.idOf('ab')).toBeUndefined();
    expect(tok.tokenOf(18)).toBe('👋');
    expect(tok.tokenOf(0)).toBe('[PAD]');
    expect(tok.has('你')).toBe(true);
    expect(tok.has('z')).toBe(false);
    expect(() => tok.tokenOf(20)).toThrowError(DataError);
    expect(() => tok.tokenOf(-1)).toThrow('id -1 is not in the vocabulary; expected an integer in [0, 19]');
  });
});

describe('CharTokenizer encode/decode', () => {
  const table: { name: string; text: string; ids: number[]; decoded: string }[] = [
    { name: 'ASCII', text: 'abc!', ids: [6, 7, 8, 4], decoded: 'abc!' },
    { name: 'Cyrillic', text: 'Привет', ids: [9, 13, 12, 10, 11, 14], decoded: 'Привет' },
    { name: 'CJK', text: '你好', ids: [15, 16], decoded: '你好' },
    { name: 'emoji with skin-tone modifier (2 code points, 4 UTF-16 units)', text: '👋🏽', ids: [18, 17], decoded: '👋🏽' },
    { name: 'surrogate pairs next to BMP chars', text: 'a😀b😀', ids: [6, 19, 7, 19], decoded: 'a😀b😀' },
    { name: 'unknown characters map to [UNK]', text: 'Hzé', ids: [5, 3, 3], decoded: 'H' },
    { name: 'unknown astral character', text: 'a🙂', ids: [6, 3], decoded: 'a' },
    { name: 'empty', text: '', ids: [], decoded: '' },
  ];
  it.each(table)('$name', ({ text, ids, decoded }) => {
    expect(tok.encode(text)).toEqual(ids);
    expect(tok.decode(ids)).toBe(decoded);
  });

  it('frames with [BOS]/[EOS] and keeps specials when asked', () => {
    const ids = tok.encode('Hz', { addBos: true, addEos: true });
    expect(ids).toEqual([1, 5, 3, 2]);
    expect(tok.decode(ids)).toBe('H');
    expect(tok.decode(ids, { skipSpecials: false })).toBe('[BOS]H[UNK][EOS]');
    expect(tok.decode(new Uint16Array([0, 6, 0]))).toBe('a');
  });

  it('rejects ids out of range when decoding', () => {
    expect(() => tok.decode([6, 99])).toThrowError(DataError);
    expect(() => tok.decode([6, 1.5])).toThrow('CharTokenizer.decode: id 1.5 is not in the vocabulary');
  });

  it('strict mode names the character, its code and its position', () => {
    const strict = CharTokenizer.fromText('abc', { strict: true });
    expect(strict.strict).toBe(true);
    expect(() => strict.encode('abzc')).toThrowError(DataError);
    expect(() => strict.encode('abzc')).toThrow('Unknown character "z" (U+007A) at position 2');
    // position counts code points, so the emoji before it counts once
    expect(() => strict.encode('😀x', { strict: true })).toThrow('Unknown character "😀" (U+1F600) at position 0');
    expect(() => tok.encode('a🙂', { strict: true })).toThrow('"🙂" (U+1F642) at position 1');
    expect(() => tok.encode('a\tb', { strict: true })).toThrow('Unknown character U+0009 at position 1');
    expect(strict.encode('abz', { strict: false })).toEqual([4, 5, 3]);
  });

  it('encodeInto writes into typed arrays at an offset and returns the count', () => {
    const out = new Uint16Array(10);
    expect(tok.encodeInto('a😀', out, 3)).toBe(2);
    expect(tok.encodeInto('你好', out, 5)).toBe(2);
    expect(Array.from(out.subarray(0, 8))).toEqual([0, 0, 0, 6, 19, 15, 16, 0]);
    const out32 = new Uint32Array(2);
    expect(tok.encodeInto('👋🏽', out32, 0)).toBe(2);
    expect(Array.from(out32)).toEqual([18, 17]);
    expect(() => tok.encodeInto('abc', new Uint16Array(2), 0)).toThrowError(ConfigError);
    expect(() => tok.encodeInto('a', new Uint16Array(2), 3)).toThrowError(ConfigError);
  });

  it('refuses a Uint16Array for a vocabulary past 65536 ids', () => {
    const chars: string[] = [];
    for (let cp = 0x4e00; chars.length < 65540; cp++) chars.push(String.fromCodePoint(cp));
    const big = CharTokenizer.fromChars(chars);
    expect(big.vocabSize).toBe(65544);
    expect(() => big.encodeInto('a', new Uint16Array(4), 0)).toThrow('use a Uint32Array');
    expect(big.encode(String.fromCodePoint(0x4e00 + 65539))).toEqual([65543]);
  });
});

describe('CharTokenizer builder', () => {
  it('gives the same vocabulary fed in chunks, even with a surrogate pair split across chunks', () => {
    const text = 'héllo 👋🏽 wörld 你好 😀!';
    const whole = CharTokenizer.fromText(text);
    const units = text.split(''); // UTF-16 units: splits every surrogate pair
    const b = CharTokenizer.builder();
    for (const u of units) b.add(u);
    expect(b.build().vocab).toEqual(whole.vocab);
    expect(CharTokenizer.fromText(['hé', 'llo 👋🏽 w', 'örld 你好 😀!']).vocab).toEqual(whole.vocab);
    expect(whole.decode(whole.encode(text))).toBe(text);
  });

  it('rejects unknown options and non-characters', () => {
    expect(() => CharTokenizer.fromText('a', { strct: true } as never)).toThrow('CharTokenizer: unknown option "strct"');
    expect(() => CharTokenizer.fromChars(['ab'])).toThrowError(ConfigError);
  });
});

describe('CharTokenizer JSON', () => {
  it('round-trips through JSON text', () => {
    const json = tok.toJSON();
    expect(json).toMatchObject({ type: 'char', version: 1, strict: false });
    expect(json.vocab.slice(0, 5)).toEqual(['[PAD]', '[BOS]', '[EOS]', '[UNK]', '!']);
    const back = CharTokenizer.fromJSON(JSON.parse(JSON.stringify(json)));
    expect(back.vocab).toEqual(tok.vocab);
    expect(back.encode('Привет 👋🏽')).toEqual(tok.encode('Привет 👋🏽'));
    expect(CharTokenizer.fromJSON(JSON.stringify(json)).vocabSize).toBe(20);
    expect(CharTokenizer.fromJSON(CharTokenizer.fromText('x', { strict: true }).toJSON()).strict).toBe(true);
  });

  const base = { type: 'char', version: 1, vocab: ['[PAD]', '[BOS]', '[EOS]', '[UNK]', 'a'] };
  const bad: { name: string; json: unknown; message: string }[] = [
    { name: 'not an object', json: [1, 2], message: 'char tokenizer JSON: expected an object like { "type": "char", "version": 1, ... }, got [1,2]' },
    { name: 'invalid JSON text', json: '{"type":', message: 'char tokenizer JSON: not valid JSON' },
    { name: 'wrong type', json: { ...base, type: 'word' }, message: 'char tokenizer JSON: expected "type": "char", got "word"' },
    { name: 'wrong version', json: { ...base, version: 2 }, message: 'expected "version": 1, got 2' },
    { name: 'missing vocab', json: { type: 'char', version: 1 }, message: 'expected "vocab" to be an array of strings, got undefined' },
    { name: 'specials missing', json: { ...base, vocab: ['a', 'b'] }, message: 'expected vocab[0] to be "[PAD]"' },
    { name: 'multi-character entry', json: { ...base, vocab: [...base.vocab, 'ab'] }, message: 'expected vocab[5] to be a single character' },
    { name: 'duplicate entry', json: { ...base, vocab: [...base.vocab, 'a'] }, message: 'vocab[5] "a" appears twice' },
    { name: 'non-string entry', json: { ...base, vocab: [...base.vocab, 7] }, message: 'expected vocab[5] to be a non-empty string, got 7' },
    { name: 'bad strict', json: { ...base, strict: 'yes' }, message: 'expected "strict" to be true or false, got "yes"' },
  ];
  it.each(bad)('rejects $name with a DataError', ({ json, message }) => {
    expect(() => CharTokenizer.fromJSON(json)).toThrowError(DataError);
    expect(() => CharTokenizer.fromJSON(json)).toThrow(message);
  });
});
