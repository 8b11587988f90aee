import { ConfigError, DataError } from '@attend/core';
import { Rng } from '@attend/core/base';
import { describe, expect, it } from 'vitest';
import { BPETokenizer, BYTE_TO_UNICODE, SPECIALS, pretokenize, tokenizerFromJSON, type BPETokenizerJSON } from '../src/index.js';

describe('BYTE_TO_UNICODE (GPT-2 bytes_to_unicode)', () => {
  it('gives each byte its own printable character', () => {
    expect(BYTE_TO_UNICODE).toHaveLength(256);
    expect(new Set(BYTE_TO_UNICODE).size).toBe(256);
    for (const ch of BYTE_TO_UNICODE) expect(ch).toMatch(/^\P{C}$/u);
  });

  // Printable Latin-1 stands for itself; the 68 others go to U+0100.. in byte order:
  // 0x00..0x20 → U+0100..U+0120, 0x7F..0xA0 → U+0121..U+0142, 0xAD → U+0143.
  const table: { byte: number; char: string }[] = [
    { byte: 0x00, char: 'Ā' },
    { byte: 0x0a, char: 'Ċ' },
    { byte: 0x20, char: 'Ġ' },
    { byte: 0x21, char: '!' },
    { byte: 0x41, char: 'A' },
    { byte: 0x7e, char: '~' },
    { byte: 0x7f, char: 'ġ' },
    { byte: 0xa0, char: 'ł' },
    { byte: 0xad, char: 'Ń' },
    { byte: 0xe9, char: 'é' },
    { byte: 0xff, char: 'ÿ' },
  ];
  it.each(table)('byte $byte → $char', ({ byte, char }) => {
    expect(BYTE_TO_UNICODE[byte]).toBe(char);
  });
});

describe('pretokenize (GPT-2 pattern, marks kept with letters)', () => {
  const table: { text: string; pieces: string[] }[] = [
    { text: "Hello, world! It's 2024.", pieces: ['Hello', ',', ' world', '!', ' It', "'s", ' 2024', '.'] },
    { text: "don't", pieces: ['don', "'t"] },
    { text: 'a  b', pieces: ['a', ' ', ' b'] }, // a space run gives its last space to the next word
    { text: 'a\n\nb', pieces: ['a', '\n', '\n', 'b'] },
    { text: 'x   ', pieces: ['x', '   '] },
    { text: '\tfoo', pieces: ['\t', 'foo'] },
    { text: 'x=1+2', pieces: ['x', '=', '1', '+', '2'] },
    { text: '你好，世界', pieces: ['你好', '，', '世界'] },
    { text: 'e\u0301te\u0301 क्षत्रिय', pieces: ['e\u0301te\u0301', ' क्षत्रिय'] }, // combining marks stay in the word
    { text: 'hi 👋🏽!', pieces: ['hi', ' 👋🏽!'] },
    { text: '', pieces: [] },
  ];
  it.each(table)('$text', ({ text, pieces }) => {
    expect(pretokenize(text)).toEqual(pieces);
    expect(pretokenize(text).join('')).toBe(text);
  });
});

