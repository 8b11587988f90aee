// Learning-rate schedules: pure functions from the step (0-based: the index of the update about to be
// made) to a learning rate, so a resumed run gets exactly the rates an uninterrupted one would.
//   constant      — the same rate every step.
//   warmupCosine  — nanoGPT's get_lr (karpathy/nanoGPT train.py): linear warmup to `lr`, cosine decay to
//                   `minLr` at `totalSteps`, `minLr` after.
//   noam          — "Attention Is All You Need" §5.3: factor · dModel^-0.5 · min(s^-0.5, s · warmup^-1.5),
//                   s = step + 1; peaks at s = warmupSteps.
import { ConfigError, assertInt, assertNumber, withDefaults } from '@attend/core';

/** A learning-rate schedule: step (0-based) → learning rate. */
export type Schedule = (step: number) => number;

export interface ConstantScheduleConfig {
  type: 'constant';
  lr: number;
}

export interface WarmupCosineArgs {
  /** Peak learning rate, reached at the end of warmup. */
  lr: number;
  /** Steps of linear warmup. */
  warmupSteps: number;
  /** Step at which the cosine reaches `minLr` (nanoGPT's lr_decay_iters). */
  totalSteps: number;
  /** Floor of the decay (nanoGPT suggests lr / 10). */
  minLr: number;
}
export interface WarmupCosineScheduleConfig extends WarmupCosineArgs {
  type: 'warmupCosine';
}

export interface NoamArgs {
  /** The model width d_model. */
  dModel: number;
  warmupSteps: number;
  /** A constant multiplier (1 in the paper). */
  factor: number;
}
export interface NoamScheduleConfig extends NoamArgs {
  type: 'noam';
}

/** A schedule as data (what checkpoints and config files hold). */
export type ScheduleConfig = ConstantScheduleConfig | WarmupCosineScheduleConfig | NoamScheduleConfig;

export const SCHEDULE_TYPES = ['constant', 'warmupCosine', 'noam'] as const;

/** nanoGPT's shakespeare_char settings. */
export const DEFAULT_WARMUP_COSINE: WarmupCosineArgs = { lr: 1e-3, warmupSteps: 100, totalSteps: 5000, minLr: 1e-4 };
/** The Transformer base model's settings. */
export const DEFAULT_NOAM: NoamArgs = { dModel: 512, warmupSteps: 4000, factor: 1 };

function checkStep(step: number): void {
  if (!Number.isInteger(step) || step < 0) throw new ConfigError(`schedule step: expected an integer ≥ 0, got ${step}`);
}

/** The same learning rate at every step. */
export function constant(lr: number): Schedule {
  assertNumber('constant schedule lr', lr, 0);
  return (step) => {
    checkStep(step);
    return lr;
  };
}

/** nanoGPT's get_lr: linear warmup, then cosine decay from `lr` to `minLr` over [warmupSteps, totalSteps]. */
export function warmupCosine(args: Partial<WarmupCosineArgs> = {}): Schedule {
  const { lr, warmupSteps, totalSteps, minLr } = withDefaults('warmupCosine schedule', DEFAULT_WARMUP_COSINE, args);
  assertNumber('warmupCosine lr', lr, 0);
  assertInt('warmupCosine warmupSteps', warmupSteps, 0);
  assertInt('warmupCosine totalSteps', totalSteps, 1);
  assertNumber('warmupCosine minLr', minLr, 0, lr);
  if (totalSteps <= warmupSteps) {
    throw new ConfigError(
      `warmupCosine: totalSteps (${totalSteps}) must be greater than warmupSteps (${warmupSteps})`,
    );
  }
  return (step) => {
    checkStep(step);
    if (step < warmupSteps) return (lr * (step + 1)) / (warmupSteps + 1); // 1) linear warmup
    if (step > totalSteps) return minLr; // 3) past the decay: the floor
    const decayRatio = (step - warmupSteps) / (totalSteps - warmupSteps); // 2) cosine in between
    const coeff = 0.5 * (1 + Math.cos(Math.PI * decayRatio)); // 1 → 0
    return minLr + coeff * (lr - minLr);
  };
}

/** The Transformer paper's schedule: linear warmup, then decay ∝ 1/sqrt(step). */
export function noamSchedule(args: Partial<NoamArgs> = {}): Schedule {
  const { dModel, warmupSteps, factor } = withDefaults('noam schedule', DEFAULT_NOAM, args);
  assertInt('noam dModel', dModel, 1);
  assertInt('noam warmupSteps', warmupSteps, 1);
  assertNumber('noam factor', factor, 0);
  return (step) => {
    checkStep(step);
    const s = step + 1;
    return factor * dModel ** -0.5 * Math.min(s ** -0.5, s * warmupSteps ** -1.5);
  };
}

/** Builds a schedule from its config; unknown types and unknown keys are errors. */
export function createSchedule(config: ScheduleConfig): Schedule {
  const { type, ...args } = config as unknown as { type: string } & Record<string, unknown>;
  switch (type) {
    case 'constant': {
      const { lr } = withDefaults('constant schedule', { lr: NaN }, args as { lr?: number });
      return constant(lr);
    }
    case 'warmupCosine':
      return warmupCosine(args as Partial<WarmupCosineArgs>);
    case 'noam':
      return noamSchedule(args as Partial<NoamArgs>);
    default:
      throw new ConfigError(`Unknown schedule type: ${String(type)}; expected one of ${SCHEDULE_TYPES.join(', ')}`);
  }
}
