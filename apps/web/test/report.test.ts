import { describe, expect, it } from 'vitest';
import { formatSelection } from '../src/report.js';

describe('formatSelection', () => {
  it('names the running backend first and each skipped one with its reason', () => {
    const text = formatSelection({
      name: 'wasm',
      label: 'wasm (@tensorflow/tfjs-backend-wasm)',
      detail: 'SIMD, 1 thread',
      forced: false,
      skipped: [{ label: 'webgpu (@tensorflow/tfjs-backend-webgpu)', reason: 'navigator.gpu is not available in this browser' }],
    });
    expect(text).toBe(
      'running on: wasm (@tensorflow/tfjs-backend-wasm) [SIMD, 1 thread]\n' +
        'skipped webgpu (@tensorflow/tfjs-backend-webgpu): navigator.gpu is not available in this browser',
    );
  });
});
