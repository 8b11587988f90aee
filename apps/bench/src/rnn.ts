// `pnpm bench rnn`: training throughput (characters/s) of one char-RNN language model step —
// embedding 64, one recurrent layer of 256 units, linear head over 65 characters, batch 32 × 100
// characters, Adam — for `tf.layers.lstm` (tfjs-layers), our composite path (autodiff through the
// per-step ops: the reference), and our default path (on the tensorflow backend Attend's native
// recurrence op where `attend setup tensorflow` built it, else TensorFlow ops step by step, both with
// batched weight gradients, with the hand-written BPTT and the SIMD layer kernels beside it;
// on wasm the fused layer kernels on our SIMD module with every thread, with the per-step BPTT and one
// thread beside it), on every backend
// that loads here; with PyTorch on CPU as the baseline measured in the same run (ATTEND_BENCH_PYTHON,
// else python3; "skipped: no torch" otherwise), on the CPU with 2 threads, or on the GPU with
// `--device cuda` (cuDNN).
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ConfigError, Rng, setSimdThreads, setTensorflowNativeOps, setWasmFastPaths, simdStatus, tensorflowNativeOps } from '@attend/core';
import { fusedLayerAvailable, RNNLanguageModel, setFusedSequenceMode, setHandWrittenBackward, setTensorflowSequenceOps, type CellKind, type FusedSequenceMode } from '@attend/recurrent';
import { fusedAdam } from '@attend/training';
import { onEachBackend } from './backends.js';
import { runPytorch, TORCH_DEVICES, type TorchDevice } from './pytorch.js';
import { median, ratio, table } from './timing.js';

export interface RnnBenchOptions {
  cell: CellKind;
  vocab: number;
  embed: number;
  hidden: number;
  seqLen: number;
  batch: number;
  steps: number;
  warmup: number;
  backends?: string[];
  python?: string;
  /** Where the PyTorch baseline runs (default cpu, 2 threads). */
  device: TorchDevice;
}

export const DEFAULT_RNN_BENCH: RnnBenchOptions = { cell: 'lstm', vocab: 65, embed: 64, hidden: 256, seqLen: 100, batch: 32, steps: 5, warmup: 2, device: 'cpu' };

export interface RnnBenchRow {
  impl: string;
  backend: string;
  seconds: number;
  charsPerSecond: number;
}

function batch(o: RnnBenchOptions, rng: Rng): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const n = o.batch * o.seqLen;
  return {
    x: tf.tensor2d(Int32Array.from({ length: n }, () => rng.int(o.vocab)), [o.batch, o.seqLen], 'int32'),
    y: tf.tensor2d(Int32Array.from({ length: n }, () => rng.int(o.vocab)), [o.batch, o.seqLen], 'int32'),
  };
}

/** Median seconds per optimisation step of `step` (after warm-up), with the backend synchronised (an async read: webgpu in Node has no synchronous one). */
async function timeSteps(o: RnnBenchOptions, step: () => tf.Scalar): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < o.warmup + o.steps; i++) {
    const t0 = performance.now();
    const loss = step();
    await loss.data();
    loss.dispose();
    if (i >= o.warmup) times.push((performance.now() - t0) / 1000);
  }
  return median(times);
}

/** Our RNNLanguageModel: autodiff or hand-written backward, TensorFlow's fused ops or not, the fused kernels' mode and SIMD threads. */
async function benchOurs(o: RnnBenchOptions, handWritten: boolean, { tensorflowOps = true, fused = 'auto', threads }: { tensorflowOps?: boolean; fused?: FusedSequenceMode; threads?: number } = {}): Promise<number> {
  const before = setHandWrittenBackward(handWritten);
  const beforeOps = setTensorflowSequenceOps(tensorflowOps);
  const beforeMode = setFusedSequenceMode(fused);
  const beforeThreads = threads === undefined ? undefined : setSimdThreads(threads);
  const model = new RNNLanguageModel({ cell: o.cell, vocabSize: o.vocab, embed: o.embed, hidden: o.hidden, layers: 1, seed: 0 });
  const opt = fusedAdam(2e-3); // Attend's Adam (what `attend train` uses): tfjs's, one kernel per variable
  const { x, y } = batch(o, new Rng(0));
  try {
    const vars = Object.values(model.variables());
    return await timeSteps(o, () => opt.minimize(() => model.loss(x, y, { training: true }), true, vars)!);
  } finally {
    setHandWrittenBackward(before);
    setTensorflowSequenceOps(beforeOps);
    setFusedSequenceMode(beforeMode);
    if (beforeThreads !== undefined) setSimdThreads(beforeThreads);
    model.dispose();
    opt.dispose();
    tf.dispose([x, y]);
  }
}

