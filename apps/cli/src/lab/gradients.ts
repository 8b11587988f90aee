// `attend lab gradients`: why plain RNNs fail, measured. Nothing is trained. For a vanilla RNN
// (tanh and relu), an LSTM and a GRU (the taught variant) of the same sizes, with the same
// recurrent-weight scale, we take a loss on the LAST step only and measure how much of its
// gradient reaches every earlier hidden state: ‖∂L/∂h_t‖ for t = 1..T. A tanh RNN's shrinks
// geometrically going back from T (vanishing), a relu RNN's grows (exploding); gated cells carry
// it further (Bengio, Simard & Frasconi 1994; Hochreiter 1991; Pascanu, Mikolov & Bengio 2013,
// "On the difficulty of training recurrent neural networks", which also proposes the global-norm
// clipping shown with `clip`).
//
// How ∂L/∂h_t is obtained: the cell is run step by step and a zero "probe" δ_t `[B, H]` is added to
// every hidden state, h_t' = h_t + δ_t, with h_t' fed to the next step. L does not change (δ = 0),
// and ∂L/∂δ_t = ∂L/∂h_t exactly: the total derivative through every later step. (The LSTM's memory
// cell c is not probed: only h.)
//
// Set-up (all seeded; see `describeSetup`):
//   x_t ~ N(0, 1) `[B, D]`;  loss L = Σ_b w·h_T^(b), with w `[H]` a random unit vector, so that
//   ∂L/∂h^(b) is example b's own gradient and ‖∂L/∂h_T^(b)‖ = 1 for every cell.
//   Recurrent kernels: every `[H, H]` gate block drawn N(0, gain²/H) (the same draws for every cell:
//   the vanilla RNN's W_hh is the first block of the LSTM's and GRU's W_h); input kernels Glorot
//   uniform and biases zero except the LSTM forget bias 1 (the cells' own defaults).
//   Reported per timestep: the mean over the batch of the per-example L2 norm ‖∂L/∂h_t^(b)‖.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Rng, hashSeed } from '@attend/core';
import { GRUCell, LSTMCell, SimpleRNNCell, type RecurrentCell } from '@attend/recurrent';

/** The four cells compared, in plot/CSV order. */
export const LAB_CELLS = ['rnn_tanh', 'rnn_relu', 'lstm', 'gru'] as const;
export type LabCell = (typeof LAB_CELLS)[number];

export const LAB_CELL_LABELS: Record<LabCell, string> = {
  rnn_tanh: 'RNN (tanh)',
  rnn_relu: 'RNN (relu)',
  lstm: 'LSTM',
  gru: 'GRU',
};

export interface GradientLabConfig {
  /** D: input features. */
  inputSize: number;
  /** H: hidden units. */
  hidden: number;
  /** T: timesteps. */
  length: number;
  /** B: sequences (the reported norm is the mean over them). */
  batch: number;
  /** Seed of the inputs, the loss weights and all the cells' weights. */
  seed: number;
  /** g: recurrent gate blocks are drawn N(0, g²/H). */
  gain: number;
  /** Global-norm clipping threshold applied to each cell's gradients; 0 = no clipping shown. */
  clip: number;
  /**
   * Bias of the GRU's update gate z. In the taught GRU, h = (1−z)⊙h + z⊙h̃, so a negative bias keeps
   * the old state by default: the GRU's counterpart of the LSTM's forget-gate bias of 1. Default −3
   * (z ≈ 0.05), as "chrono" initialisation sets gate biases for dependencies of ~T = 100 steps
   * (Tallec & Ollivier 2018: b ≈ log(T_max)); 0 shows the GRU with closed-by-default gates vanishing.
   */
  gruUpdateBias: number;
}

