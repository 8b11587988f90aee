// The training loop, nanoGPT's train.py reduced to its core: each step takes the learning rate from a
// schedule, computes loss and gradients (tf.variableGrads), stops on a non-finite loss BEFORE updating,
// clips by global norm, updates; every `evalEvery` steps it evaluates, at the `sampleAt` steps it lets
// the caller sample, every `checkpoint.every` steps it hands a TrainState to the caller to save.
// A TrainState holds everything a resumed run needs to continue bit-for-bit: weights, optimizer state,
// the data batcher's RNG state, the step (the schedule is a pure function of it) and the metrics.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, DataError, assertInt, assertNumber } from '@attend/core';
import { clipByGlobalNorm, globalNormTensor } from './clip.js';
import { TrainingDivergedError, type LastCheckpoint } from './errors.js';
import { Ema, type EmaState } from './metrics.js';
import { TrainingOptimizer, type OptimizerConfig, type OptimizerState } from './optimizer.js';
import { createSchedule, type Schedule, type ScheduleConfig } from './schedule.js';
import { exportVariables, importVariables, type StoredTensor } from './weights.js';

/** What `train()` needs from a model. `Batch` is whatever the caller's batcher yields. */
export interface TrainableModel<Batch> {
  /** Every variable by a stable name (the names checkpoints use); non-trainable ones are saved, not updated. */
  variables(): Record<string, tf.Variable>;
  /** The mean loss (nats) on `batch`, as a scalar. */
  loss(batch: Batch, opts: { training: boolean }): tf.Scalar;
}

/** One point of the metrics history (recorded every `evalEvery` steps and at the end). */
export interface HistoryPoint {
  step: number;
  /** Training loss, smoothed (EMA), in nats. */
  loss: number;
  /** Validation loss in nats, when `evaluate` was given. */
  valLoss?: number;
  lr: number;
  elapsedSeconds: number;
}

export interface MetricsState {
  lossEma: EmaState;
  history: HistoryPoint[];
}

/** Everything needed to resume exactly. Plain data (typed arrays for tensors); checkpoints store it. */
export interface TrainState {
  /** Updates completed. */
  step: number;
  /** Model variables by their `variables()` names. */
  weights: StoredTensor[];
  optimizer: OptimizerState;
  /** The batcher's state (its RNG) from `getDataState`, after the batch of the last completed step. */
  dataState?: unknown;
  /** The schedule's config (absent when it was given as a function) and the learning rate of the last step. */
  schedule: { config?: ScheduleConfig; lr: number };
  metrics: MetricsState;
  /** Training time over all sessions. */
  elapsedSeconds: number;
}

/** What `onStep` gets after every update. */
export interface StepInfo {
  /** Updates completed (1 after the first). */
  step: number;
  totalSteps?: number;
  /** This step's training loss (nats). */
  loss: number;
  /** Smoothed training loss (nats). */
  lossEma: number;
  /** Validation loss, on the steps where `evaluate` ran. */
  valLoss?: number;
  /** The learning rate this step used. */
  lr: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  clipped: boolean;
  /** Seconds in this session / over all sessions. */
  sessionSeconds: number;
  elapsedSeconds: number;
  /** Steps per second, averaged over this session. */
  stepsPerSecond: number;
  timeLimitSeconds?: number;
}

export interface CheckpointHook {
  /** Persists a state (e.g. `(s) => saveCheckpoint(dir, { config, tokenizer, state: s })`). */
  save: (state: TrainState) => Promise<void> | void;
  /** Save every this many steps (0: only at the end and on interrupt). */
  every: number;
  /** Where it saves, for messages (e.g. the directory). */
  location?: string;
}

export interface TrainOptions<Batch> {
  model: TrainableModel<Batch>;
  /**
   * The next training batch. It runs inside the step's tf.tidy: tensors it creates are disposed after the
   * step, tensors made before (a cached batch) are left alone; `tf.keep` any it creates to cache.
   */
  nextBatch: () => Batch;
  /** Stop when this many updates are done in total (counting resumed ones). */
  steps?: number;
  /** Stop after this many seconds of this session. */
  timeLimitSeconds?: number;
  optimizer?: Partial<OptimizerConfig>;
  /** Default: constant at `optimizer.lr`. */
  schedule?: ScheduleConfig | Schedule;
  /** Clip gradients to this global norm; 0 turns clipping off. Default 1. */
  clipNorm?: number;
  /** Evaluate (and record history) every this many steps. Default 250. */
  evalEvery?: number;
  /** Validation loss in nats (run with `training: false` by the caller). */
  evaluate?: () => number | Promise<number>;
  /** Steps after which to call `onSample` (and once at the end). Default DEFAULT_SAMPLE_AT. */
  sampleAt?: readonly number[];
  /** Must not draw from the training batcher's RNG (it would change the run). */
  onSample?: (step: number) => void | Promise<void>;
  onStep?: (info: StepInfo) => void;
  checkpoint?: CheckpointHook;
  /** Resume from this state (weights, optimizer, data RNG, step, metrics). */
  startState?: TrainState;
  getDataState?: () => unknown;
  setDataState?: (state: unknown) => void;
  /** Aborting stops after the current step, saves a checkpoint and returns `stopped: 'interrupted'`. */
  signal?: AbortSignal;
}

