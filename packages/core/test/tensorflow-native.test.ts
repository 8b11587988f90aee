// Finding and loading Attend's native TensorFlow ops (../src/tensorflow-native.ts): the library's
// name follows its source, a missing or stale one is reported with what to run and never loaded,
// and the switch that keeps the layers on their TensorFlow-op paths. (The ops themselves are tested
// against those paths in @attend/recurrent's tensorflow-native.test.ts; CI builds them.)
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadNativeOps, NATIVE_OPS_SOURCE, nativeOpsFile } from '../src/tensorflow-native.js';
import { setTensorflowNativeOps } from '../src/tensorflow-ops.js';

const dir = mkdtempSync(join(tmpdir(), 'attend-native-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Attend native ops: finding and loading', () => {
  it('names the library after a hash of the shipped C++ source and the TensorFlow it links, inside tfjs-node’s deps/attend/', () => {
    const hash = createHash('sha256').update(readFileSync(NATIVE_OPS_SOURCE)).digest('hex').slice(0, 12);
    expect(nativeOpsFile('/x/tfjs-node')).toBe(`/x/tfjs-node/deps/attend/attend_ops-${hash}.node`);
    expect(readFileSync(NATIVE_OPS_SOURCE, 'utf8')).toContain('REGISTER_OP("AttendLstmRecurrence")');
    // tfjs-node linked to a TensorFlow: its libtensorflow_framework joins the hash (another wheel, another build).
    const linked = join(dir, 'linked');
    mkdirSync(join(linked, 'deps', 'lib'), { recursive: true });
    writeFileSync(join(dir, 'libtensorflow_framework.so.2'), '');
    symlinkSync(join(dir, 'libtensorflow_framework.so.2'), join(linked, 'deps', 'lib', 'libtensorflow_framework.so.2'));
    const withTf = createHash('sha256').update(readFileSync(NATIVE_OPS_SOURCE)).update(realpathSync(join(dir, 'libtensorflow_framework.so.2'))).digest('hex').slice(0, 12);
    expect(nativeOpsFile(linked)).toBe(join(linked, 'deps', 'attend', `attend_ops-${withTf}.node`));
    expect(withTf).not.toBe(hash);
  });

  it('reports a library that was never built, or one built from another source, and loads neither', () => {
    expect(loadNativeOps(join(dir, 'none'))).toBe('Attend native ops not built: run `attend setup tensorflow`');
    mkdirSync(join(dir, 'old', 'deps', 'attend'), { recursive: true });
    writeFileSync(join(dir, 'old', 'deps', 'attend', 'attend_ops-000000000000.node'), 'not a library');
    expect(loadNativeOps(join(dir, 'old'))).toBe('Attend native ops out of date: run `attend setup tensorflow`');
  });

  it('reports a library that does not load instead of throwing', () => {
    const file = nativeOpsFile(join(dir, 'bad'));
    mkdirSync(join(dir, 'bad', 'deps', 'attend'), { recursive: true });
    writeFileSync(file, 'not a library');
    expect(loadNativeOps(join(dir, 'bad'))).toMatch(/^Attend native ops failed to load \(.+\): run `attend setup tensorflow`$/);
  });

  it('can be turned off by the environment', () => {
    process.env.ATTEND_TF_NATIVE_OPS = '0';
    try {
      expect(loadNativeOps(join(dir, 'none'))).toBe('Attend native ops off (ATTEND_TF_NATIVE_OPS=0)');
    } finally {
      delete process.env.ATTEND_TF_NATIVE_OPS;
    }
  });

  it('setTensorflowNativeOps returns the previous setting', () => {
    const first = setTensorflowNativeOps(false);
    expect(setTensorflowNativeOps(first)).toBe(false);
  });
});
