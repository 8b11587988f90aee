// Runs a benchmark body on every backend that loads here, once per backend name, in the order
// automatic selection tries them; the candidates that do not load are returned as skip reasons.
import { NODE_CANDIDATES } from '@attend/core/node';
import type { BackendCandidate } from '@attend/core';

export async function onEachBackend(only: readonly string[] | undefined, body: (c: BackendCandidate) => Promise<void> | void): Promise<string[]> {
  const skipped: string[] = [];
  const seen = new Set<string>();
  for (const c of NODE_CANDIDATES) {
    if (seen.has(c.name) || (only && !only.includes(c.name))) continue;
    try {
      await c.load();
    } catch (err) {
      skipped.push(`${c.label}: ${(err as Error).message.split('\n')[0]}`);
      continue;
    }
    seen.add(c.name);
    await body(c);
  }
  return skipped;
}
