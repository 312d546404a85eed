import { describe, enumOption, intOption, numberOption, objectOption, positiveOption, ratioOption } from '../core/validate.js';

/**
 * Streaming drift detectors: each consumes one value at a time and returns an anomaly score in [0, 1]
 * computed from that value and the ones before it only (no look-ahead), in bounded memory.
 */
export interface Detector {
  /**
   * Takes the next value of the stream and returns its anomaly score in [0, 1], computed from this value and
   * the ones before it only. Throws a `RangeError` for a value that is not a finite number, before any state
   * changes.
   */
  update(value: number): number;
  /** Forgets everything learned, as if newly constructed with the same options. */
  reset(): void;
  /** The level the detector currently considers normal (for alert messages), if it has one. */
  baseline?(): number;
}

/** Refuses a value that is not a finite number before it reaches a detector's state (a NaN would break every order statistic). */
export function finiteValue(detector: string, x: unknown): void {
  if (typeof x !== 'number' || !Number.isFinite(x)) {
    throw new RangeError(`${detector}.update: expected a finite number, got ${describe(x)}; the value was not used`);
  }
}

/**
 * Insertion-sorted copy of a ring buffer: order statistics in O(1), an update in O(log W) plus one move of
 * the values between the leaving value's place and the arriving value's place (at most W, usually fewer).
 */
export class SortedWindow {
  private readonly ring: Float64Array;
  private readonly sorted: Float64Array;
  private pos = 0;
  private filled = 0;
  constructor(readonly size: number) {
    this.ring = new Float64Array(size);
    this.sorted = new Float64Array(size);
  }
  /** Adds a value; once `size` values are held, the oldest one leaves. */
  push(x: number): void {
    const s = this.sorted;
    if (this.filled === this.size) {
      const old = this.ring[this.pos]!;
      const from = lowerBound(s, this.filled, old);
      // the place of x once `old` is gone: shift the values in between by one towards `from`
      let to = lowerBound(s, this.filled, x);
      if (to > from) {
        to--;
        s.copyWithin(from, from + 1, to + 1);
      } else if (to < from) s.copyWithin(to + 1, to, from);
      s[to] = x;
    } else {
      const to = lowerBound(s, this.filled, x);
      s.copyWithin(to + 1, to, this.filled);
      s[to] = x;
      this.filled++;
    }
    this.ring[this.pos] = x;
    this.pos = (this.pos + 1) % this.size;
  }
  /** Values held (at most `size`). */
  get count(): number {
    return this.filled;
  }
  /** The q-quantile (0..1) of the values held, linearly interpolated between ranks; NaN when empty. */
  quantile(q: number): number {
    const s = this.sorted;
    const n = this.filled;
    if (n === 0) return Number.NaN;
    const idx = q * (n - 1);
    const lo = Math.floor(idx);
    const hi = Math.min(n - 1, lo + 1);
    return s[lo]! + (s[hi]! - s[lo]!) * (idx - lo);
  }
  /** Share of values strictly below x and at most x (for a mid-rank). */
  rank(x: number): number {
    const s = this.sorted;
    const n = this.filled;
    if (n === 0) return 0.5;
    const lo = lowerBound(s, n, x);
    let hi = lo;
    while (hi < n && s[hi] === x) hi++;
    return (lo + hi) / 2 / n;
  }
  /** Forgets every value (the buffers are kept). */
  clear(): void {
    this.pos = 0;
    this.filled = 0;
  }
  /** Bytes held (both buffers). */
  get bytes(): number {
    return this.ring.byteLength + this.sorted.byteLength;
  }
}

/**
 * How far `x` is from the window's median in units of a robust scale: the IQR (as a normal σ), at least a
 * twentieth of the 1–99% range (spiky or quantised signals) and `relativeFloor` of the median's magnitude.
 */
export function robustZ(w: SortedWindow, x: number, relativeFloor: number): number {
  const med = w.quantile(0.5);
  return Math.abs(x - med) / robustScale(w, Math.abs(med) * relativeFloor);
}

/** The robust scale of `robustZ`: IQR as a normal σ, at least a twentieth of the 1–99% range and `floor`. */
export function robustScale(w: SortedWindow, floor = 0): number {
  const iqr = w.quantile(0.75) - w.quantile(0.25);
  const range = w.quantile(0.99) - w.quantile(0.01);
  return Math.max(iqr / 1.349, range / 20, floor, 1e-9);
}

