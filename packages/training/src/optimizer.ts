// The optimizer wrapper: tfjs's Adam (Kingma & Ba 2015; as FusedAdamOptimizer, ./fused-adam.ts: the same
// state and bits, one kernel per variable) or SGD, driven one step at a time
// with the learning rate from a schedule, optional decoupled weight decay (AdamW, Loshchilov & Hutter 2019;
// applied like nanoGPT to weights of rank ≥ 2 only), and an exact export/import of its state.
//
// What tfjs's AdamOptimizer keeps, and how it is mapped here:
//   - `m` and `v` per variable, stored by POSITION in the list given to applyGradients (named
//     `<tfjs variable name>/m|v`). We always pass the trainable variables in the same order (our names,
//     in `variables()` order) as an array, so position i is our name i; export checks the tfjs names.
//   - the iteration count (getWeights()[0], `iter`).
//   - accBeta1 = β1^(t+1), accBeta2 = β2^(t+1) for bias correction, accumulated by repeated float32
//     multiplication. Its setWeights() recomputes them with pow(), which differs in the last bit from the
//     running product (on cpu, for 1964 of the first 2000 steps), so a restored run would drift. We
//     therefore save both scalars and assign them back after setWeights().
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, DataError, assertNumber, withDefaults } from '@attend/core';
import { checkStoredMatches, type StoredTensor } from './weights.js';
import { fusedAdam } from './fused-adam.js';
import type { GradMap } from './clip.js';

export type OptimizerType = 'adam' | 'sgd';
export const OPTIMIZER_TYPES: readonly OptimizerType[] = ['adam', 'sgd'];

export interface OptimizerConfig {
  type: OptimizerType;
  /** Base learning rate (used when `train()` gets no schedule). */
  lr: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  /** Decoupled weight decay per unit of learning rate (0 = off), on variables of rank ≥ 2. */
  weightDecay: number;
}

export const DEFAULT_OPTIMIZER_CONFIG: OptimizerConfig = {
  type: 'adam',
  lr: 1e-3,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-8,
  weightDecay: 0,
};

/** Everything needed to continue exactly: the iteration count and the per-variable state. */
export interface OptimizerState {
  type: OptimizerType;
  /** Updates applied so far. */
  iterations: number;
  /** Adam: `<name>/m`, `<name>/v` per trainable variable and the scalars `adam/accBeta1`, `adam/accBeta2`. */
  tensors: StoredTensor[];
}

// The private fields of tfjs's AdamOptimizer we read and restore (see the header).
interface AdamInternals {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  learningRate: number;
}
const ACC_BETA1 = 'adam/accBeta1';
const ACC_BETA2 = 'adam/accBeta2';

/** A tfjs optimizer bound to one model's variables, stepped with an explicit learning rate. */
export class TrainingOptimizer {
  readonly config: OptimizerConfig;
  /** Trainable variables, in update order (the keys of `variables()`, non-trainable ones left out). */
  readonly names: readonly string[];
  private readonly variables: Record<string, tf.Variable>;
  private opt: tf.Optimizer;

  constructor(variables: Record<string, tf.Variable>, config: Partial<OptimizerConfig> = {}) {
    const c = withDefaults('optimizer', DEFAULT_OPTIMIZER_CONFIG, config);
    if (!OPTIMIZER_TYPES.includes(c.type)) {
      throw new ConfigError(`Unknown optimizer type: ${String(c.type)}; expected one of ${OPTIMIZER_TYPES.join(', ')}`);
    }
    assertNumber('optimizer lr', c.lr, 0);
    assertNumber('optimizer beta1', c.beta1, 0, 1);
    assertNumber('optimizer beta2', c.beta2, 0, 1);
    assertNumber('optimizer epsilon', c.epsilon, 0);
    assertNumber('optimizer weightDecay', c.weightDecay, 0);
    this.config = c;
    this.variables = variables;
    this.names = Object.keys(variables).filter((n) => variables[n]!.trainable);
    if (this.names.length === 0) throw new ConfigError('optimizer: the model has no trainable variables');
    this.opt = this.make();
  }

  private make(): tf.Optimizer {
    const c = this.config;
    return c.type === 'adam' ? fusedAdam(c.lr, c.beta1, c.beta2, c.epsilon) : tf.train.sgd(c.lr);
  }

  /** Updates applied so far. */
  get iterations(): number {
    return this.opt.iterations;
  }