async function benchLayers(o: RnnBenchOptions): Promise<number> {
  const rnn = { rnn: tfl.layers.simpleRNN, lstm: tfl.layers.lstm, gru: tfl.layers.gru }[o.cell];
  const model = tfl.sequential({
    layers: [
      tfl.layers.embedding({ inputDim: o.vocab, outputDim: o.embed, inputLength: o.seqLen }),
      // Glorot instead of the default orthogonal recurrent init: tfjs-layers' Orthogonal initializer calls
      // chained tensor methods (x.flatten()) that tfjs-core alone does not register (init only: speed is the same).
      rnn({ units: o.hidden, returnSequences: true, recurrentInitializer: 'glorotUniform' }),
      tfl.layers.dense({ units: o.vocab }),
    ],
  });
  const opt = tf.train.adam(2e-3);
  const { x, y } = batch(o, new Rng(0));
  const target = tf.oneHot(tf.reshape(y, [-1]), o.vocab);
  try {
    return await timeSteps(o, () =>
      opt.minimize(() => {
        const logits = tf.reshape(model.apply(x, { training: true }) as tf.Tensor3D, [-1, o.vocab]);
        return tf.losses.softmaxCrossEntropy(target, logits) as tf.Scalar;
      }, true)!,
    );
  } finally {
    model.dispose();
    opt.dispose();
    tf.dispose([x, y, target]);
  }
}

/** `f` with a switch (setWasmFastPaths: tfjs's stock wasm kernels; setTensorflowNativeOps: the TensorFlow-op paths) off, then back as it was. */
async function withOff<T>(set: (on: boolean) => boolean, f: () => Promise<T>): Promise<T> {
  const before = set(false);
  try {
    return await f();
  } finally {
    set(before);
  }
}

/** PyTorch in the same run, or the reason it was skipped. */
export function benchPytorch(o: RnnBenchOptions, threads = 2): RnnBenchRow | string {
  const args = ['--cell', o.cell, '--vocab', `${o.vocab}`, '--embed', `${o.embed}`, '--hidden', `${o.hidden}`, '--seq-len', `${o.seqLen}`,
    '--batch', `${o.batch}`, '--steps', `${Math.max(o.steps, 5)}`, '--warmup', `${o.warmup}`, '--threads', `${threads}`];
  const j = runPytorch<{ seconds: number; chars_per_second: number; torch: string; device_name: string }>('rnn_baseline.py', args, o);
  if (typeof j === 'string') return j;
  const where = o.device === 'cuda' ? `cuDNN on ${j.device_name}` : `${threads} threads`;
  return { impl: `PyTorch ${j.torch} nn.${o.cell.toUpperCase()}, ${where}`, backend: o.device, seconds: j.seconds, charsPerSecond: j.chars_per_second };
}

