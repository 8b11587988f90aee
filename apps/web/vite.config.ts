// The web demo builds straight from the workspace sources (the `@attend/source` condition).
import { defineConfig } from 'vite';

export default defineConfig({
  resolve: { conditions: ['@attend/source', 'module', 'browser', 'import', 'default'] },
  build: { target: 'es2022' },
});
