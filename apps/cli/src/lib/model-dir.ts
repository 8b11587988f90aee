// Loading a trained model directory (a checkpoint written by `attend train …`) back into a model
// and its tokenizer, with errors that say what kind of directory was expected.
import * as tf from '@tensorflow/tfjs-core';
import { AttendError, DataError } from '@attend/core';
import { RNNLanguageModel, type RNNLanguageModelConfig } from '@attend/recurrent';
import { CharTokenizer } from '@attend/tokenizers';
import { GPT, type GPTConfig } from '@attend/transformer';
import { loadCheckpoint, type LoadedCheckpoint } from '@attend/training/node';
import type { CharLM } from '../char-lm/train.js';

export interface LoadedCharModel {
  kind: 'char-rnn' | 'char-gpt';
  model: CharLM;
  tokenizer: CharTokenizer;
  checkpoint: LoadedCheckpoint;
}

/** Rebuilds the character model (char-rnn or char-gpt) and tokenizer saved in `dir`; you own (and dispose) the model. */
export async function loadCharModel(dir: string): Promise<LoadedCharModel> {
  const checkpoint = await loadCheckpoint(dir);
  const { kind, ...modelConfig } = checkpoint.config.model as unknown as { kind?: string } & RNNLanguageModelConfig & GPTConfig;
  if (kind !== 'char-rnn' && kind !== 'char-gpt') {
    throw new DataError(`${dir} holds a "${String(kind)}" model; this command expects a character model written by \`attend train char-rnn\` or \`attend train char-gpt\``);
  }
  let tokenizer: CharTokenizer;
  try {
    tokenizer = CharTokenizer.fromJSON(checkpoint.tokenizer);
  } catch (err) {
    throw new DataError(`checkpoint ${dir} is corrupt: tokenizer.json: ${(err as Error).message}`);
  }
  if (tokenizer.vocabSize !== modelConfig.vocabSize) {
    throw new DataError(
      `checkpoint ${dir} is inconsistent: its tokenizer has ${tokenizer.vocabSize} tokens but its model expects ${modelConfig.vocabSize}`,
    );
  }
  let built: RNNLanguageModel | GPT;
  try {
    built = kind === 'char-gpt' ? new GPT(modelConfig) : new RNNLanguageModel(modelConfig);
  } catch (err) {
    if (err instanceof AttendError) throw new DataError(`checkpoint ${dir} is corrupt: its ${kind} model config is invalid: ${err.message}`);
    throw err;
  }
  const model = loadWeightsInto(built, checkpoint, dir);
  return { kind, model, tokenizer, checkpoint };
}

/**
 * Copies a checkpoint's weights into a freshly built `model` (by name, every shape checked) and
 * returns it; a mismatch disposes the model and is a DataError naming the checkpoint.
 */
export function loadWeightsInto<M extends { setWeights(r: Record<string, tf.Tensor>): void; dispose(): void }>(
  model: M,
  checkpoint: LoadedCheckpoint,
  dir: string,
): M {
  const weights = tf.tidy(() =>
    Object.fromEntries(checkpoint.state.weights.map((w) => [w.name, tf.tensor(w.data, w.shape, 'float32')])),
  );
  try {
    model.setWeights(weights);
  } catch (err) {
    model.dispose();
    if (err instanceof AttendError) throw new DataError(`checkpoint ${dir} does not match its own model config: ${err.message}`);
    throw err;
  } finally {
    tf.dispose(weights);
  }
  return model;
}
