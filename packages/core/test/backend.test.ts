// Backend selection: forced cpu and wasm load; an impossible or unknown backend is a clear error;
// the tensorflow backend runs when set up (CI sets ATTEND_EXPECT_TENSORFLOW=1 after `attend setup
// tensorflow`), and is skipped with a printed reason where it cannot be.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { BackendError, selectFrom, type BackendCandidate } from '../src/index.js';
import { selectBackend } from '../src/node.js';

const quiet = { log: false as const };

describe('selectBackend (Node)', () => {
  it('forced cpu activates the cpu backend', async () => {
    const sel = await selectBackend({ prefer: 'cpu', ...quiet });
    expect(sel).toMatchObject({ name: 'cpu', forced: true });
    expect(tf.getBackend()).toBe('cpu');
  });

  it('forced wasm activates wasm with SIMD reported', async () => {
    const sel = await selectBackend({ prefer: 'wasm', ...quiet });
    expect(sel.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(sel.detail).toMatch(/SIMD/);
    expect(tf.add(tf.scalar(2), tf.scalar(3)).dataSync()[0]).toBe(5);
  });

  it('logs the chosen backend and every skipped one', async () => {
    const lines: string[] = [];
    const sel = await selectBackend({ log: (l) => lines.push(l) });
    expect(lines.at(-1)).toBe(`backend: ${sel.label}${sel.detail ? ` [${sel.detail}]` : ''}`);
    expect(lines.length).toBe(sel.skipped.length + 1);
    expect(sel.skipped.map((s) => s.label)[0]).toBe('tensorflow (@tensorflow/tfjs-node-gpu)');
  });

  it('an unknown backend name is an error listing the valid names', async () => {
    await expect(selectBackend({ prefer: 'cuda' as never, ...quiet })).rejects.toThrow(
      'unknown backend "cuda": expected one of tensorflow, webgpu, wasm, cpu',
    );
  });

  it('a forced backend that cannot load is an error saying why, never a fallback', async () => {
    const failing: BackendCandidate = {
      name: 'webgpu',
      label: 'webgpu (test)',
      load: () => Promise.reject(new Error('no GPU adapter found')),
    };
    const cpu: BackendCandidate = { name: 'cpu', label: 'cpu (test)', load: async () => 'ok' };
    const err = await selectFrom([failing, cpu], { prefer: 'webgpu', ...quiet }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as Error).message).toContain('backend "webgpu" was requested but cannot be loaded');
    expect((err as Error).message).toContain('webgpu (test): no GPU adapter found');
  });

  it('forced webgpu on this machine either runs on a real GPU or says why not', async () => {
    const before = tf.getBackend();
    try {
      const sel = await selectBackend({ prefer: 'webgpu', ...quiet });
      expect(sel.name).toBe('webgpu');
    } catch (err) {
      expect(err).toBeInstanceOf(BackendError);
      expect((err as Error).message).toMatch(/backend "webgpu" was requested but cannot be loaded:\n  - webgpu \(webgpu package: Dawn over Vulkan\): \S/);
      expect(tf.getBackend()).toBe(before); // no silent switch
    }
  });

  it('forced tensorflow runs where it is set up', async (ctx) => {
    let sel;
    try {
      sel = await selectBackend({ prefer: 'tensorflow', ...quiet });
    } catch (err) {
      if (process.env.ATTEND_EXPECT_TENSORFLOW === '1') throw err;
      const reason = (err as Error).message.split('\n').filter((l) => l.startsWith('  - ')).map((l) => l.trim()).join('; ');
      console.warn(`skipped: tensorflow backend not available here (${reason})`);
      ctx.skip();
      return;
    }
    expect(sel.name).toBe('tensorflow');
    expect(tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])).dataSync()[0]).toBe(11);
  });
});