// Sennrich et al. (2016)'s example, one word per text: low ×5, lower ×2, newest ×6, widest ×3.
// Ids: specials 0..3, byte b at 4 + b (d=104 e=105 i=109 l=112 n=114 o=115 r=118 s=119 t=120 w=123),
// merge r at 260 + r. Worked by hand (ties: smaller left id, then smaller right id):
//   start  lo 7, ow 7, we 8, er 2, ne 6, ew 6, es 9, st 9, wi 3, id 3, de 3
//   0  e+s     (9; ties with s+t, e=105 < s=119)  → es 260      newest = n e w es t, widest = w i d es t
//   1  es+t    (9)                                → est 261
//   2  l+o     (7; ties with o+w, l=112 < o=115)  → lo 262
//   3  lo+w    (7)                                → low 263      lower = low e r
//   4  e+w     (6; ties n+e 114, w+est 123; e=105) → ew 264      newest = n ew est
//   5  n+ew    (6; ties ew+est, n=114 < ew=264)   → new 265
//   6  new+est (6)                                → newest 266
//   7  d+est   (3; ties w+i 123, i+d 109; d=104)  → dest 267
//   8  i+dest  (3; ties w+i, i=109 < w=123)       → idest 268
//   9  w+idest (3)                                → widest 269
//   10 e+r     (2; ties low+e, e=105 < low=263)   → er 270
//   11 low+er  (2)                                → lower 271    then no pair is left
const SENNRICH = [...Array(5).fill('low'), ...Array(2).fill('lower'), ...Array(6).fill('newest'), ...Array(3).fill('widest')] as string[];
const MERGES = [
  ['e', 's'], ['es', 't'], ['l', 'o'], ['lo', 'w'], ['e', 'w'], ['n', 'ew'],
  ['new', 'est'], ['d', 'est'], ['i', 'dest'], ['w', 'idest'], ['e', 'r'], ['low', 'er'],
];
const tok = BPETokenizer.train(SENNRICH, { vocabSize: 1000 });

