// What an encoder stack and a decoder stack share (Vaswani et al. 2017, §3.1: "a stack of N
// identical layers"; a pre-LN stack ends with one more layer norm, Xiong et al. 2020): N layers
// built from one layer config with a seed each, the final norm of a pre-LN stack, and the
// variables of it all under `layer<ℓ>/…` and `norm/…`.
import * as tf from '@tensorflow/tfjs-core';
import { assignWeights, countParams, hashSeed, prefixed, type SetWeightsOptions } from '@attend/core';
import { LayerNorm } from './layer-norm.js';
import type { TransformerLayerConfig } from './layer-config.js';

interface StackedLayer {
  variables(): Record<string, tf.Variable>;
  dispose(): void;
}

export abstract class LayerStack<L extends StackedLayer> {
  readonly layers: L[];
  /** The final layer norm of a pre-LN stack (null for post-LN). */
  readonly finalNorm: LayerNorm | null;
  /** The class name used in error messages. */
  private readonly label: string;

  protected constructor(label: string, n: number, c: TransformerLayerConfig, makeLayer: (seed: number) => L) {
    this.label = label;
    this.layers = Array.from({ length: n }, (_, l) => makeLayer(hashSeed(`${c.seed}/layer${l}`)));
    this.finalNorm = c.norm === 'pre' ? new LayerNorm({ dim: c.dModel, bias: c.bias }) : null;
  }

  variables(): Record<string, tf.Variable> {
    const out: Record<string, tf.Variable> = {};
    this.layers.forEach((l, i) => Object.assign(out, prefixed(`layer${i}`, l.variables())));
    if (this.finalNorm) Object.assign(out, prefixed('norm', this.finalNorm.variables()));
    return out;
  }

  setWeights(record: Record<string, tf.Tensor>, options?: SetWeightsOptions): void {
    assignWeights(this.label, this.variables(), record, options);
  }

  paramCount(): number {
    return countParams(this.variables());
  }

  dispose(): void {
    for (const l of this.layers) l.dispose();
    this.finalNorm?.dispose();
  }
}