// Gain 1.6, picked by scanning gains 1.0–2.0 over seeds 0–19 at the default sizes (D 32, H 64, T 100):
// the window where BOTH classic effects show is narrow, because the same W_hh drives both RNNs.
//   - tanh: its inputs (x·W_xh has variance ≈ 0.67) push it into saturation, where
//     diag(1 − h²)·W_hh shrinks the gradient: at g = 1.6, h_1/h_T < 1e-2 for 19 of 20 seeds
//     (median 1e-3); from g ≈ 1.7 on it no longer vanishes, and at g = 2 it explodes (chaotic regime).
//   - relu: about half the units are active, so the gradient grows by ≈ g/√2 per step: at g = 1.6,
//     h_1/h_T > 1e+2 for 18 of 20 seeds (median 3e+4); at g ≤ 1.5 it explodes for fewer than half
//     (at H = 64 the growth varies a lot from one W_hh draw to another).
//   - LSTM (forget bias 1): h_1/h_T > 1e-2 for 19 of 20 seeds (median 0.04).
//   - GRU (taught): with zero biases z ≈ σ(0) = ½ keeps only about half of h per step, so it
//     vanishes FASTER than the tanh RNN (median 1e-9): gates only carry gradient when they are set to
//     carry. With the update-gate bias −3 (see gruUpdateBias) it holds: h_1/h_T = 0.043 at seed 0
//     (bias −1: 1e-6, −2: 9e-4).
export const DEFAULT_GRADIENT_LAB: GradientLabConfig = {
  inputSize: 32,
  hidden: 64,
  length: 100,
  batch: 8,
  seed: 0,
  gain: 1.6,
  clip: 0,
  gruUpdateBias: -3,
};

/**
 * Verdict thresholds on the ratio r = ‖∂L/∂h_1‖ / ‖∂L/∂h_T‖: below 1e-2 the first step receives
 * less than 1% of the gradient the last one does ("vanishes"); above 1e+2 more than a hundred times
 * as much ("explodes"); in between it "holds". (Absolute thresholds: a longer --length makes every
 * ratio more extreme; the per-step factor r^(1/(T−1)) is printed too.)
 */
export const VANISH_BELOW = 1e-2;
export const EXPLODE_ABOVE = 1e2;

/** Per cell: the measured norms and what clipping does to them. */
export interface CellGradients {
  cell: LabCell;
  /** ‖∂L/∂h_t‖, t = 1..T (mean over the batch of per-example L2 norms). */
  norms: number[];
  /** norms[0] / norms[T−1]. */
  ratio: number;
  /** The geometric mean factor per step going back: ratio^(1/(T−1)). */
  perStep: number;
  /** e.g. "vanishes: 1.2e-5× over 99 steps". */
  verdict: string;
  /** √(Σ_t Σ_b ‖∂L/∂h_t^(b)‖²): the global norm of all the probe gradients. */
  globalNorm: number;
  /** min(1, clip / globalNorm); 1 when clip = 0. */
  clipScale: number;
  /** norms × clipScale. */
  clipped: number[];
  /** ‖∂L/∂W_h‖ (Frobenius) of the recurrent kernel (`W_hh` for the RNN, `W_h` [H, k·H] otherwise). */
  recurrentGradNorm: number;
  /** min(1, clip / ‖∂L/∂W_h‖): clipping that kernel's gradient by its own norm; 1 when clip = 0. */
  recurrentClipScale: number;
}

export interface GradientReport {
  config: GradientLabConfig;
  /** 1..T. */
  t: number[];
  /** ‖∂L/∂h_t‖ per cell. */
  series: Record<LabCell, number[]>;
  /** The same after global-norm clipping (only when config.clip > 0). */
  clippedSeries?: Record<LabCell, number[]>;
  cells: CellGradients[];
}

/** Checks and fills a partial config (unknown keys and bad values are a ConfigError). */
export function gradientLabConfig(partial: Partial<GradientLabConfig> = {}): GradientLabConfig {
  for (const k of Object.keys(partial)) {
    if (!(k in DEFAULT_GRADIENT_LAB)) {
      throw new ConfigError(`gradient lab: unknown option "${k}"; expected one of ${Object.keys(DEFAULT_GRADIENT_LAB).join(', ')}`);
    }
  }
  const c = { ...DEFAULT_GRADIENT_LAB, ...partial };
  for (const k of ['inputSize', 'hidden', 'length', 'batch'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) throw new ConfigError(`gradient lab: ${k} must be an integer ≥ 1, got ${c[k]}`);
  }
  if (!Number.isInteger(c.seed) || c.seed < 0) throw new ConfigError(`gradient lab: seed must be an integer ≥ 0, got ${c.seed}`);
  if (!Number.isFinite(c.gain) || c.gain <= 0) throw new ConfigError(`gradient lab: gain must be a number > 0, got ${c.gain}`);
  if (!Number.isFinite(c.gruUpdateBias)) throw new ConfigError(`gradient lab: gruUpdateBias must be a number, got ${c.gruUpdateBias}`);
  if (!Number.isFinite(c.clip) || c.clip < 0) throw new ConfigError(`gradient lab: clip must be a number ≥ 0 (0 = off), got ${c.clip}`);
  return c;
}