describe('BPETokenizer.train', () => {
  it('learns the hand-worked merges, most frequent first, deterministic ties', () => {
    expect(tok.merges).toEqual(MERGES);
    expect(tok.vocabSize).toBe(272); // stopped early: no pair left
    expect(tok.vocab.slice(0, 4)).toEqual(['[PAD]', '[BOS]', '[EOS]', '[UNK]']);
    expect(tok.vocab.slice(4, 260)).toEqual(BYTE_TO_UNICODE);
    expect(tok.vocab.slice(260)).toEqual(MERGES.map(([a, b]) => a + b));
    expect(tok.specials).toEqual(SPECIALS);
  });

  it('stops at vocabSize and at minFrequency', () => {
    expect(BPETokenizer.train(SENNRICH, { vocabSize: 265 }).merges).toEqual(MERGES.slice(0, 5));
    expect(BPETokenizer.train(SENNRICH, { vocabSize: 1000, minFrequency: 3 }).merges).toEqual(MERGES.slice(0, 10));
    expect(BPETokenizer.train(SENNRICH, { vocabSize: 260 }).vocabSize).toBe(260);
    expect(BPETokenizer.train([], { vocabSize: 300 }).vocabSize).toBe(260);
  });

  it('does not depend on the order of the texts, and is the same run twice', () => {
    const shuffled = new Rng(7).shuffle([...SENNRICH]);
    expect(BPETokenizer.train(shuffled, { vocabSize: 1000 }).toJSON()).toEqual(tok.toJSON());
    const corpus = randomCorpus(new Rng(1), 200);
    const a = BPETokenizer.train(corpus, { vocabSize: 400, minFrequency: 1 });
    const b = BPETokenizer.train(new Rng(2).shuffle([...corpus]), { vocabSize: 400, minFrequency: 1 });
    expect(b.toJSON()).toEqual(a.toJSON());
  });

  it('takes one string as one text, not as characters, and any iterable of strings', () => {
    const expected = BPETokenizer.train(['low low low'], { vocabSize: 300 }).toJSON();
    expect(BPETokenizer.train('low low low', { vocabSize: 300 }).toJSON()).toEqual(expected);
    function* lines() {
      yield 'low low low';
    }
    expect(BPETokenizer.train(lines(), { vocabSize: 300 }).toJSON()).toEqual(expected);
  });

  it('skips a pair whose join is already a token', () => {
    // ids: specials 0..3, extra special "Ġlow" 4, byte b at 5 + b (Ġ=37 l=113 o=116 w=124 x=125).
    // pieces "x" ×3, " low" ×3: Ġ+l (3, smallest left id) → Ġl 261; o+w (3; o=116 < Ġl=261) → ow 262;
    // Ġl+ow would make "Ġlow", already the special: skipped, and nothing is left.
    const t = BPETokenizer.train(['x low', 'x low', 'x low'], { vocabSize: 300, specials: ['Ġlow'] });
    expect(t.merges).toEqual([['Ġ', 'l'], ['o', 'w']]);
    expect(t.tokenize('x low')).toEqual(['x', 'Ġl', 'ow']);
    expect(t.encode('x low')).toEqual([125, 261, 262]);
    expect(t.decode(t.encode('x lowĠlow'), { skipSpecials: false })).toBe('x lowĠlow');
  });

  // The incremental pair counts against a full recount per merge, on text full of ties and runs ("aaaa").
  it.each([
    { seed: 3, minFrequency: 1 },
    { seed: 4, minFrequency: 2 },
    { seed: 5, minFrequency: 5 },
  ])('matches a full recount per merge (seed $seed, minFrequency $minFrequency)', ({ seed, minFrequency }) => {
    const corpus = randomCorpus(new Rng(seed), 300);
    const t = BPETokenizer.train(corpus, { vocabSize: 260 + 300, minFrequency });
    const ref = referenceBPE(corpus, 300, minFrequency);
    expect(t.merges).toEqual(ref.merges);
    // encode (merges by rank, heap per piece) splits every training piece as training left it
    for (const [piece, tokens] of ref.segmentation) expect(t.tokenize(piece)).toEqual(tokens);
  });

  it('lower-cases when asked, in training and in encoding', () => {
    const t = BPETokenizer.train(['Hello hello HELLO'], { vocabSize: 300, lowercase: true });
    expect(t.lowercase).toBe(true);
    expect(t.has('Ġhello')).toBe(true);
    expect(t.encode('HeLLo')).toEqual(t.encode('hello'));
    expect(t.decode(t.encode(' HELLO'))).toBe(' hello');
    expect(BPETokenizer.fromJSON(t.toJSON()).lowercase).toBe(true);
  });

  const errors: { name: string; run: () => unknown; message: string }[] = [
    {
      name: 'vocabSize below 4 specials + 256 bytes',
      run: () => BPETokenizer.train(SENNRICH, { vocabSize: 100 }),
      message: 'BPETokenizer.train: expected vocabSize to be an integer in [260, 1048576] (4 specials + 256 byte symbols = 260, plus one per merge), got 100',
    },
    {
      name: 'vocabSize below with extra specials',
      run: () => BPETokenizer.train(SENNRICH, { vocabSize: 261, specials: ['<s>', '</s>'] }),
      message: 'expected vocabSize to be an integer in [262, 1048576] (4 specials + 2 extra specials + 256 byte symbols = 262',
    },
    { name: 'vocabSize missing', run: () => BPETokenizer.train(SENNRICH, {} as never), message: 'got undefined' },
    { name: 'minFrequency 0', run: () => BPETokenizer.train(SENNRICH, { vocabSize: 300, minFrequency: 0 }), message: 'BPETokenizer.train minFrequency: expected an integer ≥ 1, got 0' },
    { name: 'unknown option', run: () => BPETokenizer.train(SENNRICH, { vocabSize: 300, vocabsize: 3 } as never), message: 'BPETokenizer.train: unknown option "vocabsize"' },
    { name: 'lowercase not boolean', run: () => BPETokenizer.train(SENNRICH, { vocabSize: 300, lowercase: 'yes' } as never), message: 'expected lowercase to be true or false, got "yes"' },
    { name: 'a text that is not a string', run: () => BPETokenizer.train(['a', 1] as never, { vocabSize: 300 }), message: 'expected texts[1] to be a string, got 1' },
    { name: 'texts not iterable', run: () => BPETokenizer.train(5 as never, { vocabSize: 300 }), message: 'expected texts to be a string or an iterable of strings' },
    { name: 'special equal to a byte symbol', run: () => BPETokenizer.train(SENNRICH, { vocabSize: 300, specials: ['a'] }), message: 'special "a" is also the symbol of byte 97' },
    { name: 'special twice', run: () => BPETokenizer.train(SENNRICH, { vocabSize: 300, specials: ['<s>', '<s>'] }), message: 'special "<s>" is listed twice' },
    { name: 'empty special', run: () => BPETokenizer.train(SENNRICH, { vocabSize: 300, specials: [''] }), message: 'expected each special to be a non-empty string, got ""' },
  ];
  it.each(errors)('rejects $name', ({ run, message }) => {
    expect(run).toThrowError(ConfigError);
    expect(run).toThrow(message);
  });
});

