// Progress reporting for the training loop: one line with step/total, loss, characters (tokens) per
// second and ETA. On a terminal (stream.isTTY) the line is redrawn in place with `\r`; elsewhere (logs,
// CI, pipes) it prints plain lines every `intervalSeconds`. Tokens per step (batch × context) come from
// the caller, so chars/s = tokensPerStep × steps/s. The formatting functions are pure and tested alone.
import { assertNumber } from '@attend/core';

/** Where progress goes: `process.stderr`, or anything with `write`. */
export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  /** Terminal width (lines are cut to fit, so `\r` redraws stay on one row). */
  columns?: number;
}

/** What one progress line shows. */
export interface ProgressLine {
  step: number;
  totalSteps?: number;
  /** Training loss (nats), usually smoothed. */
  loss: number;
  valLoss?: number;
  lr?: number;
  /** Tokens (characters, for a char model) per second. */
  charsPerSecond: number;
  /** What is counted per second (default `chars`). */
  unit?: string;
  /** Seconds left; undefined when unknown. */
  etaSeconds?: number;
}

/** `m:ss` below an hour, `h:mm:ss` above, `--:--` when unknown. */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** 950 → `950`, 12_345 → `12.3k`, 2_500_000 → `2.50M`. */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return '?';
  const a = Math.abs(n);
  if (a < 1000) return a < 10 && a !== Math.round(a) ? n.toFixed(1) : String(Math.round(n));
  if (a < 1e6) return `${(n / 1e3).toFixed(a < 1e4 ? 2 : 1)}k`;
  if (a < 1e9) return `${(n / 1e6).toFixed(a < 1e7 ? 2 : 1)}M`;
  return `${(n / 1e9).toFixed(2)}G`;
}

/**
 * Seconds until training stops: the remaining steps at the current rate, or the time limit left, whichever
 * comes first; undefined when neither is known.
 */
export function estimateEta(p: {
  step: number;
  totalSteps?: number;
  stepsPerSecond: number;
  sessionSeconds?: number;
  timeLimitSeconds?: number;
}): number | undefined {
  const bySteps = p.totalSteps !== undefined && p.stepsPerSecond > 0 ? Math.max(0, p.totalSteps - p.step) / p.stepsPerSecond : undefined;
  const byTime = p.timeLimitSeconds !== undefined && p.sessionSeconds !== undefined ? Math.max(0, p.timeLimitSeconds - p.sessionSeconds) : undefined;
  if (bySteps === undefined) return byTime;
  return byTime === undefined ? bySteps : Math.min(bySteps, byTime);
}