/** One line stating how everything was initialised (printed, and written into the SVG). */
export function describeSetup(c: GradientLabConfig): string {
  return setupLines(c).join('; ');
}

function setupLines(c: GradientLabConfig): [string, string] {
  return [
    `recurrent weights (every [H, H] gate block) ~ N(0, ${fmtNum(c.gain)}²/H), input weights Glorot uniform, biases 0 (LSTM forget bias 1, GRU update bias ${fmtNum(c.gruUpdateBias)})`,
    `x_t ~ N(0, 1); L = Σ_b w·h_T with ‖w‖ = 1; plotted: mean over the batch of each sequence's ‖∂L/∂h_t‖`,
  ];
}

/** The recurrent kernel's name in each cell's `variables()`. */
const RECURRENT_KERNEL: Record<RecurrentCell['kind'], string> = { rnn: 'W_hh', lstm: 'W_h', gru: 'W_h' };

/**
 * The four cells with the lab's recurrent kernels. The caller owns them (`cell.dispose()`).
 * Gate block j of every cell is the same N(0, gain²/H) draw, so the cells differ only in their
 * equations (and the input kernels, which each cell draws with its own shape).
 */
export function makeLabCells(config: Partial<GradientLabConfig> = {}): Record<LabCell, RecurrentCell> {
  const c = gradientLabConfig(config);
  const base = { inputSize: c.inputSize, hidden: c.hidden, seed: c.seed };
  const cells: Record<LabCell, RecurrentCell> = {
    rnn_tanh: new SimpleRNNCell({ ...base, activation: 'tanh' }),
    rnn_relu: new SimpleRNNCell({ ...base, activation: 'relu' }),
    lstm: new LSTMCell(base),
    gru: new GRUCell({ ...base, resetAfter: false }),
  };
  const H = c.hidden;
  const blocks = gaussianBlocks(new Rng(hashSeed(`${c.seed}/lab/W_h`)), H, 4, c.gain / Math.sqrt(H));
  tf.tidy(() => {
    for (const cell of Object.values(cells)) {
      const k = cell.gates;
      // Row-major [H, k·H]: row i is block 0's row i, then block 1's row i, …
      const W = new Float32Array(H * k * H);
      for (let i = 0; i < H; i++) {
        for (let j = 0; j < k; j++) W.set(blocks[j]!.subarray(i * H, (i + 1) * H), i * k * H + j * H);
      }
      cell.setWeights({ [RECURRENT_KERNEL[cell.kind]]: tf.tensor2d(W, [H, k * H]) }, { partial: true }); // copied in
    }
    const zBias = new Float32Array(3 * H);
    zBias.fill(c.gruUpdateBias, H, 2 * H); // GRU gate order r, z, n: the z block
    cells.gru.setWeights({ b: tf.tensor1d(zBias) }, { partial: true });
  });
  return cells;
}

/** The lab's inputs: x `[T, B, D]` ~ N(0, 1) and the loss weights w `[H]` (unit norm). Caller owns them. */
export function makeLabInputs(config: Partial<GradientLabConfig> = {}): { x: tf.Tensor3D; w: tf.Tensor1D } {
  const c = gradientLabConfig(config);
  const rx = new Rng(hashSeed(`${c.seed}/lab/x`));
  const x = Float32Array.from({ length: c.length * c.batch * c.inputSize }, () => rx.normal());
  const rw = new Rng(hashSeed(`${c.seed}/lab/w`));
  const w = Float64Array.from({ length: c.hidden }, () => rw.normal());
  const norm = Math.hypot(...w);
  return {
    x: tf.tensor3d(x, [c.length, c.batch, c.inputSize]),
    w: tf.tensor1d(Float32Array.from(w, (v) => v / norm)),
  };
}

