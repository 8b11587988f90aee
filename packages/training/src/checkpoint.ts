// Checkpoints on disk (Node only): one directory per run, written atomically.
//   config.json     { formatVersion, model, training }   — what was trained, with which settings
//   tokenizer.json  any JSON the caller passes (the vocabulary)
//   weights.bin     float32 little-endian values of every variable, back to back
//   weights.json    manifest: { formatVersion, byteOrder, byteLength, tensors: [{ name, shape, dtype, offset, byteLength }] }
//   optimizer.bin   the optimizer's state tensors (Adam m, v, β accumulators), same format
//   optimizer.json  manifest as above + { type, iterations }
//   state.json      { formatVersion, step, dataState, schedule, metrics, elapsedSeconds, savedAt,
//                     files: { 'weights.bin' | 'optimizer.bin': { bytes, sha256 } } }
// Atomic save: everything goes to a sibling `DIR.tmp-<pid>-<rand>` (each file fsynced), then the old DIR is
// renamed to `DIR.old-<pid>-<rand>`, the temp dir to DIR, and the old one removed. A crash at any point
// leaves a complete checkpoint: DIR, or (between the two renames) `DIR.old-*`, which `loadCheckpoint` falls
// back to. The same rename-into-place idea as safetensors/PyTorch writers that write to a temp file first.
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { endianness } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { DataError } from '@attend/core';
import { OPTIMIZER_TYPES, type OptimizerType } from './optimizer.js';
import type { TrainState } from './train.js';
import { sizeOf, type StoredTensor } from './weights.js';

export const CHECKPOINT_FORMAT_VERSION = 1;
export const CHECKPOINT_FILES = [
  'config.json', 'tokenizer.json', 'weights.bin', 'weights.json', 'optimizer.bin', 'optimizer.json', 'state.json',
] as const;
type BinaryFile = 'weights.bin' | 'optimizer.bin';

/** The model's config (what `assertCompatible` checks) and the training settings, as JSON. */
export interface CheckpointConfig {
  model: Record<string, unknown>;
  training: Record<string, unknown>;
}

/** A checkpoint in memory. */
export interface Checkpoint {
  config: CheckpointConfig;
  /** Any JSON (e.g. the tokenizer's vocabulary). */
  tokenizer: unknown;
  state: TrainState;
}

/** A loaded checkpoint and the directory it was read from (DIR, or a `DIR.old-*` left by a crash). */
export interface LoadedCheckpoint extends Checkpoint {
  dir: string;
}

export interface TensorManifestEntry {
  name: string;
  shape: number[];
  dtype: 'float32';
  /** Byte offset in the .bin file. */
  offset: number;
  byteLength: number;
}

export interface TensorManifest {
  formatVersion: number;
  byteOrder: 'little-endian';
  /** Size of the .bin file. */
  byteLength: number;
  tensors: TensorManifestEntry[];
}

export interface OptimizerManifest extends TensorManifest {
  type: OptimizerType;
  iterations: number;
}

export interface StateFile extends Omit<TrainState, 'weights' | 'optimizer'> {
  formatVersion: number;
  savedAt: string;
  files: Record<BinaryFile, { bytes: number; sha256: string }>;
}

export interface SaveCheckpointOptions {
  /** Called after each file is written and fsynced in the temp dir (tests inject failures here). */
  onFileWritten?: (file: string, tempDir: string) => void | Promise<void>;
}

const LITTLE_ENDIAN = endianness() === 'LE';

/** Packs tensors back to back as float32 little-endian. */
function packTensors(tensors: readonly StoredTensor[]): { entries: TensorManifestEntry[]; bytes: Buffer } {
  const entries: TensorManifestEntry[] = [];
  let offset = 0;
  for (const t of tensors) {
    if (t.data.length !== sizeOf(t.shape)) {
      throw new DataError(`cannot save ${t.name}: ${t.data.length} values for shape [${t.shape.join(', ')}]`);
    }
    entries.push({ name: t.name, shape: [...t.shape], dtype: 'float32', offset, byteLength: t.data.length * 4 });
    offset += t.data.length * 4;
  }
  const bytes = Buffer.alloc(offset);
  tensors.forEach((t, i) => {
    const at = entries[i]!.offset;
    if (LITTLE_ENDIAN) {
      bytes.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    } else {
      for (let j = 0; j < t.data.length; j++) bytes.writeFloatLE(t.data[j]!, at + 4 * j);
    }
  });
  return { entries, bytes };
}

