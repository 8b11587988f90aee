// Streaming text corpora (Node only). Files are read in 1 MiB chunks and decoded by a streaming
// `TextDecoder`, so the corpus is never one JS string (V8 caps strings near 512 MiB):
//   pass 1 (only without a tokenizer): every chunk goes into `CharTokenizer.builder()`;
//   pass 2: every chunk is encoded straight into one typed array, sized from the byte count
//           (a file has at most as many UTF-16 units, hence code points, as bytes).
// Binary files (a NUL byte, or invalid UTF-8) are refused unless `allowBinary`.
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { ConfigError, DataError } from '@attend/core/base';
import { CharTokenizer } from '@attend/tokenizers';
import { globsMatcher } from './glob.js';
import { Utf8Validator } from './utf8.js';

/** Options of `loadCorpus`. */
export interface LoadCorpusOptions {
  /** Files and/or directories. Directories are searched recursively, skipping dot-files, dot-dirs and node_modules. */
  paths: string[];
  /** Glob patterns for files found under directories, e.g. `["**\/*.txt", "*.c"]` (default: all files). Files named directly are always read. */
  include?: string[];
  /** Read files with NUL bytes or invalid UTF-8 anyway (bad bytes become U+FFFD) (default false). */
  allowBinary?: boolean;
  /** Encode with this tokenizer instead of building one from the corpus. */
  tokenizer?: CharTokenizer;
  /** Progress lines. */
  log?: (line: string) => void;
}

const KNOWN_OPTIONS = ['paths', 'include', 'allowBinary', 'tokenizer', 'log'];

/** A loaded corpus: all files' characters, as ids, in `files` order. */
export interface Corpus {
  /** One id per character; `Uint16Array` when the vocabulary has ≤ 65535 ids, else `Uint32Array`. */
  ids: Uint16Array | Uint32Array;
  tokenizer: CharTokenizer;
  /** Absolute paths, sorted, in the order their text was concatenated. */
  files: string[];
  /** Bytes read. */
  bytes: number;
  /** Characters (code points) encoded: `ids.length`. */
  chars: number;
}

const CHUNK = 1 << 20;
const MiB = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

interface FileEntry {
  path: string;
  size: number;
}

async function statOrThrow(path: string, given: string) {
  try {
    return await stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new DataError(`Corpus path ${given} does not exist (resolved to ${path}); check the path, or pass a text file or a directory of them`);
    }
    throw new DataError(`Cannot read corpus path ${path}: ${(e as Error).message}`);
  }
}

async function walk(root: string, dir: string, matches: (rel: string) => boolean, out: FileEntry[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    if (e.name.startsWith('.') || e.name === 'node_modules') continue;
    const full = join(dir, e.name);
    if (e.isDirectory()) await walk(root, full, matches, out);
    else if (e.isFile() || e.isSymbolicLink()) {
      const rel = relative(root, full).split(sep).join('/');
      if (!matches(rel)) continue;
      const st = await stat(full).catch(() => undefined); // a dangling symlink is skipped
      if (st?.isFile()) out.push({ path: full, size: st.size }); // symlinks to directories are not followed
    }
  }
}