describe('BPETokenizer encode/decode', () => {
  // Ids from the hand-worked merges above; a byte b alone is 4 + b.
  const table: { text: string; tokens: string[]; ids: number[]; decoded: string }[] = [
    { text: 'newest', tokens: ['newest'], ids: [266], decoded: 'newest' },
    { text: 'lower', tokens: ['lower'], ids: [271], decoded: 'lower' },
    // unseen words: e+s (0), es+t (1), l+o (2), lo+w (3); low+est was never learnt
    { text: 'lowest', tokens: ['low', 'est'], ids: [263, 261], decoded: 'lowest' },
    // e+w (4), n+ew (5), e+r (10)
    { text: 'newer', tokens: ['new', 'er'], ids: [265, 270], decoded: 'newer' },
    { text: 'wider', tokens: ['w', 'i', 'd', 'er'], ids: [123, 109, 104, 270], decoded: 'wider' },
    // the space is byte 0x20 → 'Ġ' (id 36), its own piece start: no merge learnt with it
    { text: 'low low', tokens: ['low', 'Ġ', 'low'], ids: [263, 36, 263], decoded: 'low low' },
    // case matters: 'L' (80) never merged with 'o'
    { text: 'Lowest!', tokens: ['L', 'o', 'w', 'est', '!'], ids: [80, 115, 123, 261, 37], decoded: 'Lowest!' },
    // 'ï' is UTF-8 C3 AF: two byte tokens 'Ã' (4 + 0xC3) and '¯' (4 + 0xAF), no [UNK]
    { text: 'naïve', tokens: ['n', 'a', 'Ã', '¯', 'v', 'e'], ids: [114, 101, 199, 179, 122, 105], decoded: 'naïve' },
    { text: '', tokens: [], ids: [], decoded: '' },
  ];
  it.each(table)('$text', ({ text, tokens, ids, decoded }) => {
    expect(tok.tokenize(text)).toEqual(tokens);
    expect(tok.encode(text)).toEqual(ids);
    expect(tok.decode(ids)).toBe(decoded);
  });

  it('looks tokens up both ways', () => {
    expect(tok.idOf('newest')).toBe(266);
    expect(tok.idOf('Ġ')).toBe(36);
    expect(tok.idOf('[EOS]')).toBe(2);
    expect(tok.idOf('oldest')).toBeUndefined();
    expect(tok.has('est')).toBe(true);
    expect(tok.tokenOf(271)).toBe('lower');
    expect(() => tok.tokenOf(272)).toThrow('BPETokenizer.tokenOf: id 272 is not in the vocabulary; expected an integer in [0, 271]');
  });

  it('frames with [BOS]/[EOS] and keeps specials when asked', () => {
    const ids = tok.encode('newest low', { addBos: true, addEos: true });
    expect(ids).toEqual([1, 266, 36, 263, 2]);
    expect(tok.decode(ids)).toBe('newest low');
    expect(tok.decode(ids, { skipSpecials: false })).toBe('[BOS]newest low[EOS]');
    expect(tok.decode(new Uint16Array([0, 266, 0]))).toBe('newest');
    // the fixed specials written in text are just text
    expect(tok.decode(tok.encode('[EOS]'))).toBe('[EOS]');
    expect(tok.encode('[EOS]')).not.toContain(2);
  });

  it('rejects ids out of range and decodes a cut character as U+FFFD', () => {
    expect(() => tok.decode([266, 999])).toThrowError(DataError);
    expect(() => tok.decode([266, 1.5])).toThrow('BPETokenizer.decode: id 1.5 is not in the vocabulary; expected an integer in [0, 271]');
    expect(tok.decode([4 + 0xe4, 4 + 0xbd])).toBe('\uFFFD'); // first two bytes of 你 (E4 BD A0)
    expect(tok.decode([4 + 0xe4, 4 + 0xbd, 4 + 0xa0])).toBe('你');
  });

  it('returns fresh arrays: changing one does not change the cache', () => {
    const ids = tok.encode('newest newest');
    ids.push(99);
    ids[0] = 5;
    expect(tok.encode('newest newest')).toEqual([266, 36, 266]);
  });

  it('encodes extra specials written in the text as their ids, never merging them', () => {
    const t = BPETokenizer.train(['ab<|endoftext|>ab'], { vocabSize: 300, specials: ['<|endoftext|>', '[PAD]'] });
    // ids: [PAD] [BOS] [EOS] [UNK], <|endoftext|> = 4, byte b at 5 + b, merge a+b = 261; "b<" was never a pair
    expect(t.extraSpecials).toEqual(['<|endoftext|>']);
    expect(t.vocab.slice(0, 6)).toEqual(['[PAD]', '[BOS]', '[EOS]', '[UNK]', '<|endoftext|>', 'Ā']);
    expect(t.merges).toEqual([['a', 'b']]);
    const ids = t.encode('ab<|endoftext|>ab<|endoftext|>');
    expect(ids).toEqual([261, 4, 261, 4]);
    expect(t.decode(ids)).toBe('abab');
    expect(t.decode(ids, { skipSpecials: false })).toBe('ab<|endoftext|>ab<|endoftext|>');
    const back = tokenizerFromJSON(JSON.stringify(t.toJSON()));
    expect(back.encode('x<|endoftext|>')).toEqual([5 + 0x78, 4]);
  });
});

