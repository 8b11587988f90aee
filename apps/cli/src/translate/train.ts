// `attend train translate`: an attention-based encoder–decoder (Luong et al. 2015; Bahdanau et al.
// 2015) or, with --arch transformer, the Transformer (Vaswani et al. 2017), trained with teacher
// forcing on the date task or a pairs file, with Adam + warm-up/cosine + clipping (the Transformer:
// the paper's warm-up schedule, §5.3, Adam β2 = 0.98, label smoothing, §5.4), progress in sentence
// pairs/s on stderr, validation loss and greedy sample translations at every evaluation, atomic
// checkpoints (`--resume` continues them, the architecture read from the checkpoint) and, at the
// end, exact match (dates) or corpus BLEU.
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createProgressReporter, train, type OptimizerConfig, type Schedule, type ScheduleConfig, type TrainState } from '@attend/training';
import { assertCompatible, checkpointTo, interruptSignal, loadCheckpoint } from '@attend/training/node';
import { parse, UsageError } from '../args.js';
import { useBackend } from '../lib/backend.js';
import { withConfigFile } from '../lib/config-file.js';
import { timeCosine } from '../char-lm/train.js';
import { PairBatcher, toTensors, type PairBatcherState, type TensorBatch } from './batches.js';
import { detokenize, loadTranslateData } from './data.js';
import { DEFAULT_TRANSLATE_OUT, TRANSLATE_FLAGS, TRANSLATE_HELP, normalizeSettings, translateSettings, type Arch, type ModelSettings, type TranslateSettings } from './flags.js';
import {
  TRANSLATE_KIND,
  batchLoss,
  buildTranslationModel,
  checkpointModelConfig,
  exactMatch,
  formatBleu,
  greedyTranslate,
  pairsBleu,
  readTokenizers,
  validationLoss,
  type TranslationModel,
} from './model.js';

/** Validation pairs (at most) whose loss is computed at every evaluation. */
const EVAL_LOSS_PAIRS = 1000;
/** Sample translations printed at every evaluation. */
const SHOWN = 3;

/** The model flags of each architecture, as the checkpoint's model-config keys they set (checked on --resume). */
const MODEL_FLAGS: { [A in Arch]: Record<string, (m: Extract<ModelSettings, { arch: A }>) => Record<string, unknown>> } = {
  rnn: {
    attention: (m) => ({ attention: m.attention }),
    cell: (m) => ({ cell: m.cell }),
    embed: (m) => ({ embed: m.embed }),
    hidden: (m) => ({ hidden: m.hidden }),
    layers: (m) => ({ layers: m.layers }),
    dropout: (m) => ({ dropout: m.dropout }),
  },
  transformer: {
    'd-model': (m) => ({ dModel: m.dModel }),
    heads: (m) => ({ heads: m.heads }),
    layers: (m) => ({ encoderLayers: m.layers, decoderLayers: m.layers }),
    ff: (m) => ({ dFF: m.ff }),
    norm: (m) => ({ norm: m.norm }),
    dropout: (m) => ({ dropout: m.dropout }),
  },
};

