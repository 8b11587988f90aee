// The web demo's entry: pick the best backend this browser offers (WebGPU, then WASM, then plain
// JS), say which one runs, and check it with a small matMul.
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { selectBackend } from '@attend/core';
import wasmUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { formatSelection } from './report.js';

const out = document.getElementById('backend')!;
setWasmPaths({
  'tfjs-backend-wasm.wasm': wasmUrl,
  'tfjs-backend-wasm-simd.wasm': wasmSimdUrl,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedUrl,
});
try {
  const sel = await selectBackend({ log: (l) => console.info(l) });
  const y = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5], [6]]));
  out.textContent = `${formatSelection(sel)}\ncheck: [[1,2],[3,4]]·[5,6]ᵀ = ${JSON.stringify(await y.array())}`;
  out.className = 'ok';
} catch (err) {
  out.textContent = String(err);
  out.className = 'no';
}
