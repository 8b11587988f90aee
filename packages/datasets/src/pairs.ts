// Sentence pairs for translation, in the tab-separated format of the Tatoeba / manythings.org Anki
// exports (`eng-fra.txt`): one pair per line, `source<TAB>target`, optionally followed by more
// tab-separated columns (the newer exports add an attribution) which are ignored. Browser-safe:
// the Node loader (`loadPairs` in ./node.ts) reads the file and calls `parsePairsBytes`.
//   - normalisation (`normalizeSentence`): Unicode NFC, invisible format characters (zero-width
//     space, soft hyphen, BOM) removed, optional lower-casing, punctuation split off as tokens of
//     its own (inner apostrophes and hyphens stay in their words: "aujourd'hui", "peut-être";
//     decimal points stay in their numbers: "3.5"), whitespace (incl. no-break spaces) collapsed to
//     single spaces, ends stripped;
//   - a length filter in tokens (the space-separated tokens of the normalised sentence);
//   - the references of each distinct source grouped (for multi-reference BLEU);
//   - a deterministic train/validation split by a hash of the normalised SOURCE sentence, so that a
//     source with several translations lands on one side only.
// Bad lines (no tab, an empty side, U+FFFD from a lossy decode) are a `DataError` naming the file,
// the 1-based line and what to do, unless `skipBad` (then they are counted and skipped).
import { ConfigError, DataError, assertInt, assertNumber, hashSeed, withDefaults } from '@attend/core/base';
import { Utf8Validator } from './utf8.js';

export interface NormalizeOptions {
  /** Lower-case both sides (default true). */
  lowercase?: boolean;
  /** Split punctuation off as separate tokens (default true). */
  separatePunctuation?: boolean;
}

export interface ParsePairsOptions extends NormalizeOptions {
  /** Keep only pairs whose two sides have at most this many tokens each (default: no limit). */
  maxLength?: number;
  /** Swap the columns: the second becomes the source (default false: column 1 → column 2). */
  reverse?: boolean;
  /** Count and skip bad lines instead of throwing a `DataError` (default false). */
  skipBad?: boolean;
  /** The name used in error messages (default `"pairs"`; the Node loader passes the path). */
  file?: string;
}

export const DEFAULT_PARSE_PAIRS_OPTIONS: Required<ParsePairsOptions> = {
  lowercase: true,
  separatePunctuation: true,
  maxLength: Infinity,
  reverse: false,
  skipBad: false,
  file: 'pairs',
};

/** One sentence pair, both sides normalised. */
export interface SentencePair {
  source: string;
  target: string;
  /** 1-based line number in the file. */
  line: number;
}

/** A line that was skipped under `skipBad`. */
export interface BadLine {
  line: number;
  reason: string;
}

/** What `parsePairs` returns. */
export interface PairsResult {
  /** The kept pairs, in file order. */
  pairs: SentencePair[];
  /** Non-blank lines read (blank lines are ignored silently). */
  lines: number;
  /** Bad lines skipped (only with `skipBad`; otherwise the first one throws). */
  skipped: number;
  /** The first (at most 20) skipped lines and why, for reporting. */
  badLines: BadLine[];
  /** Pairs dropped by `maxLength`. */
  tooLong: number;
}

const MAX_REPORTED_BAD_LINES = 20;

