// Corpus BLEU exactly as sacreBLEU computes it (Post 2018, "A Call for Clarity in Reporting BLEU
// Scores"; sacrebleu 2.x, sacrebleu/metrics/bleu.py), itself Papineni et al. 2002, "BLEU: a Method
// for Automatic Evaluation of Machine Translation":
//   p_n   = Σ_segments clipped n-gram matches / Σ_segments hypothesis n-grams, n = 1…4, where a
//           hypothesis n-gram counts at most as often as in the reference that has it most often;
//   BP    = 1 if c > r else exp(1 − r/c), c = Σ hypothesis lengths, r = Σ closest reference lengths
//           (closest to the hypothesis length, ties → the shorter reference); BP = 0 if c = 0;
//   BLEU  = 100 · BP · exp(¼ Σ_n log p_n).
// Smoothing (Chen & Cherry 2014, "A Systematic Comparison of Smoothing Techniques for Sentence-Level
// BLEU"), applied to an order with no match: 'exp' (sacreBLEU's default, method 3, mteval-v13a's
// NIST smoothing: p_n = 1 / (2^k · total_n) for the k-th such order), 'floor' (method 1: p_n =
// smoothValue / total_n, 0.1 by default), 'add-k' (method 2: add smoothValue, 1 by default, to the
// matches and totals of orders n ≥ 2), 'none' (a zero precision makes BLEU 0). Like sacreBLEU, a
// corpus with no matching n-gram at all scores 0 whatever the smoothing.
// Tokenization before counting (sacreBLEU's `_preprocess_segment`): optional lowercasing, trailing
// whitespace stripped, then the `13a` tokenizer (sacrebleu/tokenizers/tokenizer_13a.py +
// tokenizer_re.py: mteval-v13a.pl's rules, the WMT standard) or none; then split on whitespace.
// Whitespace means Python's str.split()/rstrip() whitespace, so the JS and Python tokens agree.
import { ConfigError, DataError, assertNumber, withDefaults } from '@attend/core';

export type BleuTokenizer = '13a' | 'none';
export const BLEU_TOKENIZERS: readonly BleuTokenizer[] = ['13a', 'none'];
export type BleuSmoothing = 'none' | 'exp' | 'floor' | 'add-k';
export const BLEU_SMOOTHINGS: readonly BleuSmoothing[] = ['none', 'exp', 'floor', 'add-k'];

/** The n-gram orders BLEU counts (sacreBLEU's MAX_NGRAM_ORDER). */
export const BLEU_MAX_ORDER = 4;

export interface BleuOptions {
  /** `'13a'` (mteval-v13a, sacreBLEU's default) or `'none'` (split on whitespace only). */
  tokenize?: BleuTokenizer;
  /** Lowercase hypotheses and references first (default false). */
  lowercase?: boolean;
  /** Smoothing for orders with no match (default `'exp'`, sacreBLEU's default). */
  smooth?: BleuSmoothing;
  /** The value for `'floor'` (default 0.1) and `'add-k'` (default 1); unused otherwise. */
  smoothValue?: number;
  /**
   * Average only over the orders the hypotheses have n-grams of (sacreBLEU's `effective_order`):
   * a 3-word hypothesis is not scored 0 for having no 4-grams. Default false for corpus BLEU,
   * true for `sentenceBleu` (as in sacreBLEU).
   */
  effectiveOrder?: boolean;
}

export const DEFAULT_BLEU_OPTIONS: Required<Omit<BleuOptions, 'smoothValue'>> & { smoothValue: number | undefined } = {
  tokenize: '13a',
  lowercase: false,
  smooth: 'exp',
  smoothValue: undefined,
  effectiveOrder: false,
};

export const DEFAULT_SENTENCE_BLEU_OPTIONS: typeof DEFAULT_BLEU_OPTIONS = { ...DEFAULT_BLEU_OPTIONS, effectiveOrder: true };

const SMOOTH_DEFAULTS: Record<BleuSmoothing, number | undefined> = { none: undefined, exp: undefined, floor: 0.1, 'add-k': 1 };

export interface BleuScore {
  /** BLEU, 0–100. */
  score: number;
  /** n-gram precisions for n = 1…4, in percent (smoothed where an order had no match). */
  precisions: number[];
  /** Brevity penalty. */
  bp: number;
  /** Total hypothesis length in tokens (c). */
  sysLen: number;
  /** Total closest-reference length in tokens (r). */
  refLen: number;
  /** Clipped n-gram matches per order (plus smoothValue for n ≥ 2 with 'add-k', as sacreBLEU reports). */
  counts: number[];
  /** Hypothesis n-grams per order (plus smoothValue for n ≥ 2 with 'add-k'). */
  totals: number[];
}

// Python's str.isspace() characters (what str.split() and str.rstrip() use).
const PY_SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const SPLIT_RE = new RegExp(`[${PY_SPACE}]+`, 'u');
const RSTRIP_RE = new RegExp(`[${PY_SPACE}]+$`, 'u');

