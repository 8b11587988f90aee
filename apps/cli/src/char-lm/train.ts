// Training any character language model from the command line (`attend train char-rnn`, `attend
// train char-gpt`): load a corpus (streamed into a typed array), build the model, train it with Adam
// + warm-up/cosine + global-norm clipping, print progress, samples at the course's iterations and
// validation loss, and write an atomic checkpoint that `--resume` continues exactly. Follows
// Karpathy's char-rnn (2015) and nanoGPT's train.py. What differs per model family (flags, model,
// optimizer settings) comes in a `CharFamily`.
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { DataError } from '@attend/core';
import { LMBatcher, checkCorpusLength, sequentialBatches, splitIds, type LMBatch, type LMBatcherState } from '@attend/datasets';
import { DEFAULT_CORPUS_NAME, defaultCorpusPath, loadCorpus, type Corpus } from '@attend/datasets/node';
import type { SamplingOptions } from '@attend/recurrent';
import { CharTokenizer } from '@attend/tokenizers';
import { bitsPerChar, createProgressReporter, perplexity, train, type OptimizerConfig, type Schedule, type ScheduleConfig, type TrainState } from '@attend/training';
import { assertCompatible, checkpointTo, interruptSignal, loadCheckpoint } from '@attend/training/node';
import { parse, UsageError, type Options, type Values } from '../args.js';
import { useBackend } from '../lib/backend.js';
import { withConfigFile } from '../lib/config-file.js';
import { withPreset, type CommonTrainSettings } from '../char-rnn/flags.js';

/** What the trainer, `attend sample` and `attend eval` need from a character model. */
export interface CharLM {
  readonly config: object;
  loss(inputs: tf.Tensor2D, targets: tf.Tensor2D, options?: { training?: boolean }): tf.Scalar;
  variables(): Record<string, tf.Variable>;
  sample(options: SamplingOptions & { prime: number[]; length: number; seed?: number }): number[];
  paramCount(): number;
  dispose(): void;
}

/** One model family's part of training: its flags, settings, model and optimizer. */
export interface CharFamily<S extends CommonTrainSettings & { model: object }> {
  /** The checkpoint's `model.kind`, also the `attend train` sub-command. */
  kind: 'char-rnn' | 'char-gpt';
  flags: Options;
  help: string;
  presets: Record<string, Values>;
  settings(values: Values): S;
  /** Flags that fix the model: given with --resume they must match the checkpoint's. */
  modelFlags: Record<string, keyof S['model']>;
  build(model: S['model'], vocabSize: number): CharLM;
  /** One line: the model, its size, the batch and the backend. */
  describe(model: CharLM, s: S, backend: string): string;
  optimizer(s: S): Partial<OptimizerConfig>;
}

interface TensorBatch {
  inputs: tf.Tensor2D;
  targets: tf.Tensor2D;
}

const toTensors = (b: LMBatch): TensorBatch => ({
  inputs: tf.tensor2d(b.inputs, [b.batchSize, b.seqLen], 'int32'),
  targets: tf.tensor2d(b.targets, [b.batchSize, b.seqLen], 'int32'),
});

/** Mean validation loss (nats/char) over up to `maxBatches` consecutive windows of the split. */
export function evaluateLoss(model: Pick<CharLM, 'loss'>, ids: Uint16Array | Uint32Array, s: { seqLen: number; batch: number }, maxBatches: number): number {
  let sum = 0;
  let n = 0;
  for (const b of sequentialBatches(ids, { seqLen: s.seqLen, batchSize: s.batch, maxBatches })) {
    const t = toTensors(b);
    const loss = model.loss(t.inputs, t.targets);
    sum += loss.dataSync()[0]! * b.batchSize;
    n += b.batchSize;
    tf.dispose([t.inputs, t.targets, loss]);
  }
  if (n === 0) throw new DataError('the validation split is shorter than one window; use a smaller --seq-len or more text');
  return sum / n;
}