/** Invisible format characters (zero-width space, soft hyphen, BOM, …). */
const FORMAT_CHARS = /\p{Cf}/gu;
/** A number with inner separators ("3.5", "1,000"), a word with inner apostrophes/hyphens, or one other non-space character. */
const TOKEN_RE = /\p{N}+(?:[.,:]\p{N}+)+|[\p{L}\p{N}\p{M}]+(?:['’\-‐][\p{L}\p{N}\p{M}]+)*|\S/gu;

/** Normalises one sentence (see the file header). */
export function normalizeSentence(text: string, options: NormalizeOptions = {}): string {
  const { lowercase = true, separatePunctuation = true } = options;
  let s = text.normalize('NFC').replace(FORMAT_CHARS, '');
  if (lowercase) s = s.toLowerCase();
  if (separatePunctuation) return (s.match(TOKEN_RE) ?? []).join(' ');
  return s.replace(/\s+/gu, ' ').trim();
}

/** Tokens of a normalised sentence: its space-separated parts. */
export function countTokens(normalized: string): number {
  if (normalized === '') return 0;
  let n = 1;
  for (let i = 0; i < normalized.length; i++) if (normalized.charCodeAt(i) === 32) n++;
  return n;
}

function resolve(what: string, options: ParsePairsOptions): Required<ParsePairsOptions> {
  const o = withDefaults(what, DEFAULT_PARSE_PAIRS_OPTIONS, options);
  for (const key of ['lowercase', 'separatePunctuation', 'reverse', 'skipBad'] as const) {
    if (typeof o[key] !== 'boolean') throw new ConfigError(`${what}: ${key} expected true or false, got ${JSON.stringify(o[key])}`);
  }
  if (o.maxLength !== Infinity) assertInt(`${what} maxLength`, o.maxLength);
  if (typeof o.file !== 'string') throw new ConfigError(`${what}: file expected a string, got ${JSON.stringify(o.file)}`);
  return o;
}

/** Parses the text of a pairs file (already decoded). */
export function parsePairs(text: string, options: ParsePairsOptions = {}): PairsResult {
  const o = resolve('parsePairs', options);
  const result: PairsResult = { pairs: [], lines: 0, skipped: 0, badLines: [], tooLong: 0 };
  const norm = { lowercase: o.lowercase, separatePunctuation: o.separatePunctuation };
  const hint = 'fix or delete the line, or pass skipBad: true (--skip-bad) to skip bad lines';
  const bad = (line: number, reason: string) => {
    if (!o.skipBad) throw new DataError(`${o.file}:${line}: ${reason}; ${hint}`);
    result.skipped++;
    if (result.badLines.length < MAX_REPORTED_BAD_LINES) result.badLines.push({ line, reason });
  };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let raw = lines[i]!;
    if (i === 0 && raw.charCodeAt(0) === 0xfeff) raw = raw.slice(1);
    if (raw.endsWith('\r')) raw = raw.slice(0, -1);
    if (raw.trim() === '') continue;
    const line = i + 1;
    result.lines++;
    if (raw.includes('\uFFFD')) {
      bad(line, 'holds U+FFFD (a character lost when the file was decoded): the file is probably not UTF-8; convert it, e.g. iconv -f WINDOWS-1252 -t UTF-8');
      continue;
    }
    const tab = raw.indexOf('\t');
    if (tab < 0) {
      bad(line, 'expected "source<TAB>target", found no tab');
      continue;
    }
    const end = raw.indexOf('\t', tab + 1);
    const first = normalizeSentence(raw.slice(0, tab), norm);
    const second = normalizeSentence(raw.slice(tab + 1, end < 0 ? undefined : end), norm);
    const [source, target] = o.reverse ? [second, first] : [first, second];
    if (first === '' || second === '') {
      bad(line, `the ${first === '' ? 'first' : 'second'} column (${(first === '') !== o.reverse ? 'source' : 'target'}) is empty`);
      continue;
    }
    if (o.maxLength !== Infinity && (countTokens(source) > o.maxLength || countTokens(target) > o.maxLength)) {
      result.tooLong++;
      continue;
    }
    result.pairs.push({ source, target, line });
  }
  return result;
}

/**
 * Decodes the bytes of a pairs file as UTF-8 and parses them. Invalid UTF-8 (a file in another
 * encoding) is a `DataError` naming the line and byte offset; with `skipBad`, the lines holding bad
 * bytes are skipped instead.
 */
export function parsePairsBytes(bytes: Uint8Array, options: ParsePairsOptions = {}): PairsResult {
  const o = resolve('parsePairsBytes', options);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    if (!o.skipBad) {
      const validator = new Utf8Validator();
      let offset = validator.push(bytes);
      if (offset < 0) offset = validator.end();
      let line = 1;
      for (let i = 0; i < offset; i++) if (bytes[i] === 0x0a) line++;
      throw new DataError(
        `${o.file}:${line}: invalid UTF-8 at byte ${offset}: the file is in another encoding (Latin-1? Windows-1252?); ` +
          `convert it to UTF-8 (e.g. iconv -f WINDOWS-1252 -t UTF-8 in > out), or pass skipBad: true (--skip-bad) to skip such lines`,
      );
    }
    text = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }).decode(bytes); // bad bytes → U+FFFD: those lines are skipped
  }
  return parsePairs(text, o);
}

/** All references of one source sentence. */
export interface ReferenceGroup {
  source: string;
  /** The distinct targets, in file order. */
  references: string[];
  /** The line of each reference. */
  lines: number[];
}

/** Groups pairs by their (normalised) source: one entry per distinct source, in order of first appearance. */
export function groupReferences(pairs: readonly SentencePair[]): ReferenceGroup[] {
  const groups = new Map<string, ReferenceGroup>();
  for (const p of pairs) {
    let g = groups.get(p.source);
    if (!g) {
      g = { source: p.source, references: [], lines: [] };
      groups.set(p.source, g);
    }
    if (!g.references.includes(p.target)) {
      g.references.push(p.target);
      g.lines.push(p.line);
    }
  }
  return [...groups.values()];
}

export interface SplitPairsOptions {
  /** Share of distinct sources sent to validation, in [0, 1] (default 0.1). */
  valFraction?: number;
  /** Changes which sources are drawn (default 0). */
  seed?: number;
}

export const DEFAULT_SPLIT_PAIRS_OPTIONS: Required<SplitPairsOptions> = { valFraction: 0.1, seed: 0 };

/** murmur3's 32-bit finaliser: spreads FNV-1a's bits so that similar short strings land far apart. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Where `source` falls in [0, 1): FNV-1a (`hashSeed`) of seed and sentence, then fmix32. */
export function sourceHash(source: string, seed = 0): number {
  return fmix32(hashSeed(`${seed}\u0000${source}`)) / 4294967296;
}

/** Whether `source` belongs to the validation side. */
export function isValidationSource(source: string, valFraction = 0.1, seed = 0): boolean {
  return sourceHash(source, seed) < valFraction;
}

/**
 * Deterministic train/validation split by a hash of each item's normalised source: every pair (or
 * reference group) with the same source lands on the same side, independent of order and of the
 * rest of the file. About `valFraction` of the distinct sources go to validation.
 */
export function splitPairs<T extends { source: string }>(items: readonly T[], options: SplitPairsOptions = {}): { train: T[]; val: T[] } {
  const { valFraction, seed } = withDefaults('splitPairs', DEFAULT_SPLIT_PAIRS_OPTIONS, options);
  assertNumber('splitPairs valFraction', valFraction, 0, 1);
  assertInt('splitPairs seed', seed, 0);
  const train: T[] = [];
  const val: T[] = [];
  const side = new Map<string, boolean>();
  for (const item of items) {
    let v = side.get(item.source);
    if (v === undefined) {
      v = isValidationSource(item.source, valFraction, seed);
      side.set(item.source, v);
    }
    (v ? val : train).push(item);
  }
  return { train, val };
}
