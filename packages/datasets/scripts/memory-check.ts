// Memory check for streaming corpus loading at scale (a script, not a test: it writes 500 MiB).
// Generates a 500 MiB text file in a temp dir, loads it with `loadCorpus`, prints the peak RSS,
// and deletes the file. A corpus this size cannot be one JS string (V8 stops near 512 MiB), so
// this also shows that nothing holds it as one.
//   pnpm --filter @attend/datasets memory-check [MiB]
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '@attend/core';
import { loadCorpus } from '../src/node.js';

const MiB = 2 ** 20;
const size = Number(process.argv[2] ?? 500);

async function writeGenerated(path: string, mib: number): Promise<number> {
  const rng = new Rng(2024);
  const words = ['the', 'whale', 'sea', 'ship', 'Ahab', 'море', '海', '🐋', 'and', 'of', 'a', 'to', 'Ishmael'];
  const parts: string[] = [];
  for (let bytes = 0; bytes < 4 * MiB; ) {
    const w = words[rng.int(words.length)] + (rng.int(12) === 0 ? '.\n' : ' ');
    parts.push(w);
    bytes += Buffer.byteLength(w);
  }
  const block = Buffer.from(parts.join(''));
  const chunk = block.subarray(0, block.lastIndexOf(0x20, 4 * MiB) + 1);
  const out = createWriteStream(path);
  let written = 0;
  for (; written < mib * MiB; written += chunk.length) {
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return written;
}

const mb = (n: number) => `${(n / MiB).toFixed(0)} MiB`;
const dir = await mkdtemp(join(tmpdir(), 'attend-memory-check-'));
try {
  const file = join(dir, 'corpus.txt');
  let t = performance.now();
  const written = await writeGenerated(file, size);
  console.log(`wrote ${mb(written)} of generated text in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const before = process.memoryUsage().rss;
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  t = performance.now();
  const corpus = await loadCorpus({ paths: [file], log: (l) => console.log(`  ${l}`) });
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().rss, process.resourceUsage().maxRSS * 1024);
  console.log(
    `loaded ${mb(corpus.bytes)} (${corpus.chars} characters, ${corpus.tokenizer.vocabSize} ids, ${corpus.ids.constructor.name}) ` +
      `in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );
  console.log(
    `RSS before load ${mb(before)}, peak ${mb(peak)}: growth ${mb(peak - before)} = ${((peak - before) / corpus.bytes).toFixed(2)}x the file ` +
      `(ids alone: ${mb(corpus.ids.byteLength)})`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