/** The files `paths` name: files as given, directories searched; deduplicated and sorted. */
export async function listCorpusFiles(paths: readonly string[], include: readonly string[] = []): Promise<FileEntry[]> {
  if (!Array.isArray(paths) || paths.length === 0 || !paths.every((p) => typeof p === 'string')) {
    throw new ConfigError(`loadCorpus: expected paths to be a non-empty array of file or directory paths, got ${JSON.stringify(paths)}`);
  }
  const matches = globsMatcher(include);
  const found = new Map<string, FileEntry>();
  for (const given of paths) {
    const abs = resolve(given);
    const st = await statOrThrow(abs, given);
    if (st.isFile()) found.set(abs, { path: abs, size: st.size });
    else if (st.isDirectory()) {
      const inDir: FileEntry[] = [];
      await walk(abs, abs, matches, inDir);
      if (inDir.length === 0) {
        const what = include.length ? `files matching ${include.map((p) => JSON.stringify(p)).join(', ')}` : 'files';
        throw new DataError(
          `Directory ${abs} has no ${what} (dot-files, dot-directories and node_modules are skipped); ` +
            `check the directory or the --include patterns`,
        );
      }
      for (const f of inDir) found.set(f.path, f);
    } else throw new DataError(`Corpus path ${abs} is neither a regular file nor a directory`);
  }
  return [...found.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function binaryError(file: string, what: string): DataError {
  return new DataError(`${file} looks binary (${what}); pass --allow-binary to train on it anyway`);
}

/** Re-reads `file` to find the first invalid UTF-8 byte, for the error message. */
async function invalidUtf8Error(file: string): Promise<DataError> {
  const v = new Utf8Validator();
  let at = -1;
  for await (const chunk of createReadStream(file, { highWaterMark: CHUNK })) {
    at = v.push(chunk as Buffer);
    if (at >= 0) break;
  }
  if (at < 0) at = v.end();
  return binaryError(file, at >= 0 ? `invalid UTF-8 at byte ${at}` : 'invalid UTF-8');
}

/** Streams the text of `file` chunk by chunk into `onText`; returns the bytes read. */
async function readText(file: string, allowBinary: boolean, onText: (text: string) => void): Promise<number> {
  const decoder = new TextDecoder('utf-8', { fatal: !allowBinary });
  let offset = 0;
  const decode = async (bytes?: Uint8Array): Promise<string> => {
    try {
      return bytes ? decoder.decode(bytes, { stream: true }) : decoder.decode();
    } catch {
      throw await invalidUtf8Error(file);
    }
  };
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: CHUNK })) {
      const buf = chunk as Buffer;
      if (!allowBinary) {
        const nul = buf.indexOf(0);
        if (nul >= 0) {
          await decode(buf.subarray(0, nul)); // invalid UTF-8 before the NUL is reported first
          throw binaryError(file, `NUL byte at offset ${offset + nul}`);
        }
      }
      const text = await decode(buf);
      offset += buf.length;
      if (text.length) onText(text);
    }
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(`Cannot read ${file}: ${(e as Error).message}`);
  }
  const tail = await decode();
  if (tail.length) onText(tail);
  return offset;
}

/**
 * Loads text files as one array of character ids, streaming: memory is the ids (2 or 4 bytes per
 * character) plus a few MiB, whatever the corpus size. Files are concatenated in sorted path order.
 */
export async function loadCorpus(options: LoadCorpusOptions): Promise<Corpus> {
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.includes(key)) {
      throw new ConfigError(`loadCorpus: unknown option "${key}"; known options are ${KNOWN_OPTIONS.join(', ')}`);
    }
  }
  const { include = [], allowBinary = false, log } = options;
  const entries = await listCorpusFiles(options.paths, include);
  const files = entries.map((f) => f.path);
  const totalBytes = entries.reduce((s, f) => s + f.size, 0);
  log?.(`corpus: ${files.length} file${files.length === 1 ? '' : 's'}, ${MiB(totalBytes)}`);

  let tokenizer = options.tokenizer;
  if (!tokenizer) {
    const builder = CharTokenizer.builder();
    for (const f of files) await readText(f, allowBinary, (text) => builder.add(text));
    tokenizer = builder.build();
    log?.(`vocabulary: ${tokenizer.vocabSize - 4} characters + 4 specials = ${tokenizer.vocabSize} ids`);
  }

  const Ids = tokenizer.vocabSize <= 65535 ? Uint16Array : Uint32Array;
  let ids: Uint16Array | Uint32Array = new Ids(Math.max(1, totalBytes));
  let n = 0;
  let bytes = 0;
  const tok = tokenizer;
  for (const f of files) {
    bytes += await readText(f, allowBinary, (text) => {
      if (n + text.length > ids.length) {
        // Only if a file grew since it was listed.
        const grown = new Ids(Math.max(2 * ids.length, n + text.length));
        grown.set(ids.subarray(0, n));
        ids = grown;
      }
      n += tok.encodeInto(text, ids, n);
    });
  }
  if (n === 0) {
    throw new DataError(
      `Corpus is empty: ${files.length} file${files.length === 1 ? '' : 's'} (${files.slice(0, 3).join(', ')}${files.length > 3 ? ', …' : ''}) ` +
        `hold 0 characters; point it at text files with content`,
    );
  }
  // A view of the filled part; copied only when more than half the buffer is unused (e.g. CJK
  // text, 3 bytes a character), so the spare memory can be freed.
  const used = n < ids.length / 2 ? ids.slice(0, n) : ids.subarray(0, n);
  log?.(`encoded ${n} characters (${MiB(used.byteLength)} of ids)`);
  return { ids: used, tokenizer: tok, files, bytes, chars: n };
}