function lowerBound(a: Float64Array, n: number, x: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Options of {@link RobustDriftDetector}; every one is checked at construction (`CONFIG_INVALID`). */
export interface RobustDetectorOptions {
  /** Values in the baseline window. Default 1500. */
  window?: number;
  /** Values averaged for the short-term level. Default 6. */
  short?: number;
  /** Rows after an alert during which scores are damped (an alert is a spike, not a held level). Default 300. */
  refractory?: number;
  /** Values needed before scoring. Default 30. */
  warmup?: number;
  /** z at which the score reaches 1 − 1/e. Default 20. */
  zScale?: number;
  /** Score at which an alert starts the refractory period. Default 0.5. */
  alertAt?: number;
  /** Multiplier of scores inside the refractory period. Default 0.5. */
  damp?: number;
  /** How the short-term level is taken: `mean`, or `median` (a lone spike does not move it). Default mean. */
  level?: 'mean' | 'median';
  /** The scale is at least this share of the baseline's magnitude (quantised or very steady signals). Default 0.001. */
  relativeFloor?: number;
}

const ROBUST_OPTIONS = ['window', 'short', 'refractory', 'warmup', 'zScale', 'alertAt', 'damp', 'level', 'relativeFloor'] as const;

/**
 * A robust, distribution-free detector: how extreme the current value and the short-term level are
 * against the recent baseline (median and a scale from the IQR and the 1–99% range), turned into a score,
 * then damped for a while after an alert, because an alert should be a spike, not a held level.
 */
export class RobustDriftDetector implements Detector {
  private readonly base: SortedWindow;
  private readonly levels: SortedWindow;
  private readonly recent: number[] = [];
  private readonly shortN: number;
  private readonly refractory: number;
  private readonly warmup: number;
  private readonly zScale: number;
  private readonly alertAt: number;
  private readonly damp: number;
  private readonly median: boolean;
  private readonly relativeFloor: number;
  private sinceAlert = Number.POSITIVE_INFINITY;

  constructor(options: RobustDetectorOptions = {}) {
    const o = objectOption('', options, ROBUST_OPTIONS) as RobustDetectorOptions;
    const window = intOption('window', o.window ?? 1500, 10);
    this.base = new SortedWindow(window);
    this.levels = new SortedWindow(window);
    this.shortN = intOption('short', o.short ?? 6, 1);
    this.refractory = intOption('refractory', o.refractory ?? 300, 0);
    this.warmup = intOption('warmup', o.warmup ?? 30, 0);
    this.zScale = positiveOption('zScale', o.zScale ?? 20);
    this.alertAt = ratioOption('alertAt', o.alertAt ?? 0.5);
    this.damp = ratioOption('damp', o.damp ?? 0.5, true);
    this.median = enumOption('level', o.level ?? 'mean', ['mean', 'median']) === 'median';
    this.relativeFloor = numberOption('relativeFloor', o.relativeFloor ?? 1e-3, 0);
  }

  private z(w: SortedWindow, x: number): number {
    return robustZ(w, x, this.relativeFloor);
  }

  /** Scores one value. A value that is not a finite number is refused with a RangeError and changes nothing. */
  update(x: number): number {
    finiteValue('RobustDriftDetector', x);
    this.recent.push(x);
    if (this.recent.length > this.shortN) this.recent.shift();
    let level = 0;
    if (this.median) {
      const sorted = [...this.recent].sort((a, b) => a - b);
      const m = sorted.length >> 1;
      level = sorted.length % 2 === 1 ? sorted[m]! : (sorted[m - 1]! + sorted[m]!) / 2;
    } else {
      for (const v of this.recent) level += v;
      level /= this.recent.length;
    }
    let score = 0;
    if (this.base.count >= this.warmup) {
      const z = Math.max(this.z(this.base, x), this.z(this.levels, level));
      score = 1 - Math.exp(-z / this.zScale);
      if (this.sinceAlert < this.refractory) score *= this.damp;
      else if (score >= this.alertAt) this.sinceAlert = 0;
    }
    this.sinceAlert++;
    this.base.push(x);
    this.levels.push(level);
    return Math.min(1, Math.max(0, score));
  }

  baseline(): number {
    return this.base.quantile(0.5);
  }

  /** Forgets the baseline and the alert state, as if newly constructed. */
  reset(): void {
    this.base.clear();
    this.levels.clear();
    this.recent.length = 0;
    this.sinceAlert = Number.POSITIVE_INFINITY;
  }
}