/**
 * L = Σ_b w·h_T^(b) after running `cell` over x `[T, B, D]` from a zero state, with probes[t]
 * `[B, H]` added to h after step t (the state passed on is the probed one). Zeros leave L as it is.
 */
export function lastStepLoss(cell: RecurrentCell, x: tf.Tensor3D, w: tf.Tensor1D, probes: tf.Tensor[]): tf.Scalar {
  const [T, B, D] = x.shape;
  if (probes.length !== T) throw new ConfigError(`lastStepLoss: expected ${T} probes (one per timestep), got ${probes.length}`);
  return tf.tidy(() => {
    const xp = tf.reshape(cell.projectInput(tf.reshape(x, [T * B, D])), [T, B, cell.gates * cell.hidden]); // [T, B, k·H]
    const xs = tf.unstack(xp) as tf.Tensor2D[]; // T × [B, k·H]
    const step = cell.stepper();
    let state = cell.zeroState(B);
    for (let t = 0; t < T; t++) {
      const next = step(xs[t]!, state);
      state = { ...next, h: tf.add(next.h, probes[t]!) as tf.Tensor2D }; // h_t' = h_t + δ_t  [B, H]
    }
    return tf.sum(tf.matMul(state.h, tf.reshape(w, [cell.hidden, 1]))) as tf.Scalar; // Σ_b w·h_T
  });
}

/**
 * ∂L/∂h_t for every t, as a plain `[T][B·H]` array (row-major per step), and ∂L/∂W_h flattened.
 * Computed with zero probes and one `tf.grads` call; no tensors are left behind.
 */
export function probeGradients(cell: RecurrentCell, x: tf.Tensor3D, w: tf.Tensor1D): { dh: Float32Array[]; dW: Float32Array } {
  const [T, B] = x.shape;
  const W = cell.variables()[RECURRENT_KERNEL[cell.kind]]!;
  return tf.tidy(() => {
    const probes = Array.from({ length: T }, () => tf.zeros([B, cell.hidden])); // δ_t = 0  [B, H]
    // The cell reads W from its own variable; passing the same tensor as an argument makes
    // tf.grads differentiate with respect to it.
    const f = (...args: tf.Tensor[]) => lastStepLoss(cell, x, w, args.slice(0, T));
    const grads = tf.grads(f)([...probes, W]);
    return {
      dh: grads.slice(0, T).map((g) => g.dataSync() as Float32Array),
      dW: grads[T]!.dataSync() as Float32Array,
    };
  });
}

/** Runs the whole lab: every cell, every timestep. Pure apart from the tensors it creates and frees. */
export function measureGradientNorms(config: Partial<GradientLabConfig> = {}): GradientReport {
  const c = gradientLabConfig(config);
  const cells = makeLabCells(c);
  const { x, w } = makeLabInputs(c);
  try {
    const results = LAB_CELLS.map((name) => summarise(name, probeGradients(cells[name], x, w), c));
    const series = Object.fromEntries(results.map((r) => [r.cell, r.norms])) as Record<LabCell, number[]>;
    const clippedSeries = c.clip > 0 ? (Object.fromEntries(results.map((r) => [r.cell, r.clipped])) as Record<LabCell, number[]>) : undefined;
    return { config: c, t: Array.from({ length: c.length }, (_, i) => i + 1), series, clippedSeries, cells: results };
  } finally {
    tf.dispose([x, w]);
    for (const cell of Object.values(cells)) cell.dispose();
  }
}