describe('BPETokenizer round trips', () => {
  const corpus = [
    'The quick brown fox jumps over the lazy dog. The dog sleeps.',
    'Привет, мир! Как дела? Всё хорошо, спасибо.',
    '你好，世界。今天天气很好。我们去公园吧。',
    'مرحبا بالعالم. كيف حالك؟',
    'Emoji: 👋🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️ 😀😀😀',
    "I'm sure you're right; they'll see it's fine.",
  ];
  const t = BPETokenizer.train([...corpus, ...corpus, ...corpus], { vocabSize: 500, minFrequency: 1 });

  const texts: { name: string; text: string }[] = [
    ...corpus.map((text, i) => ({ name: `training text ${i}`, text })),
    { name: 'Cyrillic, unseen', text: 'Съешь же ещё этих мягких французских булок' },
    { name: 'CJK, unseen', text: '東京は日本の首都です。한국어도 됩니다.' },
    { name: 'emoji ZWJ sequences, flags, variation selectors', text: '👩🏾‍💻 🏳️‍🌈 🇯🇵🇺🇸 ☺︎ ☺️' },
    { name: 'combining marks', text: 'e\u0301 n\u0303 a\u0308\u0304 क्षत्रिय ผู้หญิง' },
    { name: 'BOM, NUL, controls', text: '\uFEFFhello\u0000\u0007\u001b[0m\r\n\ttab\u2028' },
    { name: 'whitespace runs', text: '  a   b\n\n\n  c  \t ' },
    { name: 'numbers and symbols', text: '3.14159 1,000,000 ²³ ٣ ½ €100 <a href="x">' },
    { name: 'long CJK run (one piece of 6,000 bytes)', text: '你好世界'.repeat(500) },
    { name: 'long space run', text: ' '.repeat(10_000) + 'x' },
    { name: 'specials as text', text: '[PAD][BOS][EOS][UNK]' },
  ];
  it.each(texts)('$name', ({ text }) => {
    const ids = t.encode(text);
    expect(ids.every((id) => Number.isInteger(id) && id > SPECIALS.unk && id < t.vocabSize)).toBe(true);
    expect(t.decode(ids)).toBe(text);
  });

  it('round-trips random Unicode (seeded)', () => {
    const rng = new Rng(11);
    const ranges: [number, number][] = [
      [0x00, 0x7f], [0x80, 0x2ff], [0x300, 0x36f], [0x400, 0x4ff], [0x600, 0x6ff], [0x900, 0x97f],
      [0x3000, 0x30ff], [0x4e00, 0x9fff], [0xac00, 0xd7a3], [0xe000, 0xfffd], [0x1f300, 0x1faff], [0x10000, 0x10ffff],
    ];
    for (let k = 0; k < 300; k++) {
      let s = '';
      for (let n = rng.int(40); n > 0; n--) {
        const [lo, hi] = ranges[rng.int(ranges.length)]!;
        s += String.fromCodePoint(lo + rng.int(hi - lo + 1));
      }
      expect(t.decode(t.encode(s))).toBe(s);
    }
  });

  it('turns a lone surrogate (not valid Unicode) into U+FFFD', () => {
    expect(t.decode(t.encode('a\uD83Db'))).toBe('a\uFFFDb');
  });

  it('saves and loads through tokenizerFromJSON', () => {
    const json = JSON.parse(JSON.stringify(t.toJSON())) as BPETokenizerJSON;
    expect(json).toMatchObject({ type: 'bpe', version: 1, specials: [], lowercase: false });
    const back = tokenizerFromJSON(json);
    expect(back).toBeInstanceOf(BPETokenizer);
    expect(back.toJSON()).toEqual(t.toJSON());
    for (const { text } of texts) expect(back.encode(text)).toEqual(t.encode(text));
  });
});

