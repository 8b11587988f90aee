// A 100 MiB corpus must load in memory proportional to its ids (2 bytes a character), not to its
// text as JS strings (2 bytes a UTF-16 unit, plus copies): RSS growth well below 4× the file size.
// The 500 MiB version of this check is `pnpm --filter @attend/datasets memory-check` (a script, not a test).
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { Rng } from '@attend/core';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCorpus } from '../src/node.js';

const MiB = 2 ** 20;

/** 1 MiB of seeded pseudo-text (ASCII words plus a few Cyrillic/CJK/emoji), repeated `mib` times. */
async function writeGenerated(path: string, mib: number): Promise<void> {
  const rng = new Rng(123);
  const words = ['the', 'whale', 'sea', 'ship', 'Ahab', 'море', '海', '🐋', 'and', 'of', 'a', 'to', 'Ishmael'];
  const parts: string[] = [];
  for (let bytes = 0; bytes < MiB; ) {
    const w = words[rng.int(words.length)] + (rng.int(12) === 0 ? '.\n' : ' ');
    parts.push(w);
    bytes += Buffer.byteLength(w);
  }
  const block = Buffer.from(parts.join('')).subarray(0, MiB);
  const cut = block.lastIndexOf(0x20) + 1; // do not split a multi-byte character at the edge
  const chunk = block.subarray(0, cut);
  const out = createWriteStream(path);
  let written = 0;
  while (written < mib * MiB) {
    if (!out.write(chunk)) await once(out, 'drain');
    written += chunk.length;
  }
  out.end();
  await once(out, 'finish');
}

describe('loadCorpus memory', () => {
  let dir = '';
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('loads a 100 MiB file with RSS growth well below 4x its size', async () => {
    dir = await mkdtemp(join(tmpdir(), 'attend-mem-'));
    const file = join(dir, 'big.txt');
    await writeGenerated(file, 100);
    const before = process.memoryUsage().rss;
    let peak = before;
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 10);
    const t0 = performance.now();
    const corpus = await loadCorpus({ paths: [file] });
    clearInterval(timer);
    peak = Math.max(peak, process.memoryUsage().rss);
    const growth = peak - before;
    console.log(
      `100 MiB corpus: ${corpus.chars} characters, ${corpus.tokenizer.vocabSize} ids, loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s; ` +
        `RSS ${(before / MiB).toFixed(0)} → peak ${(peak / MiB).toFixed(0)} MiB (growth ${(growth / MiB).toFixed(0)} MiB = ${(growth / corpus.bytes).toFixed(2)}x the file)`,
    );
    expect(corpus.bytes).toBeGreaterThan(99 * MiB);
    expect(corpus.ids).toBeInstanceOf(Uint16Array);
    expect(growth).toBeLessThan(3 * corpus.bytes);
  });
});