export async function trainCharLM<S extends CommonTrainSettings & { model: object }>(family: CharFamily<S>, argv: string[]): Promise<number> {
  const parsed = parse(argv, family.flags, family.help);
  if (parsed.values.help) {
    console.log(family.help);
    return 0;
  }
  const values = withPreset(withConfigFile(parsed.values, family.flags, parsed.values.config), family.presets);
  let s: S = family.settings(values);
  const out = resolve(s.out);

  // Never overwrite an existing run by accident; --resume continues it instead.
  const hasCheckpoint = existsSync(join(out, 'state.json'));
  let resumeFrom: Awaited<ReturnType<typeof loadCheckpoint>> | undefined;
  if (values.resume) {
    resumeFrom = await loadCheckpoint(out);
    const savedKind = (resumeFrom.config.model as { kind?: string }).kind;
    if (savedKind !== family.kind) {
      throw new DataError(`${out} holds a "${String(savedKind)}" model; \`attend train ${family.kind} --resume\` continues ${family.kind} models only`);
    }
    const saved = resumeFrom.config.training as unknown as S & { corpus: string[] };
    // Model and data flags given now must match the checkpoint's; steps/time/eval/sample flags may change.
    const given = Object.fromEntries(
      Object.entries(family.modelFlags).filter(([flag]) => values[flag] !== undefined).map(([, key]) => [key, (s.model as Record<string, unknown>)[key as string]]),
    );
    assertCompatible({ config: resumeFrom.config, dir: out }, given);
    s = {
      ...saved,
      model: saved.model,
      // Steps and time: the ones given now, else the checkpoint's (a timed run gets its budget again).
      steps: values.steps !== undefined || values.time !== undefined ? s.steps : saved.steps,
      timeSeconds: values.steps !== undefined || values.time !== undefined ? s.timeSeconds : saved.timeSeconds,
      sampleAt: values['sample-at'] !== undefined ? s.sampleAt : saved.sampleAt,
      out: s.out,
    };
  } else if (hasCheckpoint || (existsSync(out) && !isEmptyDir(out))) {
    throw new UsageError(
      `${out} already holds ${hasCheckpoint ? 'a checkpoint' : 'files'}; pass --resume to continue it, or choose another --out (nothing was overwritten)`,
    );
  }

  const backend = await useBackend(values.backend);

  // Data: the same corpus, encoded with the checkpoint's tokenizer on resume.
  const corpusPaths = (values.corpus as string[] | undefined) ?? (resumeFrom ? ((resumeFrom.config.training as { corpus?: string[] }).corpus ?? []) : []);
  const usingDefault = corpusPaths.length === 0;
  const paths = usingDefault ? [defaultCorpusPath()] : corpusPaths;
  const tokenizer = resumeFrom ? CharTokenizer.fromJSON(resumeFrom.tokenizer) : undefined;
  const corpus: Corpus = await loadCorpus({
    paths,
    include: values.include as string[] | undefined,
    allowBinary: Boolean(values['allow-binary']),
    tokenizer,
  });
  console.log(
    `corpus: ${usingDefault ? DEFAULT_CORPUS_NAME : corpus.files.length === 1 ? corpus.files[0] : `${corpus.files.length} files`}; ` +
      `${corpus.chars.toLocaleString('en-US')} characters, vocabulary ${corpus.tokenizer.vocabSize - 4} + 4 specials`,
  );
  const { train: trainIds, val: valIds } = splitIds(corpus.ids, 0.9);
  checkCorpusLength({ ids: trainIds } as Corpus, s.seqLen);
  checkCorpusLength({ ids: valIds } as Corpus, s.seqLen);

  const model = family.build(s.model, corpus.tokenizer.vocabSize);
  const batcher = new LMBatcher(trainIds, { seqLen: s.seqLen, batchSize: s.batch, seed: s.seed });
  console.log(family.describe(model, s, backend.name));

  const specials = Object.values(corpus.tokenizer.specials); // never in the text, never sampled
  const prime = corpus.tokenizer.has('\n') ? corpus.tokenizer.encode('\n') : [trainIds[0]!];
  const showSample = (step: number) => {
    const ids = model.sample({ prime, length: s.sampleLength, temperature: s.temperature, seed: s.seed + step, exclude: specials });
    return `--- sample at step ${step} (temperature ${s.temperature}) ---\n${corpus.tokenizer.decode(ids)}\n---`;
  };

  // With --steps: warm-up then cosine over the steps (a pure function of the step: resumes exactly).
  // With --time alone: the same shape over the time budget, so a timed run still ends annealed.
  const schedule: ScheduleConfig | Schedule =
    s.steps !== undefined
      ? { type: 'warmupCosine', lr: s.lr, warmupSteps: Math.min(s.warmup, Math.floor(s.steps / 10)), totalSteps: s.steps, minLr: s.minLr }
      : timeCosine(s.lr, s.minLr, s.warmup, s.timeSeconds!);
  const trainingConfig = { ...s, corpus: usingDefault ? [] : corpusPaths.map((p) => resolve(p)), backend: backend.name };
  const progress = createProgressReporter({ stream: process.stderr, tokensPerStep: s.batch * s.seqLen });
  const signal = interruptSignal({ log: (l) => progress.log(l) });
  try {
    const result = await train<TensorBatch>({
      model: {
        variables: () => model.variables(),
        loss: (b, o) => model.loss(b.inputs, b.targets, o),
      },
      nextBatch: () => toTensors(batcher.next()),
      steps: s.steps,
      timeLimitSeconds: s.timeSeconds,
      optimizer: { type: 'adam', lr: s.lr, ...family.optimizer(s) },
      schedule,
      clipNorm: s.clip,
      evalEvery: s.evalEvery,
      evaluate: () => evaluateLoss(model, valIds, s, s.evalBatches),
      sampleAt: s.sampleAt,
      onSample: (step) => progress.log(showSample(step)),
      onStep: (info) => progress.update(info),
      checkpoint: checkpointTo(out, {
        config: { model: { kind: family.kind, ...model.config }, training: trainingConfig as unknown as Record<string, unknown> },
        tokenizer: corpus.tokenizer.toJSON(),
        every: s.evalEvery,
      }),
      startState: resumeFrom?.state as TrainState | undefined,
      getDataState: () => batcher.state(),
      setDataState: (st) => batcher.setState(st as LMBatcherState),
      signal,
    });
    progress.done();
    const val = result.valLoss;
    console.log(
      `\n${result.stopped === 'interrupted' ? 'interrupted' : 'done'} at step ${result.step}: train loss ${result.loss.toFixed(4)}` +
        (val !== undefined ? `, validation ${val.toFixed(4)} nats/char = ${bitsPerChar(val).toFixed(3)} bits/char (perplexity ${perplexity(val).toFixed(2)})` : ''),
    );
    console.log(`checkpoint: ${out}\nsample more with: attend sample --model ${s.out}`);
    return result.stopped === 'interrupted' ? 130 : 0;
  } finally {
    signal.dispose();
    model.dispose();
  }
}

/** Linear warm-up over `warmup` steps, then cosine from `lr` to `minLr` over the wall-clock budget. */
export function timeCosine(lr: number, minLr: number, warmup: number, seconds: number, now = () => performance.now() / 1000): Schedule {
  const start = now();
  return (step) => {
    if (step < warmup) return (lr * (step + 1)) / (warmup + 1);
    const progress = Math.min(1, (now() - start) / seconds);
    return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * progress));
  };
}

function isEmptyDir(dir: string): boolean {
  try {
    return readdirSync(dir).length === 0;
  } catch {
    return false;
  }
}
