// Shared vitest configuration for every Attend package: tests run from `src/` (the
// `@attend/source` export condition), in forked processes (tfjs-node's native addon
// misbehaves in worker threads: tfjs issues 2079, 8388).
import { defineConfig } from 'vitest/config';

/** @param {import('vitest/config').UserConfig['test']} [test] */
export function attendVitestConfig(test = {}) {
  return defineConfig({
    resolve: { conditions: ['@attend/source'] },
    ssr: { resolve: { conditions: ['@attend/source'] } },
    test: {
      pool: 'forks',
      testTimeout: 60_000,
      hookTimeout: 60_000,
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      ...test,
    },
  });
}