describe('BPETokenizer.fromJSON', () => {
  const json = tok.toJSON();
  const withVocab = (i: number, v: string) => ({ ...json, vocab: json.vocab.map((t, j) => (j === i ? v : t)) });
  const withMerge = (r: number, m: unknown) => ({ ...json, merges: json.merges.map((x, j) => (j === r ? m : x)) });
  const table: { name: string; json: unknown; message: string }[] = [
    { name: 'invalid JSON text', json: '{"type": "bpe", ', message: 'bpe tokenizer JSON: not valid JSON' },
    { name: 'unknown version', json: { ...json, version: 2 }, message: 'bpe tokenizer JSON: expected "version": 1, got 2; this @attend/tokenizers reads version 1' },
    { name: 'wrong type', json: { ...json, type: 'word' }, message: 'expected "type": "bpe", got "word"' },
    { name: 'special moved', json: withVocab(0, '<pad>'), message: 'expected vocab[0] to be "[PAD]"' },
    { name: 'byte symbol changed', json: withVocab(36, ' '), message: `expected vocab[36] to be "Ġ", the symbol of byte 32 in GPT-2's byte-to-unicode map, got " "` },
    { name: 'vocab too short', json: { ...json, vocab: json.vocab.slice(0, 100) }, message: 'expected between 260 and 1048576 vocab entries' },
    { name: 'merges missing', json: { ...json, merges: undefined }, message: 'expected "merges" to be an array of [left, right] token pairs, got undefined' },
    { name: 'one merge short', json: { ...json, merges: json.merges.slice(0, -1) }, message: 'expected 12 merges (one per vocab entry after the byte symbols, vocab[260..]), got 11' },
    { name: 'merge not a pair', json: withMerge(0, 'e s'), message: 'expected merges[0] to be a pair of tokens like ["Ġ", "t"], got "e s"' },
    { name: 'merge of an unknown token', json: withMerge(0, ['e', 'zz']), message: 'merges[0] uses "zz", which is not in the vocab' },
    { name: 'merge of a later token', json: withMerge(0, ['es', 't']), message: 'merges[0] uses "es", which has id 260; expected a byte symbol or an earlier merged token (id in [4, 259])' },
    { name: 'merge of a special', json: withMerge(1, ['[UNK]', 't']), message: 'merges[1] uses "[UNK]", which has id 3' },
    { name: 'merge result not the vocab entry', json: withVocab(271, 'lowr'), message: 'expected vocab[271] to be "lower", the token of merges[11], got "lowr"' },
    { name: 'lowercase not boolean', json: { ...json, lowercase: 'yes' }, message: 'bpe tokenizer JSON: expected "lowercase" to be true or false, got "yes"' },
    { name: 'fixed special listed as extra', json: { ...json, specials: ['[PAD]'] }, message: 'expected "specials" to list only extra specials' },
    { name: 'extra special not in vocab', json: { ...json, specials: ['<s>'] }, message: 'expected vocab[4] to be the extra special "<s>", got "Ā"' },
  ];
  it.each(table)('rejects $name', ({ json: bad, message }) => {
    expect(() => BPETokenizer.fromJSON(bad)).toThrowError(DataError);
    expect(() => BPETokenizer.fromJSON(bad)).toThrow(message);
  });

  it('reads its own JSON, as an object or as text', () => {
    expect(BPETokenizer.fromJSON(json).toJSON()).toEqual(json);
    expect(BPETokenizer.fromJSON(JSON.stringify(json)).encode('lowest')).toEqual([263, 261]);
  });
});