/** Reads float32 little-endian values (copied: the Buffer may be unaligned). */
function unpackTensor(bytes: Buffer, e: TensorManifestEntry): StoredTensor {
  const data = new Float32Array(e.byteLength / 4);
  if (LITTLE_ENDIAN) new Uint8Array(data.buffer).set(bytes.subarray(e.offset, e.offset + e.byteLength));
  else for (let j = 0; j < data.length; j++) data[j] = bytes.readFloatLE(e.offset + 4 * j);
  return { name: e.name, shape: [...e.shape], data };
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function writeFileSynced(path: string, data: string | Buffer): Promise<void> {
  const fh = await fs.open(path, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsync a directory so renames in it are durable (not supported everywhere; then skipped). */
async function syncDir(path: string): Promise<void> {
  let fh: fs.FileHandle | undefined;
  try {
    fh = await fs.open(path, 'r');
    await fh.sync();
  } catch {
    // Windows and some filesystems cannot open or fsync directories.
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

const json = (x: unknown): string => `${JSON.stringify(x, null, 2)}\n`;
const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Siblings `BASE.old-*` / `BASE.tmp-*` of `target`, with the pid that made them. */
async function siblings(target: string): Promise<{ path: string; kind: 'old' | 'tmp'; pid: number }[]> {
  const parent = dirname(target);
  const re = new RegExp(`^${escapeRe(basename(target))}\\.(old|tmp)-(\\d+)-[0-9a-f]{8}$`);
  let names: string[];
  try {
    names = await fs.readdir(parent);
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    const m = re.exec(n);
    return m ? [{ path: join(parent, n), kind: m[1] as 'old' | 'tmp', pid: Number(m[2]) }] : [];
  });
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Refuses to replace a directory that is not a checkpoint (rename-and-delete would lose it). */
async function assertReplaceable(target: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(target);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR') throw new DataError(`cannot save a checkpoint to ${target}: it is a file, not a directory`);
    throw err;
  }
  if (names.length === 0) return;
  const foreign = names.filter((n) => !(CHECKPOINT_FILES as readonly string[]).includes(n));
  const list = (xs: string[]): string => `${xs.slice(0, 5).join(', ')}${xs.length > 5 ? ', …' : ''}`;
  if (!names.includes('state.json') && !names.includes('config.json')) {
    throw new DataError(`refusing to overwrite ${target}: it is not a checkpoint directory (it holds ${list(names)}); choose another directory`);
  }
  if (foreign.length > 0) {
    throw new DataError(
      `refusing to overwrite checkpoint ${target}: it also holds ${list(foreign)}, which replacing it would delete; move those files out`,
    );
  }
}

/** Writes `ckpt` to `dir` atomically (see the file header). Creates parent directories. */
export async function saveCheckpoint(dir: string, ckpt: Checkpoint, options: SaveCheckpointOptions = {}): Promise<void> {
  const target = resolve(dir);
  const parent = dirname(target);
  const { state } = ckpt;
  const weights = packTensors(state.weights);
  const optimizer = packTensors(state.optimizer.tensors);
  const { weights: _w, optimizer: _o, ...rest } = state;
  const files: [string, string | Buffer][] = [
    ['weights.bin', weights.bytes],
    ['optimizer.bin', optimizer.bytes],
    ['weights.json', json({ formatVersion: CHECKPOINT_FORMAT_VERSION, byteOrder: 'little-endian', byteLength: weights.bytes.length, tensors: weights.entries } satisfies TensorManifest)],
    ['optimizer.json', json({
      formatVersion: CHECKPOINT_FORMAT_VERSION, byteOrder: 'little-endian', byteLength: optimizer.bytes.length, tensors: optimizer.entries,
      type: state.optimizer.type, iterations: state.optimizer.iterations,
    } satisfies OptimizerManifest)],
    ['config.json', json({ formatVersion: CHECKPOINT_FORMAT_VERSION, model: ckpt.config.model, training: ckpt.config.training })],
    ['tokenizer.json', json(ckpt.tokenizer ?? null)],
    ['state.json', json({
      formatVersion: CHECKPOINT_FORMAT_VERSION,
      ...rest,
      savedAt: new Date().toISOString(),
      files: {
        'weights.bin': { bytes: weights.bytes.length, sha256: sha256(weights.bytes) },
        'optimizer.bin': { bytes: optimizer.bytes.length, sha256: sha256(optimizer.bytes) },
      },
    } satisfies StateFile)],
  ];

  await fs.mkdir(parent, { recursive: true });
  await assertReplaceable(target);
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = `${target}.tmp-${tag}`;
  const old = `${target}.old-${tag}`;
  await fs.mkdir(tmp);
  try {
    for (const [name, data] of files) {
      await writeFileSynced(join(tmp, name), data);
      await options.onFileWritten?.(name, tmp);
    }
    await syncDir(tmp);
  } catch (err) {
    await fs.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
  // The swap: old DIR aside, new one in, old one gone.
  let movedOld = false;
  try {
    await fs.rename(target, old);
    movedOld = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      await fs.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
      throw err;
    }
  }
  try {
    await fs.rename(tmp, target);
  } catch (err) {
    if (movedOld) await fs.rename(old, target).catch(() => undefined);
    await fs.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
  await syncDir(parent);
  // Clean up: our old copy, old copies left by crashes, temp dirs of processes that died mid-save.
  for (const s of await siblings(target)) {
    if (s.kind === 'old' || !processAlive(s.pid)) await fs.rm(s.path, { recursive: true, force: true }).catch(() => undefined);
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await fs.stat(path)).isDirectory();
  } catch {
    return false;
  }
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0;

/** Reads and validates a checkpoint; every problem is a `DataError` naming the directory. */
export async function loadCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  const target = resolve(dir);
  let source = target;
  if (!(await isDirectory(target))) {
    // A crash between the two renames of a save leaves only DIR.old-*: a complete checkpoint.
    const olds = (await siblings(target)).filter((s) => s.kind === 'old');
    const dated = await Promise.all(olds.map(async (s) => ({ path: s.path, mtime: (await fs.stat(s.path)).mtimeMs })));
    dated.sort((a, b) => b.mtime - a.mtime);
    if (!dated.length) throw new DataError(`no checkpoint in ${dir} (the directory does not exist)`);
    source = dated[0]!.path;
  }
  const entries = await fs.readdir(source);
  if (entries.length === 0) throw new DataError(`no checkpoint in ${dir} (the directory is empty)`);
  if (!CHECKPOINT_FILES.some((f) => entries.includes(f))) {
    throw new DataError(`no checkpoint in ${dir} (none of ${CHECKPOINT_FILES.join(', ')}); give the --out directory of a training run`);
  }
  const corrupt = (why: string): DataError =>
    new DataError(`checkpoint ${dir} is corrupt: ${why}; restore it from a backup or train again`);

  const raw = new Map<string, Buffer>();
  for (const f of CHECKPOINT_FILES) {
    try {
      raw.set(f, await fs.readFile(join(source, f)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw corrupt(`${f} is missing`);
      throw err;
    }
  }
  const parse = (f: string): Record<string, unknown> => {
    let v: unknown;
    try {
      v = JSON.parse(raw.get(f)!.toString('utf8'));
    } catch (err) {
      throw corrupt(`${f} is not valid JSON (${(err as Error).message})`);
    }
    if (f !== 'tokenizer.json') {
      if (!isObject(v)) throw corrupt(`${f} does not hold a JSON object`);
      if (v.formatVersion !== CHECKPOINT_FORMAT_VERSION) {
        throw new DataError(
          `checkpoint ${dir}: ${f} has format version ${JSON.stringify(v.formatVersion)}; this @attend/training reads version ${CHECKPOINT_FORMAT_VERSION}`,
        );
      }
    }
    return v as Record<string, unknown>;
  };
  const config = parse('config.json');
  const tokenizer = parse('tokenizer.json') as unknown;
  const weightsManifest = parse('weights.json');
  const optimizerManifest = parse('optimizer.json');
  const stateFile = parse('state.json');

  if (!isObject(config.model) || !isObject(config.training)) throw corrupt('config.json needs "model" and "training" objects');
  if (!isCount(stateFile.step)) throw corrupt(`state.json: step must be an integer ≥ 0, got ${JSON.stringify(stateFile.step)}`);
  if (!isObject(stateFile.schedule) || !isObject(stateFile.metrics) || typeof stateFile.elapsedSeconds !== 'number') {
    throw corrupt('state.json needs "schedule", "metrics" and "elapsedSeconds"');
  }
  const metrics = stateFile.metrics;
  if (!isObject(metrics.lossEma) || !Array.isArray(metrics.history)) throw corrupt('state.json: metrics needs "lossEma" and "history"');
  if (!isObject(stateFile.files)) throw corrupt('state.json has no "files" checksums');
  if (!OPTIMIZER_TYPES.includes(optimizerManifest.type as OptimizerType) || !isCount(optimizerManifest.iterations)) {
    throw corrupt(`optimizer.json: type must be one of ${OPTIMIZER_TYPES.join(', ')} and iterations an integer ≥ 0`);
  }

  const readTensors = (bin: BinaryFile, manifestName: string, manifest: Record<string, unknown>): StoredTensor[] => {
    const bytes = raw.get(bin)!;
    const expect = (stateFile.files as Record<string, unknown>)[bin];
    if (!isObject(expect) || !isCount(expect.bytes) || typeof expect.sha256 !== 'string') throw corrupt(`state.json has no checksum for ${bin}`);
    if (manifest.byteLength !== expect.bytes) {
      throw corrupt(`${manifestName} says ${bin} has ${JSON.stringify(manifest.byteLength)} bytes, state.json says ${expect.bytes}`);
    }
    if (bytes.length !== expect.bytes) {
      throw corrupt(`${bin} has ${bytes.length} bytes, expected ${expect.bytes}${bytes.length < expect.bytes ? ' (truncated)' : ''}`);
    }
    const actual = sha256(bytes);
    if (actual !== expect.sha256) throw corrupt(`${bin} does not match its sha256 checksum (expected ${expect.sha256.slice(0, 12)}…, got ${actual.slice(0, 12)}…)`);
    if (!Array.isArray(manifest.tensors)) throw corrupt(`${manifestName} has no "tensors" list`);
    let offset = 0;
    const out: StoredTensor[] = [];
    manifest.tensors.forEach((e: unknown, i) => {
      const ok =
        isObject(e) && typeof e.name === 'string' && Array.isArray(e.shape) && e.shape.every(isCount) &&
        e.dtype === 'float32' && e.offset === offset && e.byteLength === sizeOf(e.shape as number[]) * 4;
      if (!ok) throw corrupt(`${manifestName}: entry ${i} (${JSON.stringify(e).slice(0, 120)}) is malformed or out of place`);
      const entry = e as unknown as TensorManifestEntry;
      offset += entry.byteLength;
      if (offset > bytes.length) throw corrupt(`${manifestName}: ${entry.name} runs past the end of ${bin}`);
      out.push(unpackTensor(bytes, entry));
    });
    if (offset !== bytes.length) throw corrupt(`${manifestName} describes ${offset} bytes, ${bin} has ${bytes.length}`);
    return out;
  };

  const weights = readTensors('weights.bin', 'weights.json', weightsManifest);
  const optTensors = readTensors('optimizer.bin', 'optimizer.json', optimizerManifest);
  const { formatVersion: _v, savedAt: _s, files: _f, ...rest } = stateFile as unknown as StateFile;
  return {
    dir: source,
    config: { model: config.model, training: config.training },
    tokenizer,
    state: {
      ...rest,
      weights,
      optimizer: { type: optimizerManifest.type as OptimizerType, iterations: optimizerManifest.iterations, tensors: optTensors },
    },
  };
}

/** JSON with sorted object keys, so equal configs compare equal whatever their key order. */
function stableJson(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(stableJson).join(',')}]`;
  if (isObject(x)) return `{${Object.keys(x).sort().map((k) => `${JSON.stringify(k)}:${stableJson(x[k])}`).join(',')}}`;
  return JSON.stringify(x) ?? 'undefined';
}

const show = (v: unknown): string => (v === undefined ? '(unset)' : typeof v === 'string' ? v : stableJson(v));

/**
 * Throws a `DataError` when the checkpoint's model config differs from `expected` in any key `expected`
 * gives (keys it leaves out, or sets to undefined, are not checked), naming every differing key.
 */
export function assertCompatible(
  ckpt: { config: CheckpointConfig; dir?: string },
  expected: Record<string, unknown>,
): void {
  const saved = ckpt.config.model;
  const keys = Object.keys(expected).filter((k) => expected[k] !== undefined && stableJson(saved[k]) !== stableJson(expected[k]));
  if (keys.length === 0) return;
  const list = (cfg: Record<string, unknown>): string => keys.map((k) => `${k}=${show(cfg[k])}`).join(', ');
  throw new DataError(
    `checkpoint${ckpt.dir ? ` ${ckpt.dir}` : ''} was trained with ${list(saved)}; you asked for ${list(expected)}. ` +
      'Leave those options out to continue with the checkpoint\'s, or train a new model in another directory.',
  );
}
