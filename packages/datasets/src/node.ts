// @attend/datasets/node — Node-only parts: streaming corpus loading, the data folder, the default corpus.
// Also `loadPairs`, the Node loader of translation pairs files (parsing itself is in ./pairs.ts).
import { readFile } from 'node:fs/promises';
import { DataError } from '@attend/core/base';
import { parsePairsBytes, type PairsResult, type ParsePairsOptions } from './pairs.js';
export { loadCorpus, listCorpusFiles, type Corpus, type LoadCorpusOptions } from './corpus.js';
export { checkCorpusLength, minCorpusLength } from './check.js';
export { DEFAULT_CORPUS_NAME, dataDir, defaultCorpusPath, requireDataFile } from './data-dir.js';
export { globMatcher, globsMatcher } from './glob.js';

/**
 * Loads a translation pairs file (`source<TAB>target[<TAB>…]` per line, UTF-8; e.g. the Tatoeba
 * eng-fra.txt) with `parsePairsBytes` (see ./pairs.ts): normalised pairs, counts of bad (with
 * `skipBad`) and too-long lines. Errors name the file and line. `file` defaults to `path`.
 */
export async function loadPairs(path: string, options: ParsePairsOptions = {}): Promise<PairsResult & { file: string; bytes: number }> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${(e as Error).message})`;
    throw new DataError(`Pairs file ${path} ${why}; pass a tab-separated file of "source<TAB>target" lines (e.g. eng-fra.txt from the data folder)`);
  }
  const file = options.file ?? path;
  return { ...parsePairsBytes(bytes, { ...options, file }), file, bytes: bytes.length };
}
