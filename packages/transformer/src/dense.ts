// A fully connected layer, y = x·W + b, applied to the last axis of any-rank input: the
// projections of the Transformer (Vaswani et al. 2017, §3.2.2 W^Q, W^K, W^V, W^O; §3.3 the
// position-wise feed-forward W_1, W_2). W is `[in, out]` Glorot-uniform (seeded), b zeros.
import * as tf from '@tensorflow/tfjs-core';
import { assertBool, assertInt, assignWeights, configure, countParams, glorotVariable, makeVariable, ShapeError, type SetWeightsOptions } from '@attend/core';

export interface DenseConfig {
  /** Size of the input's last axis. Required. */
  inputSize: number;
  /** Size of the output's last axis. Required. */
  units: number;
  /** Whether there is a bias b (default true). */
  bias: boolean;
  /** Seed of W (default 0). */
  seed: number;
}

export const DEFAULT_DENSE: Omit<DenseConfig, 'inputSize' | 'units'> = { bias: true, seed: 0 };

export class Dense {
  readonly config: Readonly<DenseConfig>;
  /** `[in, out]`. */
  readonly W: tf.Variable;
  /** `[out]`, or null without bias. */
  readonly b: tf.Variable | null;

  constructor(config: Partial<DenseConfig> & { inputSize: number; units: number }) {
    const c = configure<DenseConfig>('Dense', DEFAULT_DENSE, ['inputSize', 'units'], config);
    assertInt('Dense.inputSize', c.inputSize);
    assertInt('Dense.units', c.units);
    assertBool('Dense.bias', c.bias);
    assertInt('Dense.seed', c.seed, 0);
    this.config = Object.freeze({ ...c });
    this.W = glorotVariable(c.seed, 'W', [c.inputSize, c.units]);
    this.b = c.bias ? makeVariable(new Float32Array(c.units), [c.units]) : null;
  }

  /** `[…, in]` → `[…, out]`. Call inside a `tf.tidy` (or own the result). */
  apply<T extends tf.Tensor>(x: T): T {
    const { inputSize: I, units: O } = this.config;
    const lead = x.shape.slice(0, -1);
    if (x.shape[x.rank - 1] !== I) {
      throw new ShapeError(`Dense: expected input of shape [${[...lead, I].join(', ')}] (last axis ${I}), got [${x.shape.join(', ')}]`);
    }
    return tf.tidy(() => {
      const x2 = x.rank === 2 ? x : tf.reshape(x, [-1, I]); // [N, in]
      let y: tf.Tensor = tf.matMul(x2 as tf.Tensor2D, this.W as tf.Tensor2D); // [N, out]
      if (this.b) y = tf.add(y, this.b);
      return (x.rank === 2 ? y : tf.reshape(y, [...lead, O])) as T; // […, out]
    });
  }

  variables(): Record<string, tf.Variable> {
    return this.b ? { W: this.W, b: this.b } : { W: this.W };
  }

  setWeights(record: Record<string, tf.Tensor>, options?: SetWeightsOptions): void {
    assignWeights('Dense', this.variables(), record, options);
  }

  paramCount(): number {
    return countParams(this.variables());
  }

  dispose(): void {
    this.W.dispose();
    this.b?.dispose();
  }
}