export type StopReason = 'steps' | 'time' | 'interrupted';

export interface TrainResult {
  stopped: StopReason;
  /** Updates completed in total. */
  step: number;
  /** The last step's training loss (NaN if no step ran). */
  loss: number;
  /** The last validation loss, if any. */
  valLoss?: number;
  /** The final state (also what was saved last, when checkpointing). */
  state: TrainState;
}

/** The course's progression of samples: watch the model go from noise to words. */
export const DEFAULT_SAMPLE_AT: readonly number[] = [100, 300, 500, 700, 1200, 2000];
export const DEFAULT_CLIP_NORM = 1;
export const DEFAULT_EVAL_EVERY = 250;
const LOSS_EMA_BETA = 0.9;

const KNOWN_OPTIONS = [
  'model', 'nextBatch', 'steps', 'timeLimitSeconds', 'optimizer', 'schedule', 'clipNorm', 'evalEvery', 'evaluate',
  'sampleAt', 'onSample', 'onStep', 'checkpoint', 'startState', 'getDataState', 'setDataState', 'signal',
];

const now = (): number => performance.now() / 1000;

/** Lets timers, I/O and signal handlers (Ctrl-C) run between steps; tfjs reads on cpu resolve as microtasks. */
const yieldToEventLoop = (): Promise<void> =>
  new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));

