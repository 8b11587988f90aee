// Validation shared by the `fromJSON` readers: every problem becomes a `DataError` that says
// what was expected, what was found, and where.
import { DataError } from '@attend/core/base';
import { SPECIAL_TOKENS } from './specials.js';

/** A short rendering of any JSON value, for messages. */
export function show(value: unknown): string {
  if (value === undefined) return 'undefined';
  const s = JSON.stringify(value) ?? String(value);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/** Parses a string as JSON (or passes an object through) and checks `type` and `version`. */
export function readHeader(json: unknown, type: string, version: number): Record<string, unknown> {
  const what = `${type} tokenizer JSON`;
  let obj = json;
  if (typeof json === 'string') {
    try {
      obj = JSON.parse(json);
    } catch (e) {
      throw new DataError(`${what}: not valid JSON (${(e as Error).message})`);
    }
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new DataError(`${what}: expected an object like { "type": "${type}", "version": ${version}, ... }, got ${show(obj)}`);
  }
  const rec = obj as Record<string, unknown>;
  if (rec.type !== type) throw new DataError(`${what}: expected "type": "${type}", got ${show(rec.type)}`);
  if (rec.version !== version) {
    throw new DataError(
      `${what}: expected "version": ${version}, got ${show(rec.version)}; ` +
        `this @attend/tokenizers reads version ${version} (a newer file needs a newer @attend/tokenizers)`,
    );
  }
  return rec;
}

/** Checks `vocab`: an array of unique non-empty strings whose first entries are the specials. */
export function readVocab(rec: Record<string, unknown>, type: string): string[] {
  const what = `${type} tokenizer JSON`;
  const vocab = rec.vocab;
  if (!Array.isArray(vocab)) throw new DataError(`${what}: expected "vocab" to be an array of strings, got ${show(vocab)}`);
  for (let i = 0; i < SPECIAL_TOKENS.length; i++) {
    if (vocab[i] !== SPECIAL_TOKENS[i]) {
      throw new DataError(
        `${what}: expected vocab[${i}] to be ${show(SPECIAL_TOKENS[i])} (ids 0-3 are ${SPECIAL_TOKENS.join(' ')}), got ${show(vocab[i])}`,
      );
    }
  }
  const seen = new Set<string>();
  vocab.forEach((token: unknown, i) => {
    if (typeof token !== 'string' || token.length === 0) {
      throw new DataError(`${what}: expected vocab[${i}] to be a non-empty string, got ${show(token)}`);
    }
    if (seen.has(token)) throw new DataError(`${what}: vocab[${i}] ${show(token)} appears twice; each token needs one id`);
    seen.add(token);
  });
  return vocab as string[];
}

/** Reads an optional boolean field. */
export function readBool(rec: Record<string, unknown>, key: string, type: string, fallback: boolean): boolean {
  const v = rec[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw new DataError(`${type} tokenizer JSON: expected "${key}" to be true or false, got ${show(v)}`);
  return v;
}
