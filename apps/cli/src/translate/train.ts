// `attend train translate`: an attention-based encoder–decoder (Luong et al. 2015; Bahdanau et al.
// 2015) trained with teacher forcing on the date task or a pairs file, with Adam + warm-up/cosine +
// clipping, progress on stderr, validation loss and greedy sample translations at every evaluation,
// atomic checkpoints (`--resume` continues them) and, at the end, exact match (dates) or corpus BLEU.
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Seq2Seq } from '@attend/attention';
import { createProgressReporter, train, type Schedule, type ScheduleConfig, type TrainState } from '@attend/training';
import { assertCompatible, checkpointTo, interruptSignal, loadCheckpoint } from '@attend/training/node';
import { parse, UsageError } from '../args.js';
import { useBackend } from '../lib/backend.js';
import { withConfigFile } from '../lib/config-file.js';
import { timeCosine } from '../char-rnn/train.js';
import { PairBatcher, toTensors, type PairBatcherState, type TensorBatch } from './batches.js';
import { detokenize, loadTranslateData } from './data.js';
import { TRANSLATE_FLAGS, TRANSLATE_HELP, translateSettings, type TranslateSettings } from './flags.js';
import { TRANSLATE_KIND, exactMatch, formatBleu, greedyTranslate, pairsBleu, readTokenizers, validationLoss } from './model.js';

/** Validation pairs (at most) whose loss is computed at every evaluation. */
const EVAL_LOSS_PAIRS = 1000;
/** Sample translations printed at every evaluation. */
const SHOWN = 3;

const MODEL_FLAGS = ['attention', 'cell', 'embed', 'hidden', 'layers', 'dropout'] as const;

