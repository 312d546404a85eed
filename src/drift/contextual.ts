/**
 * A contextual drift detector: three surprises per value, each turned into a tail probability against
 * its own recent history (the "anomaly likelihood" idea of Ahmad et al., 2017: is the short-term average
 * surprise unusual for this signal?), combined, and emitted as a short spike.
 *
 * - magnitude: how far the value and the short-term level are from a robust baseline (median, IQR);
 * - sequence: how unlikely the value's quantile bin is after the previous bins (an order-k transition
 *   model with forgetting), so a broken pattern inside the usual range is seen;
 * - change: how unusual the step from the previous value is.
 *
 * Streaming, no look-ahead, bounded memory (windows and a table of B^(k+1) counts).
 */
import type { Detector } from './detector.js';

/** Sorted copy of a ring buffer: order statistics in O(W) per update. */
class Window {
  private readonly ring: Float64Array;
  private readonly sorted: number[] = [];
  private pos = 0;
  private filled = 0;
  constructor(readonly size: number) {
    this.ring = new Float64Array(size);
  }
  push(x: number): void {
    if (this.filled === this.size) this.sorted.splice(lowerBound(this.sorted, this.ring[this.pos]!), 1);
    else this.filled++;
    this.ring[this.pos] = x;
    this.pos = (this.pos + 1) % this.size;
    this.sorted.splice(lowerBound(this.sorted, x), 0, x);
  }
  get count(): number {
    return this.filled;
  }
  quantile(q: number): number {
    const s = this.sorted;
    const idx = q * (s.length - 1);
    const lo = Math.floor(idx);
    const hi = Math.min(s.length - 1, lo + 1);
    return s[lo]! + (s[hi]! - s[lo]!) * (idx - lo);
  }
  /** Mid-rank of x in [0, 1]. */
  rank(x: number): number {
    const s = this.sorted;
    if (s.length === 0) return 0.5;
    const lo = lowerBound(s, x);
    let hi = lo;
    while (hi < s.length && s[hi] === x) hi++;
    return (lo + hi) / 2 / s.length;
  }
  clear(): void {
    this.sorted.length = 0;
    this.pos = 0;
    this.filled = 0;
  }
}

