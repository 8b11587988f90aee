// tfjs-core registers no gradients by itself (the umbrella `@tensorflow/tfjs` package does);
// without them `tf.grad` fails with "gradient function not found for Sum". Every Attend package
// that computes gradients imports @attend/core, which registers them once, here, from a bundle of
// tfjs-core's own gradient definitions (see scripts/bundle-gradients.mjs for why a bundle).
import * as tf from '@tensorflow/tfjs-core';
import { TFJS_CORE_GRADIENTS_VERSION } from './vendor/tfjs-core-gradients.js';

if (TFJS_CORE_GRADIENTS_VERSION !== tf.version_core) {
  console.warn(
    `@attend/core: gradients were bundled from tfjs-core ${TFJS_CORE_GRADIENTS_VERSION} but tfjs-core ${tf.version_core} is loaded; ` +
      'regenerate them with `pnpm --filter @attend/core bundle-gradients`.',
  );
}
