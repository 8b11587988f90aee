import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@attend/core/node';
import { beforeAll, describe, expect, it } from 'vitest';
import { TrainingOptimizer } from '../src/index.js';

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: false });
});

describe('TrainingOptimizer', () => {
  it('maps Adam m/v to our variable names, whatever the tfjs names', async () => {
    const vars = { b: tf.variable(tf.tensor1d([1, 2])), a: tf.variable(tf.tensor2d([[3]])) };
    const opt = new TrainingOptimizer(vars, { type: 'adam', beta1: 0.9, beta2: 0.99 });
    const empty = await opt.exportState();
    expect(empty.iterations).toBe(0);
    expect(empty.tensors.map((t) => t.name)).toEqual(['adam/accBeta1', 'adam/accBeta2']);

    const grads = { b: tf.tensor1d([0.5, -1]), a: tf.tensor2d([[2]]) };
    opt.step(grads, 0.01);
    const s = await opt.exportState();
    expect(s.iterations).toBe(1);
    expect(s.tensors.map((t) => t.name)).toEqual(['b/m', 'a/m', 'b/v', 'a/v', 'adam/accBeta1', 'adam/accBeta2']);
    const get = (n: string) => Array.from(s.tensors.find((t) => t.name === n)!.data);
    // After one step: m = (1-β1)·g, v = (1-β2)·g², accβ = β².
    expect(get('b/m')).toEqual(Array.from(new Float32Array([0.05, -0.1])));
    expect(get('a/m')).toEqual(Array.from(new Float32Array([0.2])));
    expect(get('a/v')[0]).toBeCloseTo(0.04, 6);
    expect(get('adam/accBeta1')[0]).toBeCloseTo(0.81, 6);
    expect(s.tensors.find((t) => t.name === 'a/m')!.shape).toEqual([1, 1]);
    // Each variable moved by ≈ lr against its gradient's sign (Adam's first step).
    expect(vars.b.dataSync()[0]).toBeCloseTo(1 - 0.01, 4);
    expect(vars.b.dataSync()[1]).toBeCloseTo(2 + 0.01, 4);
    tf.dispose(Object.values(grads));
    opt.dispose();
    tf.dispose(Object.values(vars));
  });

  // Split points where tfjs's own setWeights (accβ = pow(β, t+1)) is off by one ulp from the running
  // product for β2 = 0.999 (t = 2, 5, 18) or β1 = 0.9 (t = 15) on cpu: the saved accβ must be used.
  it('restores into another instance and continues bit-identically (Adam and SGD, with weight decay)', async () => {
    const mk = () => ({ w: tf.variable(tf.tensor2d([[0.3, -0.2], [0.1, 0.4]])), b: tf.variable(tf.tensor1d([0.1, 0.2])) });
    type Vars = ReturnType<typeof mk>;
    const stepN = (opt: TrainingOptimizer, v: Vars, from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(tf.add(tf.matMul(v.w, v.w), v.b))) as tf.Scalar, [v.w, v.b]);
        opt.step({ w: grads[v.w.name], b: grads[v.b.name] }, 0.01 * (1 + i / 10));
        tf.dispose([value, ...Object.values(grads)]);
      }
    };
    for (const type of ['adam', 'sgd'] as const) {
      const cfg = { type, beta1: 0.9, beta2: 0.999, weightDecay: 0.1 };
      const va = mk();
      const a = new TrainingOptimizer(va, cfg);
      stepN(a, va, 0, 24);
      for (const split of type === 'adam' ? [2, 5, 15, 18] : [5]) {
        const vb = mk();
        const b = new TrainingOptimizer(vb, cfg);
        stepN(b, vb, 0, split);
        const state = await b.exportState();
        const w = [vb.w.dataSync().slice(), vb.b.dataSync().slice()] as Float32Array[];
        b.dispose();
        tf.dispose(Object.values(vb));

        const vc = { w: tf.variable(tf.tensor2d(w[0]!, [2, 2])), b: tf.variable(tf.tensor1d(w[1]!)) };
        const c = new TrainingOptimizer(vc, cfg);
        await c.importState(state);
        expect(c.iterations).toBe(split);
        stepN(c, vc, split, 24);
        expect(Array.from(vc.w.dataSync()), `${type} split at ${split}`).toEqual(Array.from(va.w.dataSync()));
        expect(Array.from(vc.b.dataSync()), `${type} split at ${split}`).toEqual(Array.from(va.b.dataSync()));
        c.dispose();
        tf.dispose(Object.values(vc));
      }
      a.dispose();
      tf.dispose(Object.values(va));
    }
  });

  it('rejects state of another optimizer type or model, and bad configs', async () => {
    const vars = { w: tf.variable(tf.zeros([2])) };
    const sgd = new TrainingOptimizer(vars, { type: 'sgd' });
    const adam = new TrainingOptimizer(vars, { type: 'adam' });
    await expect(sgd.importState(await adam.exportState())).rejects.toThrow(/is for adam, but the optimizer is sgd/);
    const g = { w: tf.ones([2]) };
    adam.step(g, 0.1);
    const s = await adam.exportState();
    const other = new TrainingOptimizer({ v: tf.variable(tf.zeros([2])) }, { type: 'adam' });
    await expect(other.importState(s)).rejects.toThrow(/missing v\/m, v\/v; unexpected w\/m, w\/v/);
    expect(() => new TrainingOptimizer(vars, { type: 'adagrad' as never })).toThrow(/Unknown optimizer type: adagrad/);
    expect(() => new TrainingOptimizer(vars, { lr: -1 })).toThrow(/lr/);
    expect(() => new TrainingOptimizer(vars, { momentum: 0.9 } as never)).toThrow(/unknown option "momentum"/);
    tf.dispose(Object.values(g));
    [sgd, adam, other].forEach((o) => o.dispose());
  });
});