  /** One update with learning rate `lr`; `grads` by our variable names (a missing one is skipped). */
  step(grads: GradMap, lr: number): void {
    assertNumber('learning rate', lr, 0);
    const { weightDecay } = this.config;
    if (weightDecay > 0) {
      const keep = 1 - lr * weightDecay;
      tf.tidy(() => {
        for (const n of this.names) {
          const v = this.variables[n]!;
          if (v.rank >= 2 && grads[n] != null) v.assign(tf.mul(v, keep));
        }
      });
    }
    // (Not `instanceof`: tfjs's Optimizer has a duck-typing Symbol.hasInstance, true for every optimizer.)
    if (this.config.type === 'sgd') (this.opt as tf.SGDOptimizer).setLearningRate(lr);
    else (this.opt as unknown as AdamInternals).learningRate = lr;
    // Always every trainable variable, in the same order: Adam keys m/v by position. A null tensor makes
    // tfjs skip that variable (like torch skips params whose .grad is None).
    this.opt.applyGradients(
      this.names.map((n) => ({ name: this.variables[n]!.name, tensor: (grads[n] ?? null) as tf.Tensor })),
    );
  }

  /** A copy of the whole state. */
  async exportState(): Promise<OptimizerState> {
    const weights = await this.opt.getWeights();
    const [iter, ...slots] = weights;
    const iterations = (await iter!.tensor.data())[0]!;
    iter!.tensor.dispose(); // getWeights made it; the rest are the optimizer's own variables
    const tensors: StoredTensor[] = [];
    if (this.config.type === 'adam') {
      const n = this.names.length;
      if (slots.length !== 0 && slots.length !== 2 * n) {
        throw new Error(`internal: Adam has ${slots.length} slot variables for ${n} trainable variables`);
      }
      if (slots.length) {
        for (const [k, suffix] of [[0, 'm'], [n, 'v']] as const) {
          this.names.forEach((name, i) => {
            const slot = slots[k + i]!;
            const expected = `${this.variables[name]!.name}/${suffix}`;
            if (slot.name !== expected) {
              throw new Error(`internal: Adam slot ${k + i} is ${slot.name}, expected ${expected} (${name})`);
            }
          });
        }
        for (const [k, suffix] of [[0, 'm'], [n, 'v']] as const) {
          for (let i = 0; i < n; i++) {
            const t = slots[k + i]!.tensor;
            tensors.push({ name: `${this.names[i]}/${suffix}`, shape: [...t.shape], data: new Float32Array((await t.data()) as Float32Array) });
          }
        }
      }
      const adam = this.opt as unknown as AdamInternals;
      tensors.push({ name: ACC_BETA1, shape: [], data: new Float32Array(await adam.accBeta1.data()) });
      tensors.push({ name: ACC_BETA2, shape: [], data: new Float32Array(await adam.accBeta2.data()) });
    }
    return { type: this.config.type, iterations, tensors };
  }

  /** Replaces the state with `state` (from `exportState`, possibly of another instance or process). */
  async importState(state: OptimizerState, what = 'optimizer state'): Promise<void> {
    if (state.type !== this.config.type) {
      throw new DataError(`${what} is for ${state.type}, but the optimizer is ${this.config.type}; resume with --optimizer ${state.type} or start a new run`);
    }
    if (!Number.isInteger(state.iterations) || state.iterations < 0) {
      throw new DataError(`${what}: iterations must be an integer ≥ 0, got ${state.iterations}`);
    }
    const fresh = this.make();
    const created: tf.Tensor[] = [];
    try {
      const list: { name: string; tensor: tf.Tensor }[] = [{ name: 'iter', tensor: tf.scalar(state.iterations, 'int32') }];
      created.push(list[0]!.tensor);
      let acc: { b1: Float32Array; b2: Float32Array } | undefined;
      if (this.config.type === 'adam') {
        const expected: Record<string, readonly number[]> = { [ACC_BETA1]: [], [ACC_BETA2]: [] };
        const hasSlots = state.tensors.length > 2;
        if (hasSlots) for (const n of this.names) for (const s of ['m', 'v']) expected[`${n}/${s}`] = this.variables[n]!.shape;
        const byName = checkStoredMatches(what, expected, state.tensors);
        if (hasSlots) {
          for (const suffix of ['m', 'v']) {
            for (const n of this.names) {
              const s = byName.get(`${n}/${suffix}`)!;
              const t = tf.tensor(s.data.slice(), s.shape, 'float32');
              created.push(t);
              list.push({ name: `${this.variables[n]!.name}/${suffix}`, tensor: t });
            }
          }
        }
        acc = { b1: byName.get(ACC_BETA1)!.data, b2: byName.get(ACC_BETA2)!.data };
      } else if (state.tensors.length) {
        throw new DataError(`${what}: SGD has no per-variable state, got ${state.tensors.map((t) => t.name).join(', ')}`);
      }
      await fresh.setWeights(list); // makes its own variables from our tensors (sharing their data)
      if (acc) {
        const adam = fresh as unknown as AdamInternals;
        tf.tidy(() => {
          adam.accBeta1.assign(tf.scalar(acc.b1[0]!));
          adam.accBeta2.assign(tf.scalar(acc.b2[0]!));
        });
      }
    } catch (err) {
      fresh.dispose();
      throw err;
    } finally {
      tf.dispose(created);
    }
    this.opt.dispose();
    this.opt = fresh;
  }

  dispose(): void {
    this.opt.dispose();
  }
}