/** Norms (in float64, so a relu RNN's huge gradients cannot overflow a sum of squares), verdict, clipping. */
function summarise(cell: LabCell, g: { dh: Float32Array[]; dW: Float32Array }, c: GradientLabConfig): CellGradients {
  const H = c.hidden;
  let total = 0;
  const norms = g.dh.map((step) => {
    let mean = 0;
    for (let b = 0; b < c.batch; b++) {
      const n = l2(step.subarray(b * H, (b + 1) * H));
      total += n * n;
      mean += n / c.batch;
    }
    return mean;
  });
  const globalNorm = Math.sqrt(total);
  const recurrentGradNorm = l2(g.dW);
  const clipScale = clipFactor(c.clip, globalNorm);
  const ratio = norms[0]! / norms[norms.length - 1]!;
  return {
    cell,
    norms,
    ratio,
    perStep: c.length > 1 ? Math.pow(ratio, 1 / (c.length - 1)) : 1,
    verdict: verdictFor(ratio, c.length - 1),
    globalNorm,
    clipScale,
    clipped: norms.map((n) => n * clipScale),
    recurrentGradNorm,
    recurrentClipScale: clipFactor(c.clip, recurrentGradNorm),
  };
}

/** Global-norm clipping's factor: min(1, X / norm); 1 when X = 0 (off) or the norm is 0. */
export function clipFactor(clip: number, norm: number): number {
  if (clip <= 0 || !(norm > 0)) return 1;
  return Math.min(1, clip / norm);
}

/** The one-line verdict for r = ‖∂L/∂h_1‖ / ‖∂L/∂h_T‖ over `steps` steps (thresholds above). */
export function verdictFor(ratio: number, steps: number): string {
  const over = `over ${steps} step${steps === 1 ? '' : 's'}`;
  if (!Number.isFinite(ratio)) return `explodes: overflowed ${over}`;
  if (ratio < VANISH_BELOW) return `vanishes: ${fmtNum(ratio)}× ${over}`;
  if (ratio > EXPLODE_ABOVE) return `explodes: ${fmtNum(ratio)}× ${over}`;
  return `holds: ${fmtNum(ratio)}× ${over}`;
}

/** The CSV: `t, rnn_tanh, rnn_relu, lstm, gru` (+ `<cell>_clipped` columns with clipping), one row per step. */
export function toCsv(report: GradientReport): string {
  const cols: { name: string; values: number[] }[] = LAB_CELLS.map((k) => ({ name: k, values: report.series[k] }));
  if (report.clippedSeries) for (const k of LAB_CELLS) cols.push({ name: `${k}_clipped`, values: report.clippedSeries[k] });
  const rows = report.t.map((t, i) => [String(t), ...cols.map((col) => String(col.values[i]))].join(','));
  return `${['t', ...cols.map((col) => col.name)].join(',')}\n${rows.join('\n')}\n`;
}

/** The stdout table: one row per cell (clipping is printed separately, see `formatClipping`). */
export function formatTable(report: GradientReport): string {
  const T = report.config.length;
  const head = ['cell', `‖∂L/∂h_1‖`, `‖∂L/∂h_${T}‖`, 'h_1/h_T', 'per step', 'verdict'];
  const rows = report.cells.map((r) => [
    LAB_CELL_LABELS[r.cell],
    fmtNum(r.norms[0]!),
    fmtNum(r.norms[T - 1]!),
    fmtNum(r.ratio),
    `×${r.perStep.toFixed(3)}`,
    r.verdict,
  ]);
  return alignColumns(head, rows);
}

/** What global-norm clipping to `clip` does to each cell's gradients (empty without clipping). */
export function formatClipping(report: GradientReport): string {
  const X = report.config.clip;
  if (!(X > 0)) return '';
  const head = ['cell', 'global norm of ∂L/∂h_t', 'scaled by', '‖∂L/∂W_h‖', `clipped to ${fmtNum(X)}`, 'scaled by'];
  const rows = report.cells.map((r) => [
    LAB_CELL_LABELS[r.cell],
    fmtNum(r.globalNorm),
    `×${fmtNum(r.clipScale)}`,
    fmtNum(r.recurrentGradNorm),
    fmtNum(r.recurrentGradNorm * r.recurrentClipScale),
    `×${fmtNum(r.recurrentClipScale)}`,
  ]);
  return alignColumns(head, rows);
}

