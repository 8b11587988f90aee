// The error `train()` throws when the loss or the gradient norm stops being a finite number.
import { AttendError } from '@attend/core';

/** Where the last good checkpoint is, for the message. */
export interface LastCheckpoint {
  step: number;
  location?: string;
}

/** Training diverged (NaN/Inf): no update was applied for the bad step and no checkpoint was written. */
export class TrainingDivergedError extends AttendError {
  /** The step (1-based count of updates) whose loss or gradient was not finite. */
  readonly step: number;
  /** What became non-finite. */
  readonly quantity: 'loss' | 'gradient norm';
  readonly value: number;
  readonly lastCheckpoint: LastCheckpoint | undefined;

  constructor(step: number, quantity: 'loss' | 'gradient norm', value: number, lastCheckpoint?: LastCheckpoint) {
    const where = lastCheckpoint
      ? `last good checkpoint: step ${lastCheckpoint.step}${lastCheckpoint.location ? ` in ${lastCheckpoint.location}` : ''}`
      : 'no checkpoint was saved';
    super('DIVERGED', `${quantity} became ${String(value)} at step ${step} (${where}); try a lower --lr or --clip`);
    this.step = step;
    this.quantity = quantity;
    this.value = value;
    this.lastCheckpoint = lastCheckpoint;
  }
}
