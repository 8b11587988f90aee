// Loading a trained model directory (a checkpoint written by `attend train …`) back into a model
// and its tokenizer, with errors that say what kind of directory was expected.
import * as tf from '@tensorflow/tfjs-core';
import { AttendError, DataError } from '@attend/core';
import { RNNLanguageModel, type RNNLanguageModelConfig } from '@attend/recurrent';
import { CharTokenizer } from '@attend/tokenizers';
import { loadCheckpoint, type LoadedCheckpoint } from '@attend/training/node';

export interface LoadedCharRNN {
  model: RNNLanguageModel;
  tokenizer: CharTokenizer;
  checkpoint: LoadedCheckpoint;
}

/** Rebuilds the model and tokenizer saved in `dir`; you own (and dispose) the model. */
export async function loadCharRNN(dir: string): Promise<LoadedCharRNN> {
  const checkpoint = await loadCheckpoint(dir);
  const { kind, ...modelConfig } = checkpoint.config.model as unknown as { kind?: string } & RNNLanguageModelConfig;
  if (kind !== 'char-rnn') {
    throw new DataError(`${dir} holds a "${String(kind)}" model; this command expects a char-rnn model written by \`attend train char-rnn\``);
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
  const model = loadWeightsInto(new RNNLanguageModel(modelConfig), checkpoint, dir);
  return { model, tokenizer, checkpoint };
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
