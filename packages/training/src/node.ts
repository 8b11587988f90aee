// @attend/training/node — the Node-only parts: checkpoint directories on disk (atomic save, validated
// load, config compatibility) and Ctrl-C → AbortSignal for `train()`.
import { saveCheckpoint, type CheckpointConfig } from './checkpoint.js';
import type { CheckpointHook } from './train.js';

export {
  saveCheckpoint,
  loadCheckpoint,
  assertCompatible,
  CHECKPOINT_FORMAT_VERSION,
  CHECKPOINT_FILES,
  type Checkpoint,
  type CheckpointConfig,
  type LoadedCheckpoint,
  type OptimizerManifest,
  type SaveCheckpointOptions,
  type StateFile,
  type TensorManifest,
  type TensorManifestEntry,
} from './checkpoint.js';
export { interruptSignal, DEFAULT_INTERRUPT_MESSAGE, type InterruptOptions, type InterruptSignal } from './interrupt.js';

/** `train()`'s `checkpoint` option saving to `dir` with this config and tokenizer. */
export function checkpointTo(
  dir: string,
  opts: { config: CheckpointConfig; tokenizer?: unknown; every: number },
): CheckpointHook {
  return {
    every: opts.every,
    location: dir,
    save: (state) => saveCheckpoint(dir, { config: opts.config, tokenizer: opts.tokenizer ?? null, state }),
  };
}
