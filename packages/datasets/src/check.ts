// Is a corpus long enough to train on? One window of a language-model batch is seqLen + 1 ids
// (seqLen inputs, the targets shifted by one); each split must hold at least one.
import { DataError, assertInt } from '@attend/core/base';
import { checkTrainFraction, trainLength } from './split.js';

/** The smallest corpus length whose train and validation splits both hold one window of `seqLen + 1` ids. */
export function minCorpusLength(seqLen: number, trainFraction = 0.9): number {
  assertInt('seqLen', seqLen, 1);
  checkTrainFraction(trainFraction);
  const need = seqLen + 1;
  const fits = (n: number) => {
    const nTrain = trainLength(n, trainFraction);
    return nTrain >= need && (trainFraction === 1 || n - nTrain >= need);
  };
  const smaller = trainFraction === 1 ? 1 : Math.min(trainFraction, 1 - trainFraction);
  // A lower bound: the validation split holds more than n * (1 - f) - 1 ids, the training one at most n * f.
  let n = Math.max(need, Math.floor((need - 1) / smaller) - 2);
  while (!fits(n)) n++;
  return n;
}

/**
 * Throws a `DataError` when a split of `corpus` (train, or validation unless `trainFraction` is 1)
 * is shorter than one window of `seqLen + 1` ids: "corpus has N characters; need at least M for --seq-len K".
 */
export function checkCorpusLength(corpus: { ids: { length: number } }, seqLen: number, trainFraction = 0.9): void {
  const min = minCorpusLength(seqLen, trainFraction);
  const n = corpus.ids.length;
  if (n >= min) return;
  const nTrain = trainLength(n, trainFraction);
  const [split, len] = nTrain < seqLen + 1 ? ['training', nTrain] : ['validation', n - nTrain];
  throw new DataError(
    `corpus has ${n} characters; need at least ${min} for --seq-len ${seqLen} ` +
      `(the ${split} split has ${len}, one window needs ${seqLen + 1}); use a smaller --seq-len or more text`,
  );
}
