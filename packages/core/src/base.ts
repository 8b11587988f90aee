// @attend/core/base — the parts of @attend/core that need no TensorFlow.js: typed errors, config
// checks and seeded randomness. Packages with no tensors (tokenizers, datasets) import this, so
// they stay free of tfjs at runtime.
export {
  AttendError,
  BackendError,
  ConfigError,
  DataError,
  ShapeError,
  assertInt,
  assertNumber,
  assertShape,
  withDefaults,
} from './errors.js';
export { Rng, hashSeed, type RngState } from './random.js';
export { assertBool, assertChoice, configure } from './config.js';