export async function trainTranslate(argv: string[]): Promise<number> {
  const parsed = parse(argv, TRANSLATE_FLAGS, TRANSLATE_HELP);
  if (parsed.values.help) {
    console.log(TRANSLATE_HELP);
    return 0;
  }
  const values = withConfigFile(parsed.values, TRANSLATE_FLAGS, parsed.values.config);
  let s: TranslateSettings = translateSettings(values);
  const out = resolve(s.out);

  let resumeFrom: Awaited<ReturnType<typeof loadCheckpoint>> | undefined;
  if (values.resume) {
    resumeFrom = await loadCheckpoint(out);
    const kind = (resumeFrom.config.model as { kind?: string }).kind;
    if (kind !== TRANSLATE_KIND) throw new UsageError(`${out} holds a "${String(kind)}" checkpoint, not a translation model; choose another --out`);
    const saved = resumeFrom.config.training as unknown as TranslateSettings;
    // Model flags given now must match the checkpoint's; data flags are the checkpoint's.
    const given = Object.fromEntries(MODEL_FLAGS.filter((k) => values[k] !== undefined).map((k) => [k, s.model[k]]));
    assertCompatible({ config: resumeFrom.config, dir: out }, given);
    s = {
      ...saved,
      steps: values.steps !== undefined || values.time !== undefined ? s.steps : saved.steps,
      timeSeconds: s.timeSeconds,
      evalSentences: s.evalSentences,
      out: s.out,
    };
  } else if (existsSync(join(out, 'state.json')) || (existsSync(out) && !isEmptyDir(out))) {
    throw new UsageError(`${out} already holds ${existsSync(join(out, 'state.json')) ? 'a checkpoint' : 'files'}; pass --resume to continue it, or choose another --out (nothing was overwritten)`);
  }

  const backend = await useBackend(values.backend);
  const data = await loadTranslateData(s, resumeFrom ? readTokenizers(resumeFrom.tokenizer, out) : undefined);
  console.log(`data: ${data.description}`);
  console.log(`vocabulary: source ${data.src.vocabSize - 4} + 4 specials, target ${data.tgt.vocabSize - 4} + 4 specials (${s.tokens} tokens, from the training pairs)`);

  const model = new Seq2Seq({ ...s.model, srcVocab: data.src.vocabSize, tgtVocab: data.tgt.vocabSize });
  const batcher = new PairBatcher(data.trainExamples, { batchSize: s.batch, seed: s.seed });
  const c = model.config;
  console.log(
    `model: ${c.layers}-layer bidirectional ${c.cell.toUpperCase()} encoder–decoder, attention ${c.attention}, hidden ${c.hidden}, embedding ${c.embed}: ` +
      `${model.paramCount().toLocaleString('en-US')} parameters; batch ${s.batch}; backend ${backend.name}`,
  );

  const valLossExamples = data.valExamples.slice(0, EVAL_LOSS_PAIRS);
  const progress = createProgressReporter({ stream: process.stderr, tokensPerStep: s.batch, unit: 'pairs' }); // sentence pairs/s
  const showTranslations = () => {
    const some = data.val.slice(0, SHOWN);
    const hyps = greedyTranslate(model, some.map((p) => data.src.encode(p.source)));
    return some.map((p, i) => `  ${p.source}  →  ${detokenize(data.tgt, hyps[i]!.ids)}   (reference: ${p.target})`).join('\n');
  };

  const schedule: ScheduleConfig | Schedule =
    s.steps !== undefined
      ? { type: 'warmupCosine', lr: s.lr, warmupSteps: Math.min(s.warmup, Math.floor(s.steps / 10)), totalSteps: s.steps, minLr: s.lr / 10 }
      : timeCosine(s.lr, s.lr / 10, s.warmup, s.timeSeconds!);
  const trainingConfig = { ...s, pairs: s.pairs === undefined ? undefined : resolve(s.pairs), backend: backend.name };
  const signal = interruptSignal({ log: (l) => progress.log(l) });
  try {
    const result = await train<TensorBatch>({
      model: {
        variables: () => model.variables(),
        loss: (b, o) => model.loss(b.src, b.srcLengths, b.tgtIn, b.tgtOut, b.tgtMask, o),
      },
      nextBatch: () => {
        const b = toTensors(batcher.next());
        return b;
      },
      steps: s.steps,
      timeLimitSeconds: s.timeSeconds,
      optimizer: { type: 'adam', lr: s.lr },
      schedule,
      clipNorm: s.clip,
      evalEvery: s.evalEvery,
      evaluate: () => {
        const loss = validationLoss(model, valLossExamples, s.batch);
        progress.log(`validation loss ${loss.toFixed(4)} nats/token; greedy translations:\n${showTranslations()}`);
        return loss;
      },
      onStep: (info) => progress.update(info),
      checkpoint: checkpointTo(out, {
        config: { model: { kind: TRANSLATE_KIND, ...model.config }, training: trainingConfig as unknown as Record<string, unknown> },
        tokenizer: { src: data.src.toJSON(), tgt: data.tgt.toJSON() },
        every: s.evalEvery,
      }),
      startState: resumeFrom?.state as TrainState | undefined,
      getDataState: () => batcher.state(),
      setDataState: (st) => batcher.setState(st as PairBatcherState),
      signal,
    });
    progress.done();
    const val = result.valLoss;
    console.log(
      `\n${result.stopped === 'interrupted' ? 'interrupted' : 'done'} at step ${result.step}: train loss ${result.loss.toFixed(4)}` +
        (val !== undefined ? `, validation ${val.toFixed(4)} nats/token` : ''),
    );
    if (result.stopped !== 'interrupted') {
      if (data.dates) {
        const { accuracy, n } = exactMatch(model, data.src, data.tgt, data.val, s.evalSentences);
        console.log(`exact match: ${(100 * accuracy).toFixed(1)}% of ${n} validation dates (greedy)`);
      } else {
        const { bleu, n } = pairsBleu((srcs) => greedyTranslate(model, srcs).map((h) => h.ids), data.src, data.tgt, data.val, s.evalSentences);
        console.log(`validation ${formatBleu(bleu)} on ${n} sentences (greedy)`);
      }
    }
    console.log(`checkpoint: ${out}\ntranslate with: attend translate --model ${s.out} "…"`);
    return result.stopped === 'interrupted' ? 130 : 0;
  } finally {
    signal.dispose();
    model.dispose();
  }
}

function isEmptyDir(dir: string): boolean {
  try {
    return readdirSync(dir).length === 0;
  } catch {
    return false;
  }
}