/** Python's `line.split()`: split on runs of whitespace, no empty tokens. */
function pySplit(line: string): string[] {
  return line.split(SPLIT_RE).filter((t) => t.length > 0);
}

// tokenizer_re.py, in order; the first rule's class is Python's [\{-\~\[-\` -\&\(-\+\:-\@\/]:
// { | } ~, [ \ ] ^ _ `, space ! " # $ % &, ( ) * +, : ; < = > ? @, and / (not ' or -).
const RULES_13A: [RegExp, string][] = [
  [/([{-~[-` -&(-+:-@/])/gu, ' $1 '], // punctuation and symbols
  [/([^0-9])([.,])/gu, '$1 $2 '], // period and comma unless preceded by a digit
  [/([.,])([^0-9])/gu, ' $1 $2'], // period and comma unless followed by a digit
  [/([0-9])(-)/gu, '$1 $2 '], // dash when preceded by a digit
];

/**
 * sacreBLEU's `13a` tokenizer (mteval-v13a.pl): drops `<skipped>`, joins lines hyphenated across a
 * newline, unescapes `&quot; &amp; &lt; &gt;`, splits off punctuation and symbols (a period or comma
 * only when not between digits; a dash only after a digit; apostrophes never), and returns the tokens
 * joined by single spaces.
 */
export function tokenize13a(line: string): string {
  let s = line.replaceAll('<skipped>', '').replaceAll('-\n', '').replaceAll('\n', ' ');
  if (s.includes('&')) {
    s = s.replaceAll('&quot;', '"').replaceAll('&amp;', '&').replaceAll('&lt;', '<').replaceAll('&gt;', '>');
  }
  s = ` ${s} `;
  for (const [re, repl] of RULES_13A) s = s.replace(re, repl);
  return pySplit(s).join(' ');
}

type Resolved = typeof DEFAULT_BLEU_OPTIONS;

function resolve(what: string, defaults: Resolved, options: BleuOptions | undefined): Resolved {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new ConfigError(`${what}: expected an options object, got ${JSON.stringify(options)}`);
  }
  const o = withDefaults(what, defaults, options ?? {});
  if (!BLEU_TOKENIZERS.includes(o.tokenize)) {
    throw new ConfigError(`${what}: tokenize expected one of ${BLEU_TOKENIZERS.map((t) => `"${t}"`).join(', ')}, got ${JSON.stringify(o.tokenize)}`);
  }
  if (!BLEU_SMOOTHINGS.includes(o.smooth)) {
    throw new ConfigError(`${what}: smooth expected one of ${BLEU_SMOOTHINGS.map((t) => `"${t}"`).join(', ')}, got ${JSON.stringify(o.smooth)}`);
  }
  for (const k of ['lowercase', 'effectiveOrder'] as const) {
    if (typeof o[k] !== 'boolean') throw new ConfigError(`${what}: ${k} expected true or false, got ${JSON.stringify(o[k])}`);
  }
  if (o.smoothValue !== undefined) assertNumber(`${what} smoothValue`, o.smoothValue, 0);
  return o;
}

function preprocess(sentence: string, o: Resolved): string[] {
  let s = o.lowercase ? sentence.toLowerCase() : sentence;
  s = s.replace(RSTRIP_RE, '');
  return pySplit(o.tokenize === '13a' ? tokenize13a(s) : s);
}

/** All n-grams of orders 1…4 with their counts, keyed by the tokens joined with a space. */
function ngramCounts(tokens: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (let n = 1; n <= BLEU_MAX_ORDER; n++) {
    for (let i = 0; i + n <= tokens.length; i++) {
      const key = tokens.slice(i, i + n).join(' ');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return counts;
}

/** The reference length closest to `hypLen`; ties go to the shorter reference. */
function closestRefLen(hypLen: number, refLens: number[]): number {
  let bestDiff = -1;
  let best = -1;
  for (const r of refLens) {
    const diff = Math.abs(hypLen - r);
    if (bestDiff === -1 || diff < bestDiff) {
      bestDiff = diff;
      best = r;
    } else if (diff === bestDiff && r < best) best = r;
  }
  return best;
}

/** Corpus statistics: [sysLen, refLen, matches per order, totals per order]. */
interface BleuStats {
  sysLen: number;
  refLen: number;
  correct: number[];
  total: number[];
}

function statistics(what: string, hypotheses: string[], references: string[][], o: Resolved): BleuStats {
  if (!Array.isArray(hypotheses) || !Array.isArray(references)) {
    throw new DataError(`${what}: expected hypotheses: string[] and references: string[][] (one list of references per hypothesis)`);
  }
  if (hypotheses.length !== references.length) {
    throw new DataError(
      `${what}: expected one list of references per hypothesis, got ${hypotheses.length} hypotheses and ${references.length} reference lists` +
        ' (references[i] holds the references of hypotheses[i]; sacreBLEU\'s layout is the transpose)',
    );
  }
  const stats: BleuStats = { sysLen: 0, refLen: 0, correct: new Array(BLEU_MAX_ORDER).fill(0), total: new Array(BLEU_MAX_ORDER).fill(0) };
  for (let s = 0; s < hypotheses.length; s++) {
    const hyp = hypotheses[s];
    const refs = references[s];
    if (typeof hyp !== 'string') throw new DataError(`${what}: hypotheses[${s}] expected a string, got ${JSON.stringify(hyp)}`);
    if (!Array.isArray(refs) || refs.length === 0 || refs.some((r) => typeof r !== 'string')) {
      throw new DataError(`${what}: references[${s}] expected a non-empty array of strings (the references of hypotheses[${s}]), got ${JSON.stringify(refs)}`);
    }
    // Reference n-grams: the maximum count over the references (what clipping allows).
    const refMax = new Map<string, number>();
    const refLens: number[] = [];
    for (const ref of refs) {
      const tokens = preprocess(ref, o);
      refLens.push(tokens.length);
      for (const [g, c] of ngramCounts(tokens)) refMax.set(g, Math.max(refMax.get(g) ?? 0, c));
    }
    const tokens = preprocess(hyp, o);
    stats.sysLen += tokens.length;
    stats.refLen += closestRefLen(tokens.length, refLens);
    for (const [g, c] of ngramCounts(tokens)) {
      const n = g.split(' ').length - 1;
      stats.total[n]! += c;
      stats.correct[n]! += Math.min(c, refMax.get(g) ?? 0);
    }
  }
  return stats;
}

/** sacreBLEU's `my_log`: log, with log(0) floored to −9999999999 (so exp(…) = 0). */
const myLog = (x: number): number => (x === 0 ? -9999999999 : Math.log(x));

/** sacreBLEU's `BLEU.compute_bleu`: the score from corpus statistics. */
function computeBleu(stats: BleuStats, o: Resolved): BleuScore {
  const { sysLen, refLen } = stats;
  const correct = [...stats.correct];
  const total = [...stats.total];
  const smoothValue = o.smoothValue ?? SMOOTH_DEFAULTS[o.smooth];
  const bp = sysLen < refLen ? (sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0) : 1;
  const precisions = new Array<number>(BLEU_MAX_ORDER).fill(0);
  if (!correct.some((c) => c !== 0)) return { score: 0, precisions, bp, sysLen, refLen, counts: correct, totals: total };
  let smoothMteval = 1;
  let effOrder = BLEU_MAX_ORDER;
  for (let n = 1; n <= BLEU_MAX_ORDER; n++) {
    if (o.smooth === 'add-k' && n > 1) {
      correct[n - 1]! += smoothValue!;
      total[n - 1]! += smoothValue!;
    }
    if (total[n - 1] === 0) break;
    if (o.effectiveOrder) effOrder = n;
    if (correct[n - 1] === 0) {
      if (o.smooth === 'exp') {
        smoothMteval *= 2;
        precisions[n - 1] = 100 / (smoothMteval * total[n - 1]!);
      } else if (o.smooth === 'floor') {
        precisions[n - 1] = (100 * smoothValue!) / total[n - 1]!;
      }
    } else {
      precisions[n - 1] = (100 * correct[n - 1]!) / total[n - 1]!;
    }
  }
  let logSum = 0;
  for (let n = 0; n < effOrder; n++) logSum += myLog(precisions[n]!);
  return { score: bp * Math.exp(logSum / effOrder), precisions, bp, sysLen, refLen, counts: correct, totals: total };
}

/**
 * Corpus BLEU of `hypotheses` against `references`, where `references[i]` holds one or more
 * references for `hypotheses[i]` (sacreBLEU's `corpus_bleu(hyps, refs)` takes the transpose: one
 * list per reference set). Same numbers as `sacrebleu.corpus_bleu` with the same options.
 */
export function corpusBleu(hypotheses: string[], references: string[][], options?: BleuOptions): BleuScore {
  const o = resolve('corpusBleu', DEFAULT_BLEU_OPTIONS, options);
  return computeBleu(statistics('corpusBleu', hypotheses, references, o), o);
}

/**
 * BLEU of one hypothesis against its references, with `effectiveOrder: true` by default — the same
 * as `sacrebleu.sentence_bleu`. BLEU is a corpus metric: averaging sentence scores is not corpus BLEU.
 */
export function sentenceBleu(hypothesis: string, references: string[], options?: BleuOptions): BleuScore {
  const o = resolve('sentenceBleu', DEFAULT_SENTENCE_BLEU_OPTIONS, options);
  if (!Array.isArray(references)) throw new DataError(`sentenceBleu: expected references: string[], got ${JSON.stringify(references)}`);
  return computeBleu(statistics('sentenceBleu', [hypothesis], [references], o), o);
}