/** Trains `model` until `steps`, the time limit, or an abort; throws `TrainingDivergedError` on NaN/Inf. */
export async function train<Batch>(options: TrainOptions<Batch>): Promise<TrainResult> {
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.includes(key)) throw new ConfigError(`train: unknown option "${key}"; known options are ${KNOWN_OPTIONS.join(', ')}`);
  }
  const { model, nextBatch, steps, timeLimitSeconds, evaluate, onSample, onStep, checkpoint, startState, signal } = options;
  const { getDataState, setDataState } = options;
  const clipNorm = options.clipNorm ?? DEFAULT_CLIP_NORM;
  const evalEvery = options.evalEvery ?? DEFAULT_EVAL_EVERY;
  const sampleAt = new Set(options.sampleAt ?? DEFAULT_SAMPLE_AT);
  if (typeof model?.variables !== 'function' || typeof model.loss !== 'function') {
    throw new ConfigError('train: model must have variables() and loss(batch, { training })');
  }
  if (typeof nextBatch !== 'function') throw new ConfigError('train: nextBatch must be a function returning a batch');
  if (steps === undefined && timeLimitSeconds === undefined) throw new ConfigError('train: give steps, timeLimitSeconds or both');
  if (steps !== undefined) assertInt('train steps', steps, 0);
  if (timeLimitSeconds !== undefined) assertNumber('train timeLimitSeconds', timeLimitSeconds, 0);
  assertNumber('train clipNorm', clipNorm, 0);
  assertInt('train evalEvery', evalEvery, 0);
  if (checkpoint) assertInt('train checkpoint.every', checkpoint.every, 0);

  const variables = model.variables();
  const varList = Object.values(variables).filter((v) => v.trainable);
  const ourName = new Map(Object.entries(variables).map(([n, v]) => [v.name, n])); // tfjs name → ours
  const optimizer = new TrainingOptimizer(variables, options.optimizer);
  const scheduleConfig: ScheduleConfig | undefined =
    typeof options.schedule === 'function' ? undefined : (options.schedule ?? { type: 'constant', lr: optimizer.config.lr });
  const schedule: Schedule = typeof options.schedule === 'function' ? options.schedule : createSchedule(scheduleConfig!);

  try {
    let step = 0;
    let ema = new Ema(LOSS_EMA_BETA);
    let history: HistoryPoint[] = [];
    let elapsedBefore = 0;
    let lr = schedule(0);
    let lastSaved: LastCheckpoint | undefined;
    if (startState) {
      importVariables(variables, startState.weights, 'checkpoint weights');
      await optimizer.importState(startState.optimizer, 'checkpoint optimizer state');
      if (startState.dataState !== undefined) {
        if (!setDataState) throw new ConfigError('train: startState has a data (RNG) state but no setDataState was given to restore it');
        setDataState(startState.dataState);
      }
      step = startState.step;
      if (optimizer.iterations !== step) {
        throw new DataError(`checkpoint is inconsistent: step ${step}, but its optimizer made ${optimizer.iterations} updates`);
      }
      ema = new Ema(startState.metrics.lossEma);
      history = [...startState.metrics.history];
      elapsedBefore = startState.elapsedSeconds;
      lr = startState.schedule.lr;
      lastSaved = { step, location: checkpoint?.location };
    }

    const t0 = now();
    const sessionSeconds = (): number => now() - t0;
    let sessionSteps = 0;
    let lastLoss = NaN;
    let lastVal: number | undefined;
    let lastEval = -1;
    let lastSampled = -1;

    const snapshot = async (): Promise<TrainState> => ({
      step,
      weights: await exportVariables(variables),
      optimizer: await optimizer.exportState(),
      ...(getDataState ? { dataState: getDataState() } : {}),
      schedule: { ...(scheduleConfig ? { config: scheduleConfig } : {}), lr },
      metrics: { lossEma: ema.state(), history: [...history] },
      elapsedSeconds: elapsedBefore + sessionSeconds(),
    });
    const save = async (state?: TrainState): Promise<void> => {
      if (!checkpoint || lastSaved?.step === step) return;
      await checkpoint.save(state ?? (await snapshot()));
      lastSaved = { step, location: checkpoint.location };
    };
    const runEval = async (): Promise<number> => {
      const v = await evaluate!();
      lastEval = step;
      lastVal = v;
      return v;
    };

    let stopped: StopReason;
    for (;;) {
      if (steps !== undefined && step >= steps) { stopped = 'steps'; break; }
      if (timeLimitSeconds !== undefined && sessionSeconds() >= timeLimitSeconds) { stopped = 'time'; break; }
      if (signal?.aborted) { stopped = 'interrupted'; break; }

      const stepLr = schedule(step);
      const { value, grads, norm } = tf.tidy(() => {
        const batch = nextBatch();
        const g = tf.variableGrads(() => model.loss(batch, { training: true }), varList);
        const named: Record<string, tf.Tensor> = {};
        for (const [tfName, t] of Object.entries(g.grads)) if (t) named[ourName.get(tfName)!] = t;
        return { value: g.value, grads: named, norm: globalNormTensor(named) };
      });
      const [lossData, normData] = await Promise.all([value.data(), norm.data()]);
      tf.dispose([value, norm]);
      const loss = lossData[0]!;
      const gradNorm = normData[0]!;
      if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
        tf.dispose(grads);
        const bad = Number.isFinite(loss) ? (['gradient norm', gradNorm] as const) : (['loss', loss] as const);
        throw new TrainingDivergedError(step + 1, bad[0], bad[1], lastSaved);
      }
      const clipped = clipByGlobalNorm(grads, clipNorm, gradNorm);
      tf.dispose(grads);
      optimizer.step(clipped.grads, stepLr);
      tf.dispose(clipped.grads);

      step += 1;
      sessionSteps += 1;
      lr = stepLr;
      lastLoss = loss;
      ema.add(loss);
      let valLoss: number | undefined;
      if (evalEvery > 0 && step % evalEvery === 0) {
        if (evaluate) valLoss = await runEval();
        history.push({ step, loss: ema.value, ...(valLoss !== undefined ? { valLoss } : {}), lr, elapsedSeconds: elapsedBefore + sessionSeconds() });
      }
      const secs = sessionSeconds();
      onStep?.({
        step,
        ...(steps !== undefined ? { totalSteps: steps } : {}),
        loss,
        lossEma: ema.value,
        ...(valLoss !== undefined ? { valLoss } : {}),
        lr,
        gradNorm,
        clipped: clipNorm > 0 && gradNorm > clipNorm,
        sessionSeconds: secs,
        elapsedSeconds: elapsedBefore + secs,
        stepsPerSecond: secs > 0 ? sessionSteps / secs : 0,
        ...(timeLimitSeconds !== undefined ? { timeLimitSeconds } : {}),
      });
      if (onSample && sampleAt.has(step)) {
        await onSample(step);
        lastSampled = step;
      }
      if (checkpoint && checkpoint.every > 0 && step % checkpoint.every === 0) await save();
      await yieldToEventLoop();
    }

    if (stopped !== 'interrupted' && sessionSteps > 0) {
      if (evaluate && lastEval !== step) {
        const valLoss = await runEval();
        history.push({ step, loss: ema.value, valLoss, lr, elapsedSeconds: elapsedBefore + sessionSeconds() });
      }
      if (onSample && lastSampled !== step) await onSample(step);
    }
    const state = await snapshot();
    await save(state);
    return { stopped, step, loss: lastLoss, ...(lastVal !== undefined ? { valLoss: lastVal } : {}), state };
  } finally {
    optimizer.dispose();
  }
}