function alignColumns(head: string[], rows: string[][]): string {
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((s, i) => s.padEnd(width[i]!)).join('  ').trimEnd();
  return [line(head), line(width.map((n) => '-'.repeat(n))), ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------------------------------------
// The SVG plot, drawn by hand: log-scale y with decade ticks, t on x, one line per cell (dashed
// for the clipped gradients), a legend on the right, axis titles and a title with the set-up.

const COLOURS: Record<LabCell, string> = { rnn_tanh: '#1f77b4', rnn_relu: '#d62728', lstm: '#2ca02c', gru: '#9467bd' };

export function renderSvg(report: GradientReport): string {
  const c = report.config;
  const W = 960;
  const Hpx = 620;
  const m = { left: 90, right: 210, top: 96, bottom: 64 };
  const pw = W - m.left - m.right;
  const ph = Hpx - m.top - m.bottom;
  const all = [...Object.values(report.series), ...(report.clippedSeries ? Object.values(report.clippedSeries) : [])].flat();
  const positive = all.filter((v) => Number.isFinite(v) && v > 0);
  let lo = positive.length ? Math.floor(Math.log10(Math.min(...positive))) : -1;
  let hi = positive.length ? Math.ceil(Math.log10(Math.max(...positive))) : 1;
  if (hi - lo < 2) {
    lo -= 1;
    hi += 1;
  }
  const T = c.length;
  const xOf = (t: number) => m.left + (T === 1 ? pw / 2 : ((t - 1) / (T - 1)) * pw);
  const yOf = (v: number) => m.top + ((hi - Math.log10(v)) / (hi - lo)) * ph;
  const out: string[] = [];
  out.push(
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${Hpx}" viewBox="0 0 ${W} ${Hpx}" font-family="Helvetica, Arial, sans-serif" font-size="13">`,
    `<rect x="0" y="0" width="${W}" height="${Hpx}" fill="white"/>`,
    text(W / 2, 26, `Gradient reaching h_t from a loss on the last step (t = ${T})`, 'middle', 'font-size="17" font-weight="bold"'),
    text(
      W / 2,
      46,
      `input ${c.inputSize}, hidden ${c.hidden}, length ${T}, batch ${c.batch}, gain ${fmtNum(c.gain)}, seed ${c.seed}` +
        (c.clip > 0 ? `; dashed: after global-norm clipping to ${fmtNum(c.clip)}` : ''),
      'middle',
    ),
    ...setupLines(c).map((line, i) => text(W / 2, 64 + 15 * i, line, 'middle', 'font-size="11.5" fill="#555"')),
  );
  // Grid and y ticks: every decade gets a grid line; labels on at most ~12 of them.
  const every = Math.max(1, Math.ceil((hi - lo) / 12));
  for (let d = lo; d <= hi; d++) {
    const y = yOf(10 ** d);
    out.push(`<line x1="${m.left}" y1="${f(y)}" x2="${m.left + pw}" y2="${f(y)}" stroke="#e4e4e4"/>`);
    if ((d - lo) % every === 0) {
      out.push(`<line x1="${m.left - 5}" y1="${f(y)}" x2="${m.left}" y2="${f(y)}" stroke="black"/>`);
      out.push(`<text x="${f(m.left - 8)}" y="${f(y + 4)}" text-anchor="end">10<tspan dy="-6" font-size="10">${d}</tspan></text>`);
    } else {
      out.push(`<line x1="${m.left - 3}" y1="${f(y)}" x2="${m.left}" y2="${f(y)}" stroke="black"/>`);
    }
  }
  // x ticks at a 1-2-5 step giving at most ~10 intervals, plus t = 1.
  const step = niceStep(Math.max(1, T - 1) / 10);
  const xticks = [1, ...Array.from({ length: Math.floor(T / step) }, (_, i) => (i + 1) * step).filter((t) => t > 1 && t <= T)];
  for (const t of xticks) {
    const x = xOf(t);
    out.push(`<line x1="${f(x)}" y1="${m.top}" x2="${f(x)}" y2="${m.top + ph}" stroke="#f0f0f0"/>`);
    out.push(`<line x1="${f(x)}" y1="${m.top + ph}" x2="${f(x)}" y2="${m.top + ph + 5}" stroke="black"/>`);
    out.push(text(x, m.top + ph + 20, String(t), 'middle'));
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="black"/>`);
  out.push(text(m.left + pw / 2, Hpx - 16, 'timestep t (the loss is on the last step)', 'middle', 'font-size="14"'));
  out.push(
    `<text x="22" y="${f(m.top + ph / 2)}" text-anchor="middle" font-size="14" transform="rotate(-90 22 ${f(m.top + ph / 2)})">${esc('‖∂L/∂h_t‖ (log scale)')}</text>`,
  );
  // The lines: solid = measured, dashed = clipped. Non-positive / non-finite points break a line.
  const path = (values: number[]) => {
    let d = '';
    let pen = false;
    values.forEach((v, i) => {
      if (!(Number.isFinite(v) && v > 0)) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${f(xOf(i + 1))} ${f(yOf(v))} `;
      pen = true;
    });
    return d.trim();
  };
  for (const k of LAB_CELLS) {
    out.push(`<path class="series" data-cell="${k}" d="${path(report.series[k])}" fill="none" stroke="${COLOURS[k]}" stroke-width="2.2"/>`);
    if (report.clippedSeries) {
      out.push(
        `<path class="series clipped" data-cell="${k}_clipped" d="${path(report.clippedSeries[k])}" fill="none" stroke="${COLOURS[k]}" stroke-width="1.6" stroke-dasharray="7 4"/>`,
      );
    }
  }
  // Legend, to the right of the plot: colour, name, and the measured ratio h_1/h_T.
  const lx = m.left + pw + 18;
  const rows = LAB_CELLS.length + (report.clippedSeries ? 1 : 0);
  out.push(`<g class="legend">`);
  out.push(`<rect x="${lx - 8}" y="${m.top}" width="${m.right - 20}" height="${30 + rows * 38}" fill="white" stroke="#999"/>`);
  out.push(text(lx, m.top + 20, 'cell: ‖∂L/∂h_1‖ / ‖∂L/∂h_T‖', 'start', 'font-size="12" font-weight="bold"'));
  report.cells.forEach((r, i) => {
    const y = m.top + 44 + i * 38;
    out.push(`<line x1="${lx}" y1="${y}" x2="${lx + 28}" y2="${y}" stroke="${COLOURS[r.cell]}" stroke-width="3"/>`);
    out.push(text(lx + 36, y + 4, LAB_CELL_LABELS[r.cell]));
    out.push(text(lx + 36, y + 20, `${fmtNum(r.ratio)}× (${r.verdict.split(':')[0]})`, 'start', 'font-size="11" fill="#444"'));
  });
  if (report.clippedSeries) {
    const y = m.top + 44 + LAB_CELLS.length * 38;
    out.push(`<line x1="${lx}" y1="${y}" x2="${lx + 28}" y2="${y}" stroke="#333" stroke-width="1.6" stroke-dasharray="7 4"/>`);
    out.push(text(lx + 36, y + 4, `clipped to ${fmtNum(c.clip)}`));
  }
  out.push(`</g>`, `</svg>`, '');
  return out.join('\n');
}

function text(x: number, y: number, s: string, anchor: 'start' | 'middle' | 'end' = 'start', attrs = ''): string {
  return `<text x="${f(x)}" y="${f(y)}" text-anchor="${anchor}"${attrs ? ` ${attrs}` : ''}>${esc(s)}</text>`;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const f = (v: number) => (Math.round(v * 10) / 10).toString();

/** 1, 2, 5, 10, 20, 50, … : the smallest such step ≥ raw. */
function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const k of [1, 2, 5, 10]) if (k * p >= raw) return Math.max(1, k * p);
  return 10 * p;
}

/** Short human number: 0.23, 4.1e-05, 3.2e+04. */
export function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e-2 && a < 1e4 ? String(Number(v.toPrecision(2))) : v.toExponential(1);
}

function l2(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  return Math.sqrt(s);
}

/** `count` blocks `[n, n]` (row-major) of N(0, std²) draws. */
function gaussianBlocks(rng: Rng, n: number, count: number, std: number): Float32Array[] {
  return Array.from({ length: count }, () => Float32Array.from({ length: n * n }, () => rng.normal() * std));
}
