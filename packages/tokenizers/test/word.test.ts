import { ConfigError, DataError } from '@attend/core';
import { describe, expect, it } from 'vitest';
import { WordTokenizer, splitWords } from '../src/index.js';

describe('splitWords', () => {
  const table: { text: string; tokens: string[] }[] = [
    { text: "Don't stop, Bob!", tokens: ["Don't", 'stop', ',', 'Bob', '!'] },
    { text: '  spaces\tand\nlines  ', tokens: ['spaces', 'and', 'lines'] },
    { text: 'Привет, мир. 你好!', tokens: ['Привет', ',', 'мир', '.', '你好', '!'] },
    { text: '(x2) [y]...', tokens: ['(', 'x2', ')', '[', 'y', ']', '.', '.', '.'] },
    { text: "rock 'n' roll's", tokens: ['rock', "'", 'n', "'", "roll's"] },
    { text: 'café naïve', tokens: ['café', 'naïve'] },
    { text: 'hi 👋🏽', tokens: ['hi', '👋', '🏽'] },
  ];
  it.each(table)('$text', ({ text, tokens }) => {
    expect(splitWords(text)).toEqual(tokens);
  });
});

describe('WordTokenizer', () => {
  const corpus = 'the cat sat. The dog sat! the end, (really) end';
  // counts (lower-cased): the 3, end 2, sat 2, cat 1, . 1, dog 1, ! 1, , 1, ( 1, really 1, ) 1
  const tok = WordTokenizer.fromText(corpus);

  it('orders by frequency, ties by first appearance', () => {
    expect(tok.vocab).toEqual([
      '[PAD]', '[BOS]', '[EOS]', '[UNK]',
      'the', 'sat', 'end', 'cat', '.', 'dog', '!', ',', '(', 'really', ')',
    ]);
  });

  const table: { text: string; ids: number[]; decoded: string }[] = [
    { text: 'The cat sat.', ids: [4, 7, 5, 8], decoded: 'the cat sat.' },
    { text: 'the dog, (really) sat!', ids: [4, 9, 11, 12, 13, 14, 5, 10], decoded: 'the dog, (really) sat!' },
    { text: 'the bird sat', ids: [4, 3, 5], decoded: 'the sat' },
    { text: '', ids: [], decoded: '' },
  ];
  it.each(table)('encodes and decodes $text', ({ text, ids, decoded }) => {
    expect(tok.encode(text)).toEqual(ids);
    expect(tok.decode(ids)).toBe(decoded);
  });

  it('keeps specials in decode when asked, and frames with BOS/EOS', () => {
    const ids = tok.encode('the bird', { addBos: true, addEos: true });
    expect(ids).toEqual([1, 4, 3, 2]);
    expect(tok.decode(ids, { skipSpecials: false })).toBe('[BOS] the [UNK] [EOS]');
  });

  it('lowercase: false keeps case apart', () => {
    const t = WordTokenizer.fromText(corpus, { lowercase: false });
    expect(t.has('The')).toBe(true);
    expect(t.idOf('the')).not.toBe(t.idOf('The'));
    expect(t.encode('THE')).toEqual([3]);
    expect(tok.encode('THE')).toEqual([4]);
  });

  it('minFrequency drops rare words', () => {
    const t = WordTokenizer.fromText(corpus, { minFrequency: 2 });
    expect(t.vocab.slice(4)).toEqual(['the', 'sat', 'end']);
    expect(t.encode('the cat')).toEqual([4, 3]);
  });

  it('maxVocab counts the specials and keeps the most frequent', () => {
    const t = WordTokenizer.fromText(corpus, { maxVocab: 6 });
    expect(t.vocabSize).toBe(6);
    expect(t.vocab.slice(4)).toEqual(['the', 'sat']);
    expect(WordTokenizer.fromText(corpus, { maxVocab: 1000 }).vocabSize).toBe(15);
    expect(() => WordTokenizer.fromText(corpus, { maxVocab: 4 })).toThrowError(ConfigError);
    expect(() => WordTokenizer.fromText(corpus, { minFrequency: 0 })).toThrowError(ConfigError);
    expect(() => WordTokenizer.fromText(corpus, { maxvocab: 5 } as never)).toThrow('WordTokenizer: unknown option "maxvocab"');
  });

  it('is the same fed in chunks that cut words', () => {
    const chunks = ['the ca', 't sat. Th', 'e dog sat! the end, (real', 'ly) end'];
    expect(WordTokenizer.fromText(chunks).vocab).toEqual(tok.vocab);
  });

  it('strict mode names the unknown word', () => {
    expect(() => tok.encode('the bird sat', { strict: true })).toThrowError(DataError);
    expect(() => tok.encode('the bird sat', { strict: true })).toThrow('Unknown word "bird" at token 1');
  });

  it('round-trips through JSON and rejects malformed JSON', () => {
    const json = tok.toJSON();
    expect(json).toMatchObject({ type: 'word', version: 1, lowercase: true, strict: false });
    const back = WordTokenizer.fromJSON(JSON.parse(JSON.stringify(json)));
    expect(back.vocab).toEqual(tok.vocab);
    expect(back.encode('The dog sat.')).toEqual(tok.encode('The dog sat.'));
    expect(() => WordTokenizer.fromJSON({ ...json, type: 'char' })).toThrow('expected "type": "word", got "char"');
    expect(() => WordTokenizer.fromJSON({ ...json, version: 0 })).toThrow('expected "version": 1, got 0');
    expect(() => WordTokenizer.fromJSON({ ...json, vocab: [...json.vocab, 'two words'] })).toThrow(
      'expected vocab[15] to be one word or punctuation mark, got "two words"',
    );
    expect(() => WordTokenizer.fromJSON({ ...json, lowercase: 1 })).toThrowError(DataError);
  });
});