/** `[####......]` for `fraction` of `width` cells. */
export function formatBar(fraction: number, width: number): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const filled = Math.round(f * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/**
 * One progress line, e.g. `step 120/2000 [#.........] 6% | loss 2.3456 | val 2.4012 | 12.3k chars/s | ETA 3:12`.
 * `bar` adds the bar (terminal mode); `width` cuts the line to that many characters.
 */
export function formatProgressLine(p: ProgressLine, opts: { bar?: boolean; width?: number } = {}): string {
  const parts: string[] = [];
  if (p.totalSteps !== undefined && p.totalSteps > 0) {
    const frac = p.step / p.totalSteps;
    const pct = `${Math.floor(frac * 100)}%`;
    parts.push(`step ${p.step}/${p.totalSteps} ${opts.bar ? `${formatBar(frac, 20)} ` : ''}${pct}`);
  } else {
    parts.push(`step ${p.step}`);
  }
  parts.push(`loss ${p.loss.toFixed(4)}`);
  if (p.valLoss !== undefined) parts.push(`val ${p.valLoss.toFixed(4)}`);
  if (p.lr !== undefined) parts.push(`lr ${p.lr.toExponential(2)}`);
  parts.push(`${formatCount(p.charsPerSecond)} ${p.unit ?? 'chars'}/s`);
  parts.push(`ETA ${formatDuration(p.etaSeconds)}`);
  const line = parts.join(' | ');
  return opts.width !== undefined && line.length > opts.width ? line.slice(0, Math.max(0, opts.width)) : line;
}

/** What `update` needs; `train()`'s `StepInfo` has all of it. */
export interface ProgressUpdate {
  step: number;
  totalSteps?: number;
  loss: number;
  lossEma?: number;
  valLoss?: number;
  lr?: number;
  stepsPerSecond: number;
  sessionSeconds?: number;
  timeLimitSeconds?: number;
}

export interface ProgressOptions {
  stream: ProgressStream;
  /** Tokens (characters) per optimizer step: batch size × context length. */
  tokensPerStep: number;
  /** What `tokensPerStep` counts, shown as `<unit>/s` (default `chars`; e.g. `pairs` for translation). */
  unit?: string;
  /** Plain (non-terminal) mode: a line at most every this many seconds (and on every evaluation). Default 10. */
  intervalSeconds?: number;
  /** Terminal mode: redraw at most every this many seconds. Default 0.1. */
  redrawSeconds?: number;
  /** Clock in seconds (tests). Default performance.now() / 1000. */
  now?: () => number;
}

/** Draws progress from `train()`'s `onStep` infos. */
export class ProgressReporter {
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private readonly tokensPerStep: number;
  private readonly unit: string | undefined;
  private readonly intervalSeconds: number;
  private readonly redrawSeconds: number;
  private readonly now: () => number;
  private lastDraw = -Infinity;
  private lastLine = '';
  private drawn = false; // a terminal line is showing and needs clearing before other output
  private lastVal: number | undefined;

  constructor(opts: ProgressOptions) {
    assertNumber('progress tokensPerStep', opts.tokensPerStep, 0);
    this.stream = opts.stream;
    this.tty = opts.stream.isTTY === true;
    this.tokensPerStep = opts.tokensPerStep;
    this.unit = opts.unit;
    this.intervalSeconds = opts.intervalSeconds ?? 10;
    this.redrawSeconds = opts.redrawSeconds ?? 0.1;
    this.now = opts.now ?? (() => performance.now() / 1000);
  }

  /** The line for `u` (no drawing). */
  line(u: ProgressUpdate): string {
    if (u.valLoss !== undefined) this.lastVal = u.valLoss;
    return formatProgressLine(
      {
        step: u.step,
        ...(u.totalSteps !== undefined ? { totalSteps: u.totalSteps } : {}),
        loss: u.lossEma ?? u.loss,
        ...(this.lastVal !== undefined ? { valLoss: this.lastVal } : {}),
        ...(u.lr !== undefined ? { lr: u.lr } : {}),
        charsPerSecond: this.tokensPerStep * u.stepsPerSecond,
        ...(this.unit !== undefined ? { unit: this.unit } : {}),
        etaSeconds: estimateEta(u),
      },
      this.tty ? { bar: true, width: Math.max(20, (this.stream.columns ?? 80) - 1) } : {},
    );
  }

  /** Shows `u` if enough time passed since the last line (always on the last step and on evaluations). */
  update(u: ProgressUpdate): void {
    const t = this.now();
    const last = u.totalSteps !== undefined && u.step >= u.totalSteps;
    const wait = this.tty ? this.redrawSeconds : this.intervalSeconds;
    if (!last && u.valLoss === undefined && t - this.lastDraw < wait) return;
    this.lastDraw = t;
    this.lastLine = this.line(u);
    if (this.tty) {
      this.stream.write(`\r${this.lastLine}\x1b[K`);
      this.drawn = true;
    } else {
      this.stream.write(`${this.lastLine}\n`);
    }
  }

  /** Prints `text` (e.g. a sample) on its own lines without mangling the bar, then redraws the bar. */
  log(text: string): void {
    if (this.tty && this.drawn) {
      this.stream.write(`\r\x1b[K${text}\n${this.lastLine}`);
    } else {
      this.stream.write(`${text}\n`);
    }
  }

  /** Ends the bar's line (terminal mode); call once when training stops. */
  done(): void {
    if (this.tty && this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}

/** A progress reporter; pass `reporter.update.bind(reporter)` (or a closure) as `train()`'s `onStep`. */
export function createProgressReporter(opts: ProgressOptions): ProgressReporter {
  return new ProgressReporter(opts);
}