export async function benchRnn(o: RnnBenchOptions): Promise<{ text: string; json: unknown }> {
  const rows: RnnBenchRow[] = [];
  const defaults: string[] = [];
  const chars = o.batch * o.seqLen;
  // PyTorch first, before any tfjs backend has started thread pools of its own in this process tree.
  // (Its 2-thread step is sensitive to anything else using the CPU: up to 15× slower measured here.)
  const torch = benchPytorch(o);
  const skipped = await onEachBackend(o.backends, async (c) => {
    // On tfjs-node the default is TensorFlow ops step by step with batched weight gradients (all three cells); the
    // hand-written BPTT through tfjs ops and the SIMD layer kernels are shown beside it.
    // On wasm and cpu the default is the fused layer kernel on our SIMD module with every thread; beside it the
    // per-step hand-written BPTT (no fused kernels) and the fused kernels on one thread.
    const tfOp = c.name === 'tensorflow' ? `TensorFlow ops per step${o.cell === 'lstm' ? ' (LSTMBlockCellGrad backward)' : ''}, batched weight gradients` : undefined;
    // With Attend's native ops loaded (attend setup tensorflow builds them) they are the default there: the row above runs without them.
    const nativeOp = c.name === 'tensorflow' && tensorflowNativeOps() ? `native recurrence op (Attend${{ lstm: 'Lstm', gru: 'Gru', rnn: 'Rnn' }[o.cell]}Recurrence), batched weight gradients` : undefined;
    const simd = simdStatus();
    const simdRows = simd.available && fusedLayerAvailable(o.cell, o.hidden, true); // the SIMD layer kernels run here (masked: on every backend that has them)
    const simdDefault = simd.available && fusedLayerAvailable(o.cell, o.hidden); // …and are the default for this unmasked model
    const layers = `tf.layers.${o.cell === 'rnn' ? 'simpleRNN' : o.cell}`;
    type Impl = [string, () => Promise<number>];
    const impls: Impl[] = [
      // On wasm, first as plain tfjs gives it (stock kernels: the baseline of the "vs tf.layers" column), then with Attend's kernel fixes.
      ...(c.name === 'wasm' ? [[`${layers}, stock tfjs kernels`, () => withOff(setWasmFastPaths, () => benchLayers(o))] as Impl] : []),
      [c.name === 'wasm' ? `${layers}, Attend's wasm kernels` : layers, () => benchLayers(o)],
      ['Attend composite (autodiff)', () => benchOurs(o, false)],
      ['Attend hand-written BPTT, per-step ops', () => benchOurs(o, true, { tensorflowOps: false, fused: 'composite' })],
      ...(tfOp ? [[`Attend ${tfOp}`, () => withOff(setTensorflowNativeOps, () => benchOurs(o, true, { fused: 'composite' }))] as Impl] : []),
      ...(nativeOp ? [[`Attend ${nativeOp}`, () => benchOurs(o, true, { fused: 'composite' })] as Impl] : []),
      ...(simdRows
        ? ([
            ['Attend fused layer kernels (SIMD), 1 thread', () => benchOurs(o, true, { fused: 'fused', threads: 1 })],
            [`Attend fused layer kernels (SIMD), ${simd.threads} threads`, () => benchOurs(o, true, { fused: 'fused' })],
          ] as Impl[])
        : []),
      // On webgpu the WGSL sequence kernels are not the default until measured: this row measures them.
      ...(c.name === 'webgpu' ? [['Attend fused kernels (WGSL)', () => benchOurs(o, true, { fused: 'fused' })] as Impl] : []),
    ];
    // The default path for this model on this backend, named (its row is the one above that it equals).
    const defaultPath = nativeOp ? `Attend ${nativeOp}` : tfOp ? `Attend ${tfOp}` : simdDefault ? `fused layer kernels (SIMD), ${simd.threads} threads` : 'hand-written BPTT';
    console.log(`  ${c.name.padEnd(10)} default path: ${defaultPath}`);
    defaults.push(`${c.name}: ${defaultPath}`);
    for (const [impl, run] of impls) {
      const seconds = await run();
      rows.push({ impl, backend: c.name, seconds, charsPerSecond: chars / seconds });
      console.log(`  ${c.name.padEnd(10)} ${impl}: ${(chars / seconds).toFixed(0)} chars/s`);
    }
  });
  if (typeof torch === 'string') skipped.push(torch);
  else rows.push(torch);
  const base = typeof torch === 'string' ? undefined : torch.charsPerSecond;
  const layersOf = (backend: string) => rows.find((r) => r.backend === backend && r.impl.startsWith('tf.layers'))?.charsPerSecond;
  const text = [
    `char ${o.cell.toUpperCase()} LM training step: vocab ${o.vocab}, embedding ${o.embed}, ${o.hidden} units, ${o.seqLen} steps, batch ${o.batch}, Adam; median of ${o.steps} steps`,
    table([
      ['implementation', 'backend', 'ms/step', 'chars/s', 'vs tf.layers (same backend)', 'vs PyTorch'],
      ...rows.map((r) => [r.impl, r.backend, (r.seconds * 1000).toFixed(0), r.charsPerSecond.toFixed(0), r.impl.startsWith('PyTorch') ? '–' : ratio(r.charsPerSecond, layersOf(r.backend)), ratio(r.charsPerSecond, base)]),
    ]),
    `default path per backend — ${defaults.join('; ')}`,
    ...skipped.map((s) => `skipped: ${s}`),
  ].join('\n');
  return { text, json: { options: o, rows, defaults, skipped } };
}

export function parseRnnArgs(argv: string[]): RnnBenchOptions {
  const o: RnnBenchOptions = { ...DEFAULT_RNN_BENCH };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[++i];
    if (v === undefined) throw new ConfigError(`bench rnn: ${a} needs a value`);
    if (a === '--cell') {
      if (!['rnn', 'lstm', 'gru'].includes(v)) throw new ConfigError(`bench rnn: --cell expects rnn, lstm or gru, got ${v}`);
      o.cell = v as CellKind;
    } else if (a === '--backends') o.backends = v.split(',');
    else if (a === '--python') o.python = v;
    else if (a === '--device') {
      if (!(TORCH_DEVICES as readonly string[]).includes(v)) throw new ConfigError(`bench rnn: --device expects ${TORCH_DEVICES.join(' or ')} (where the PyTorch baseline runs), got ${v}`);
      o.device = v as TorchDevice;
    } else {
      const key = ({ '--hidden': 'hidden', '--batch': 'batch', '--seq-len': 'seqLen', '--steps': 'steps', '--warmup': 'warmup', '--embed': 'embed', '--vocab': 'vocab' } as const)[a];
      if (!key) throw new ConfigError(`bench rnn: unknown option ${a}; expected --cell --hidden --batch --seq-len --embed --vocab --steps --warmup --backends --python --device`);
      const n = Number(v);
      if (!Number.isInteger(n) || n < (key === 'warmup' ? 0 : 1)) throw new ConfigError(`bench rnn: ${a} expects a positive integer, got ${v}`);
      o[key] = n;
    }
  }
  return o;
}