/** Words over a tiny alphabet (many ties, runs like "aaaa"), some numbers, accents and CJK, as lines. */
function randomCorpus(rng: Rng, lines: number): string[] {
  const alphabet = ['a', 'a', 'a', 'b', 'b', 'c', 'é', '你', '1', '-', "'s"];
  const out: string[] = [];
  for (let l = 0; l < lines; l++) {
    const words: string[] = [];
    for (let w = 1 + rng.int(8); w > 0; w--) {
      let word = '';
      for (let n = 1 + rng.int(7); n > 0; n--) word += alphabet[rng.int(alphabet.length)];
      words.push(word);
    }
    out.push(words.join(rng.int(5) === 0 ? '  ' : ' '));
  }
  return out;
}

/** Plain BPE training: recount every pair before each merge. Same tie rule and same skip of pairs whose join is already a token. */
function referenceBPE(texts: string[], numMerges: number, minFrequency: number) {
  const pieceCounts = new Map<string, number>();
  for (const t of texts) for (const p of pretokenize(t)) pieceCounts.set(p, (pieceCounts.get(p) ?? 0) + 1);
  const vocab = ['[PAD]', '[BOS]', '[EOS]', '[UNK]', ...BYTE_TO_UNICODE];
  const idOf = new Map(vocab.map((t, i) => [t, i]));
  const words = [...pieceCounts].map(([piece, count]) => ({
    piece,
    count,
    ids: [...new TextEncoder().encode(piece)].map((b) => 4 + b),
  }));
  const skipped = new Set<string>();
  const merges: [string, string][] = [];
  while (merges.length < numMerges) {
    const counts = new Map<string, { a: number; b: number; n: number }>();
    for (const w of words) {
      for (let i = 0; i + 1 < w.ids.length; i++) {
        const k = `${w.ids[i]},${w.ids[i + 1]}`;
        const e = counts.get(k) ?? { a: w.ids[i]!, b: w.ids[i + 1]!, n: 0 };
        e.n += w.count;
        counts.set(k, e);
      }
    }
    let best: { a: number; b: number; n: number } | undefined;
    for (const [k, e] of counts) {
      if (skipped.has(k)) continue;
      if (!best || e.n > best.n || (e.n === best.n && (e.a < best.a || (e.a === best.a && e.b < best.b)))) best = e;
    }
    if (!best || best.n < minFrequency) break;
    const token = vocab[best.a]! + vocab[best.b]!;
    if (idOf.has(token)) {
      skipped.add(`${best.a},${best.b}`);
      continue;
    }
    const id = vocab.length;
    vocab.push(token);
    idOf.set(token, id);
    merges.push([vocab[best.a]!, vocab[best.b]!]);
    for (const w of words) {
      const next: number[] = [];
      for (let i = 0; i < w.ids.length; i++) {
        if (w.ids[i] === best.a && w.ids[i + 1] === best.b) {
          next.push(id);
          i++;
        } else next.push(w.ids[i]!);
      }
      w.ids = next;
    }
  }
  const segmentation = new Map(words.map((w) => [w.piece, w.ids.map((id) => vocab[id]!)]));
  return { merges, segmentation };
}