function lowerBound(a: number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Tail probability of a short-term mean of raw surprises against their long-run mean and spread. */
class Likelihood {
  private readonly ring: Float64Array;
  private pos = 0;
  private filled = 0;
  private sum = 0;
  private sumSq = 0;
  private readonly recent: number[] = [];
  private recentSum = 0;
  constructor(
    size: number,
    private readonly shortN: number,
    private readonly minStd: number,
  ) {
    this.ring = new Float64Array(size);
  }
  /** Returns the upper-tail probability of the current short-term mean (1 while learning). */
  update(raw: number, learning: number): number {
    this.recent.push(raw);
    this.recentSum += raw;
    if (this.recent.length > this.shortN) this.recentSum -= this.recent.shift()!;
    let p = 1;
    if (this.filled >= learning) {
      const mean = this.sum / this.filled;
      const std = Math.max(this.minStd, Math.sqrt(Math.max(0, this.sumSq / this.filled - mean * mean)));
      const z = (this.recentSum / this.recent.length - mean) / std;
      p = upperTail(z);
    }
    if (this.filled === this.ring.length) {
      const old = this.ring[this.pos]!;
      this.sum -= old;
      this.sumSq -= old * old;
    } else this.filled++;
    this.ring[this.pos] = raw;
    this.pos = (this.pos + 1) % this.ring.length;
    this.sum += raw;
    this.sumSq += raw * raw;
    return p;
  }
  clear(): void {
    this.pos = this.filled = 0;
    this.sum = this.sumSq = this.recentSum = 0;
    this.recent.length = 0;
  }
}

/** P(Z > z) for a standard normal (Abramowitz–Stegun 7.1.26 via erfc), accurate to ~1e-7 relative in the tail we use. */
function upperTail(z: number): number {
  if (z < 0) return 1 - upperTail(-z);
  const x = z / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  // Numerical Recipes erfc (Chebyshev), relative error < 1.2e-7 everywhere
  const erfc =
    t *
    Math.exp(
      -x * x -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return erfc / 2;
}

export interface ContextualDetectorOptions {
  /** Values in the baseline window. Default 1000. */
  window?: number;
  /** Values averaged for the short-term level. Default 5. */
  short?: number;
  /** Quantile bins of the sequence model. Default 8. */
  bins?: number;
  /** Previous bins that form the context. Default 2. */
  order?: number;
  /** Per-update forgetting of the transition counts. Default 0.999. */
  forget?: number;
  /** Raw surprises remembered by each likelihood. Default 2000. */
  history?: number;
  /** Raw surprises averaged for the short-term mean. Default 5. */
  likelihoodShort?: number;
  /** Floor of the surprise spread. Default 0.05. */
  minStd?: number;
  /** Values before scoring. Default 150. */
  warmup?: number;
  /** Tail probability that maps to score 1 (log scale). Default 1e-12. */
  floorP?: number;
  /** Rows after an alert during which scores are damped. Default 200. */
  refractory?: number;
  /** Score that starts the refractory period. Default 0.5. */
  alertAt?: number;
  /** Multiplier inside the refractory period. Default 0.3. */
  damp?: number;
  /** Which surprises count. Default all. */
  use?: readonly ('magnitude' | 'sequence' | 'change' | 'seasonal')[];
  /** Quiet rows (score below alertAt × quietBelow) that end the damping early. Default Infinity (off). */
  quiet?: number;
  quietBelow?: number;
  /** Longest period looked for (values). Default 600. */
  maxPeriod?: number;
  /** Autocorrelation a period needs to be used. Default 0.6. */
  minAcf?: number;
  /** Values between period searches. Default 500. */
  periodEvery?: number;
}

export class ContextualDriftDetector implements Detector {
  private readonly o: Required<Omit<ContextualDetectorOptions, 'use'>>;
  private readonly use: ReadonlySet<string>;
  private readonly base: Window;
  private readonly levels: Window;
  private readonly steps: Window;
  private readonly recent: number[] = [];
  private readonly counts: Float64Array;
  private readonly rowTotal: Float64Array;
  private readonly rowSeen: Float64Array;
  private readonly ctx: number[] = [];
  private readonly lMag: Likelihood;
  private readonly lSeq: Likelihood;
  private readonly lChg: Likelihood;
  private readonly hist: Float64Array;
  private readonly resid: Window;
  private readonly lSea: Likelihood;
  private period = 0;
  private prev = Number.NaN;
  private n = 0;
  private sinceAlert = Number.POSITIVE_INFINITY;
  private quietFor = 0;

  constructor(options: ContextualDetectorOptions = {}) {
    this.o = {
      window: options.window ?? 1000,
      short: options.short ?? 5,
      bins: options.bins ?? 8,
      order: options.order ?? 2,
      forget: options.forget ?? 0.999,
      history: options.history ?? 2000,
      likelihoodShort: options.likelihoodShort ?? 5,
      minStd: options.minStd ?? 0.05,
      warmup: options.warmup ?? 150,
      floorP: options.floorP ?? 1e-12,
      refractory: options.refractory ?? 200,
      alertAt: options.alertAt ?? 0.5,
      damp: options.damp ?? 0.3,
      maxPeriod: options.maxPeriod ?? 600,
      quiet: options.quiet ?? Number.POSITIVE_INFINITY,
      quietBelow: options.quietBelow ?? 0.5,
      minAcf: options.minAcf ?? 0.6,
      periodEvery: options.periodEvery ?? 500,
    };
    this.hist = new Float64Array(Math.max(this.o.window, 3 * this.o.maxPeriod + 2));
    this.resid = new Window(this.o.window);
    this.lSea = new Likelihood(this.o.history, this.o.likelihoodShort, this.o.minStd);
    this.use = new Set(options.use ?? ['magnitude', 'change', 'seasonal']);
    this.base = new Window(this.o.window);
    this.levels = new Window(this.o.window);
    this.steps = new Window(this.o.window);
    const rows = this.o.bins ** this.o.order;
    this.counts = new Float64Array(rows * this.o.bins);
    this.rowTotal = new Float64Array(rows);
    this.rowSeen = new Float64Array(rows);
    this.lMag = new Likelihood(this.o.history, this.o.likelihoodShort, this.o.minStd);
    this.lSeq = new Likelihood(this.o.history, this.o.likelihoodShort, this.o.minStd);
    this.lChg = new Likelihood(this.o.history, this.o.likelihoodShort, this.o.minStd);
  }

  private z(w: Window, x: number): number {
    const med = w.quantile(0.5);
    const iqr = w.quantile(0.75) - w.quantile(0.25);
    const range = w.quantile(0.99) - w.quantile(0.01);
    const scale = Math.max(iqr / 1.349, range / 20, Math.abs(med) * 1e-3, 1e-9);
    return Math.abs(x - med) / scale;
  }

  /** The value `lag` steps back (lag ≥ 1), from the history ring. */
  private back(lag: number): number {
    const L = this.hist.length;
    return this.hist[(((this.n - lag) % L) + L) % L]!;
  }

  /** Strongest autocorrelation lag over the history (0 when none reaches minAcf). */
  private findPeriod(): number {
    const N = Math.min(this.n, this.hist.length);
    const maxLag = Math.min(this.o.maxPeriod, Math.floor(N / 3));
    if (maxLag < 4) return 0;
    const xs = new Float64Array(N);
    let mean = 0;
    for (let i = 0; i < N; i++) mean += xs[i] = this.back(N - i);
    mean /= N;
    let v0 = 0;
    for (let i = 0; i < N; i++) v0 += (xs[i]! - mean) ** 2;
    if (v0 === 0) return 0;
    let best = 0;
    let bestLag = 0;
    let prevAcf = 1;
    let descended = false;
    for (let lag = 2; lag <= maxLag; lag++) {
      let c = 0;
      for (let i = lag; i < N; i++) c += (xs[i]! - mean) * (xs[i - lag]! - mean);
      const acf = c / v0;
      // only peaks after the first descent count (short lags are trivially correlated)
      if (acf < prevAcf) descended = true;
      if (descended && acf > best) {
        best = acf;
        bestLag = lag;
      }
      prevAcf = acf;
    }
    return best >= this.o.minAcf ? bestLag : 0;
  }

  /** Robust z of a non-negative distance against its window (median and spread of the distances). */
  private z0(w: Window, r: number): number {
    const med = w.quantile(0.5);
    const scale = Math.max(w.quantile(0.9) - med, (w.quantile(0.99) - med) / 5, 1e-9);
    return Math.max(0, r - med) / scale;
  }

  update(x: number): number {
    this.n++;
    this.recent.push(x);
    if (this.recent.length > this.o.short) this.recent.shift();
    let level = 0;
    for (const v of this.recent) level += v;
    level /= this.recent.length;
    const step = Number.isNaN(this.prev) ? 0 : Math.abs(x - this.prev);
    this.prev = x;

    const warm = this.base.count >= 30;
    // magnitude surprise
    const mag = warm ? Math.min(50, Math.max(this.z(this.base, x), this.z(this.levels, level))) : 0;
    // change surprise
    const chg = warm ? Math.min(50, this.z(this.steps, step)) : 0;
    // sequence surprise
    const B = this.o.bins;
    const bin = warm ? Math.min(B - 1, Math.floor(this.base.rank(x) * B)) : 0;
    let seq = 0;
    if (this.ctx.length === this.o.order) {
      let row = 0;
      for (const b of this.ctx) row = row * B + b;
      // lazy forgetting: decay this row to now
      const decay = this.o.forget ** (this.n - this.rowSeen[row]!);
      if (decay !== 1) {
        for (let i = 0; i < B; i++) this.counts[row * B + i]! *= decay;
        this.rowTotal[row]! *= decay;
      }
      this.rowSeen[row] = this.n;
      const p = (this.counts[row * B + bin]! + 0.1) / (this.rowTotal[row]! + 0.1 * B);
      seq = -Math.log(p);
      this.counts[row * B + bin]! += 1;
      this.rowTotal[row]! += 1;
    }
    this.ctx.push(bin);
    if (this.ctx.length > this.o.order) this.ctx.shift();

    // seasonal surprise: distance to the same phase of the last periods (±1 step of phase jitter)
    if (this.n > this.o.warmup && (this.period === 0 || this.n % this.o.periodEvery === 0) && this.n % 50 === 0) this.period = this.findPeriod();
    let sea = 0;
    const P = this.period;
    if (P > 0 && this.n > 2 * P + 2) {
      let r = Number.POSITIVE_INFINITY;
      for (let k = 1; k <= 2; k++) for (let j = -1; j <= 1; j++) r = Math.min(r, Math.abs(x - this.back(k * P + j - 1 + 1)));
      sea = this.resid.count >= 30 ? Math.min(50, this.z0(this.resid, r)) : 0;
      this.resid.push(r);
    }
    this.hist[this.n % this.hist.length] = x;

    this.base.push(x);
    this.levels.push(level);
    this.steps.push(step);

    const learning = Math.max(1, this.o.warmup - 30);
    const pMag = this.lMag.update(mag, learning);
    const pSeq = this.lSeq.update(seq, learning);
    const pChg = this.lChg.update(chg, learning);
    const pSea = this.lSea.update(sea, learning);
    if (this.n <= this.o.warmup) return 0;
    let p = 1;
    if (this.use.has('magnitude')) p = Math.min(p, pMag);
    if (this.use.has('sequence')) p = Math.min(p, pSeq);
    if (this.use.has('change')) p = Math.min(p, pChg);
    if (this.use.has('seasonal') && this.period > 0) p = Math.min(p, pSea);
    p = Math.min(1, p * this.use.size);
    let score = Math.min(1, Math.max(0, Math.log(Math.max(p, 1e-300)) / Math.log(this.o.floorP)));
    // an alert is a spike: after one, scores are damped until they have been quiet for `quiet` rows
    // (or `refractory` rows have passed)
    if (this.sinceAlert < this.o.refractory) {
      this.quietFor = score < this.o.alertAt * this.o.quietBelow ? this.quietFor + 1 : 0;
      if (this.quietFor >= this.o.quiet) this.sinceAlert = Number.POSITIVE_INFINITY;
      score *= this.o.damp;
    } else if (score >= this.o.alertAt) {
      this.sinceAlert = 0;
      this.quietFor = 0;
    }
    this.sinceAlert++;
    return score;
  }

  baseline(): number {
    return this.base.count === 0 ? Number.NaN : this.base.quantile(0.5);
  }

  reset(): void {
    this.base.clear();
    this.levels.clear();
    this.steps.clear();
    this.recent.length = 0;
    this.ctx.length = 0;
    this.counts.fill(0);
    this.rowTotal.fill(0);
    this.rowSeen.fill(0);
    this.lMag.clear();
    this.lSeq.clear();
    this.lChg.clear();
    this.lSea.clear();
    this.resid.clear();
    this.hist.fill(0);
    this.period = 0;
    this.prev = Number.NaN;
    this.n = 0;
    this.sinceAlert = Number.POSITIVE_INFINITY;
  }
}