export async function trainTranslate(argv: string[]): Promise<number> {
  const parsed = parse(argv, TRANSLATE_FLAGS, TRANSLATE_HELP);
  if (parsed.values.help) {
    console.log(TRANSLATE_HELP);
    return 0;
  }
  const values = withConfigFile(parsed.values, TRANSLATE_FLAGS, parsed.values.config);
  const out = resolve(values.out === undefined ? DEFAULT_TRANSLATE_OUT : String(values.out));

  let resumeFrom: Awaited<ReturnType<typeof loadCheckpoint>> | undefined;
  let s: TranslateSettings;
  if (values.resume) {
    resumeFrom = await loadCheckpoint(out);
    const savedModel = resumeFrom.config.model as { kind?: string; arch?: Arch };
    if (savedModel.kind !== TRANSLATE_KIND) throw new UsageError(`${out} holds a "${String(savedModel.kind)}" checkpoint, not a translation model; choose another --out`);
    // The checkpoint's architecture, unless --arch says otherwise (then the check below refuses it).
    const savedArch = savedModel.arch ?? 'rnn';
    s = translateSettings(values, savedArch);
    const saved = normalizeSettings(resumeFrom.config.training as unknown as TranslateSettings);
    // Model flags given now must match the checkpoint's; data flags are the checkpoint's.
    const flags = MODEL_FLAGS[s.model.arch] as Record<string, (m: ModelSettings) => Record<string, unknown>>;
    const given = Object.assign({}, ...Object.keys(flags).filter((k) => values[k] !== undefined).map((k) => flags[k]!(s.model))) as Record<string, unknown>;
    if (values.arch !== undefined) given.arch = s.model.arch;
    assertCompatible({ config: { ...resumeFrom.config, model: { ...resumeFrom.config.model, arch: savedArch } }, dir: out }, given);
    s = {
      ...saved,
      steps: values.steps !== undefined || values.time !== undefined ? s.steps : saved.steps,
      timeSeconds: s.timeSeconds,
      evalSentences: s.evalSentences,
      out: s.out,
    };
  } else {
    s = translateSettings(values);
    if (existsSync(join(out, 'state.json')) || (existsSync(out) && !isEmptyDir(out))) {
      throw new UsageError(`${out} already holds ${existsSync(join(out, 'state.json')) ? 'a checkpoint' : 'files'}; pass --resume to continue it, or choose another --out (nothing was overwritten)`);
    }
  }

  const backend = await useBackend(values.backend);
  const data = await loadTranslateData(s, resumeFrom ? readTokenizers(resumeFrom.tokenizer, out) : undefined);
  console.log(`data: ${data.description}`);
  console.log(`vocabulary: source ${data.src.vocabSize - 4} + 4 specials, target ${data.tgt.vocabSize - 4} + 4 specials (${s.tokens} tokens, from the training pairs)`);

  const model = buildTranslationModel(s.model, data.src.vocabSize, data.tgt.vocabSize, s.maxLength);
  const batcher = new PairBatcher(data.trainExamples, { batchSize: s.batch, seed: s.seed });
  console.log(`model: ${describeModel(model, s)}: ${model.paramCount().toLocaleString('en-US')} parameters; batch ${s.batch}; backend ${backend.name}`);

  const valLossExamples = data.valExamples.slice(0, EVAL_LOSS_PAIRS);
  const progress = createProgressReporter({ stream: process.stderr, tokensPerStep: s.batch, unit: 'pairs' }); // sentence pairs/s
  const showTranslations = () => {
    const some = data.val.slice(0, SHOWN);
    const hyps = greedyTranslate(model, some.map((p) => data.src.encode(p.source)));
    return some.map((p, i) => `  ${p.source}  →  ${detokenize(data.tgt, hyps[i]!.ids)}   (reference: ${p.target})`).join('\n');
  };

  const { schedule, optimizer } = trainingRule(s);
  const trainingConfig = { ...s, pairs: s.pairs === undefined ? undefined : resolve(s.pairs), backend: backend.name };
  const signal = interruptSignal({ log: (l) => progress.log(l) });
  try {
    const result = await train<TensorBatch>({
      model: {
        variables: () => model.variables(),
        loss: (b, o) => batchLoss(model, b, { training: o.training, labelSmoothing: s.labelSmoothing }),
      },
      nextBatch: () => {
        const b = toTensors(batcher.next());
        return b;
      },
      steps: s.steps,
      timeLimitSeconds: s.timeSeconds,
      optimizer,
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
        config: { model: checkpointModelConfig(model), training: trainingConfig as unknown as Record<string, unknown> },
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

/**
 * The optimizer and learning-rate schedule. rnn: Adam, linear warm-up to --lr then cosine decay to
 * --lr/10 (over --steps, or over --time). Transformer: Adam with β2 = 0.98, ε = 1e-9 and the paper's
 * schedule (§5.3) d^−0.5·min(s^−0.5, s·w^−1.5), scaled so that it peaks at --lr at step w.
 */
function trainingRule(s: TranslateSettings): { schedule: ScheduleConfig | Schedule; optimizer: Partial<OptimizerConfig> } {
  if (s.model.arch === 'transformer') {
    const d = s.model.dModel;
    return {
      schedule: { type: 'noam', dModel: d, warmupSteps: s.warmup, factor: s.lr * Math.sqrt(d * s.warmup) },
      optimizer: { type: 'adam', lr: s.lr, beta1: 0.9, beta2: 0.98, epsilon: 1e-9 },
    };
  }
  const schedule: ScheduleConfig | Schedule =
    s.steps !== undefined
      ? { type: 'warmupCosine', lr: s.lr, warmupSteps: Math.min(s.warmup, Math.floor(s.steps / 10)), totalSteps: s.steps, minLr: s.lr / 10 }
      : timeCosine(s.lr, s.lr / 10, s.warmup, s.timeSeconds!);
  return { schedule, optimizer: { type: 'adam', lr: s.lr } };
}

/** The model line of the log. */
function describeModel(model: TranslationModel, s: TranslateSettings): string {
  const c = model.config;
  if ('dModel' in c) {
    return (
      `Transformer, ${c.encoderLayers}+${c.decoderLayers} ${c.norm}-LN layers, d_model ${c.dModel}, ${c.heads} heads, d_ff ${c.dFF ?? 4 * c.dModel}, dropout ${c.dropout}, ` +
      `${c.positional} positions; label smoothing ${s.labelSmoothing}, warm-up ${s.warmup} steps to lr ${s.lr}`
    );
  }
  return `${c.layers}-layer bidirectional ${c.cell.toUpperCase()} encoder–decoder, attention ${c.attention}, hidden ${c.hidden}, embedding ${c.embed}`;
}

function isEmptyDir(dir: string): boolean {
  try {
    return readdirSync(dir).length === 0;
  } catch {
    return false;
  }
}

