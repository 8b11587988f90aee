// @attend/tokenizers/node — saving and loading tokenizers as JSON files (Node only).
// Saves are atomic: the JSON goes to a temporary file in the same directory, then is renamed over
// the target, so a crash never leaves a half-written tokenizer behind.
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { AttendError, DataError } from '@attend/core/base';
import { tokenizerFromJSON, type AnyTokenizer } from './factory.js';
import type { Tokenizer } from './tokenizer.js';

/** Writes `tok.toJSON()` to `path` atomically (temp file + rename); creates the directory if needed. */
export async function saveTokenizer(path: string, tok: Tokenizer): Promise<void> {
  const target = resolve(path);
  await mkdir(dirname(target), { recursive: true });
  const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  try {
    await writeFile(tmp, `${JSON.stringify(tok.toJSON())}\n`, 'utf8');
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Reads a tokenizer saved by `saveTokenizer`. Missing file, invalid JSON or bad contents are `DataError`s naming the path. */
export async function loadTokenizer(path: string): Promise<AnyTokenizer> {
  const file = resolve(path);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new DataError(`Tokenizer file ${file} does not exist; check the path, or build and save a tokenizer there first`);
    }
    if (code === 'EISDIR') throw new DataError(`Tokenizer path ${file} is a directory; expected a .json file written by saveTokenizer`);
    throw new DataError(`Cannot read tokenizer file ${file}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new DataError(`Tokenizer file ${file} is not valid JSON (${(e as Error).message}); expected a file written by saveTokenizer`);
  }
  try {
    return tokenizerFromJSON(json);
  } catch (e) {
    if (e instanceof AttendError) throw new DataError(`Tokenizer file ${file}: ${e.message}`);
    throw e;
  }
}
