/**
 * The likelihood drift detector: surprises per value, each turned into a tail probability against its
 * own recent history (the "anomaly likelihood" of Ahmad et al., 2017: is the short-term average surprise
 * unusual for this signal?), combined by Fisher's method with the value's rank among the baseline, and
 * emitted as a short spike.
 *
 * - magnitude: how far the value and the short-term level are from a robust baseline (median, IQR);
 * - seasonal: once a period is found (average magnitude difference function over the history), how far
 *   the value is from the same phase of the last two periods (±1 step), against the usual distance;
 * - analog: how far the value is from what followed the most similar recent contexts (the median successor
 *   of the nearest `analogNeighbours` windows of `analogLength` values among the last `analogWindow`): a
 *   method-of-analogues forecast, so a pattern that breaks off is seen even without a period;
 * - rank: the two-sided tail probability of the value's rank among the baseline window (distribution-free:
 *   a value the signal has never reached is rare however spiky the signal is).
 *
 * Three rules keep alerts to what a person would call an event:
 * - refractory: after an alert, scores are damped for a while (an alert is a spike, not a held level);
 * - recurring alerts: an alert that falls one interval after two earlier alerts that were themselves one
 *   interval apart (within `periodicTolerance`), with a third before them, is a pattern (a daily job), and
 *   is damped like a refractory one;
 * - relearning: when the short-term level stays far outside the baseline (`relearnAfter` values beyond
 *   `relearnZ` robust scales on one side), the signal has moved to a new regime: the baseline restarts from
 *   those values and the surprise histories restart, so the new regime is judged on its own terms.
 *
 * Chosen by measurement on the NAB subset (bench/README.md, with the ablation of each part): a sequence
 * model over quantile bins, a step-size surprise and a left matrix profile (nearest-neighbour subsequence
 * distance) were tried as further surprises and each lowered the score, so they are not here.
 *
 * Streaming, no look-ahead, bounded memory (fixed windows and a history ring).
 */
import { type Detector, finiteValue, robustScale, robustZ, SortedWindow as Window } from './detector.js';
import { likelihoodSettings } from './likelihood-options.js';
import { Likelihood, fisherCombine } from './likelihood-tail.js';

// the probabilities have their own file; re-exported here so `likelihood.js` keeps offering fisherCombine
export { fisherCombine } from './likelihood-tail.js';

/** Options of {@link LikelihoodDriftDetector}; every one is checked at construction (`CONFIG_INVALID`). */
export interface LikelihoodDetectorOptions {
  /** Values in the baseline window (median, scale and rank). Default 2000. */
  window?: number;
  /** Values averaged for the short-term level. Default 5. */
  short?: number;
  /** Surprises remembered by each likelihood. Default 2000. */
  history?: number;
  /** Surprises averaged for the likelihood's short-term mean. Default 3. */
  likelihoodShort?: number;
  /** Floor of the surprises' spread. Default 0.2. */
  minStd?: number;
  /** Values before scoring. Default 150. */
  warmup?: number;
  /** Tail probability that maps to score 1 (log scale). Default 1e-12. */
  floorP?: number;
  /** Rows after an alert during which scores are damped (an alert is a spike, not a held level). Default 80. */
  refractory?: number;
  /** Score that starts the refractory period. Default 0.47. */
  alertAt?: number;
  /** Multiplier inside the refractory period. Default 0.3. */
  damp?: number;
  /** Longest period looked for (values: a day of 5-minute samples, a week of hourly ones); 0 turns the seasonal surprise off. Default 300. */
  maxPeriod?: number;
  /** How much of the typical difference the period's null must remove (0–1). Default 0.7. */
  minPeriodStrength?: number;
  /** Values between period searches once one is found. Default 500. */
  periodEvery?: number;
  /** Context length of the analog forecast; 0 turns the analog surprise off. Default 6. */
  analogLength?: number;
  /** Nearest contexts whose successors form the forecast. Default 8. */
  analogNeighbours?: number;
  /** Past positions searched for similar contexts (at most 4 × maxPeriod, the history kept). Default 1000. */
  analogWindow?: number;
  /** Combine the rank of the value among the baseline window with the surprises. Default true. */
  rank?: boolean;
  /** Relative tolerance on the interval for an alert to count as recurring (damped); 0 turns it off. Default 0.04. */
  periodicTolerance?: number;
  /** Values of a held shift after which the baseline is relearned; 0 turns it off. Default 100. */
  relearnAfter?: number;
  /** Distance from the baseline's median, in robust scales, that counts as a held shift. Default 4. */
  relearnZ?: number;
}

export class LikelihoodDriftDetector implements Detector {
  private readonly o: Required<LikelihoodDetectorOptions>;
  private readonly base: Window;
  private readonly levels: Window;
  private readonly resid: Window;
  private readonly recent: number[] = [];
  /** The history ring, written twice (at i and i + H) so a context never wraps: `mirror[j]` for j in [0, 2H). */
  private readonly mirror: Float64Array;
  private readonly H: number;
  private readonly lMag: Likelihood;
  private readonly lSea: Likelihood;
  private readonly lAna: Likelihood;
  private readonly nearD: Float64Array;
  private readonly nearV: Float64Array;
  private readonly ctx: Float64Array;
  private readonly ps: number[] = [];
  private period = 0;
  private n = 0;
  private sinceAlert = Number.POSITIVE_INFINITY;
  /** Rows at which the last alerts started (newest last). */
  private readonly alerts: number[] = [];
  private shiftSide = 0;
  private shiftRun = 0;

  constructor(options: LikelihoodDetectorOptions = {}) {
    this.o = likelihoodSettings(options);
    this.base = new Window(this.o.window);
    this.levels = new Window(this.o.window);
    this.resid = new Window(this.o.window);
    this.H = Math.max(16, 4 * this.o.maxPeriod + 2, this.o.analogWindow + this.o.analogLength + 2, this.o.relearnAfter + 1);
    this.mirror = new Float64Array(2 * this.H);
    this.nearD = new Float64Array(this.o.analogNeighbours);
    this.nearV = new Float64Array(this.o.analogNeighbours);
    this.ctx = new Float64Array(this.o.analogLength);
    this.lMag = new Likelihood(this.o.history, this.o.likelihoodShort, this.o.minStd);
    this.lSea = new Likelihood(this.o.history, this.o.likelihoodShort, this.o.minStd);
    this.lAna = new Likelihood(this.o.history, this.o.likelihoodShort, this.o.minStd);
  }

  /**
   * Analog surprise: |x − median successor of the nearest contexts| in units of the baseline's scale.
   * Called before `x` enters the history, so `back(k)` are the values before it.
   */
  private analogSurprise(x: number): number {
    const L = this.o.analogLength;
    const K = this.o.analogNeighbours;
    if (L === 0 || this.n <= L + 2 * K || this.base.count < 30) return 0;
    const d = this.nearD;
    const v = this.nearV;
    const H = this.H;
    const M = this.mirror;
    const ctx = this.ctx;
    for (let k = 1; k <= L; k++) ctx[k - 1] = this.back(k);
    const now = this.n % H;
    const c0 = ctx[0]!;
    let count = 0;
    let limit = Number.POSITIVE_INFINITY;
    const oldest = Math.max(L + 1, this.n - this.o.analogWindow);
    // the context ending just before position j (successor: the value at j) against the newest context, for j
    // from the newest down; M[at − k] is the value lag + k back and M[at] the successor (lag < H, so at − L ≥ 0)
    let at = now - 1 + H;
    for (let j = this.n - 1; j >= oldest; j--, at--) {
      if (at < H) at += H;
      const a0 = c0 - M[at - 1]!;
      let dist = a0 * a0;
      for (let k = 2; k <= L && dist < limit; k++) {
        const a = ctx[k - 1]! - M[at - k]!;
        dist += a * a;
      }
      if (dist >= limit) continue;
      let i = count;
      while (i > 0 && d[i - 1]! > dist) i--;
      for (let m = count < K ? count : K - 1; m > i; m--) {
        d[m] = d[m - 1]!;
        v[m] = v[m - 1]!;
      }
      d[i] = dist;
      v[i] = M[at]!;
      if (count < K) count++;
      if (count === K) limit = d[K - 1]!;
    }
    if (count < K) return 0;
    const sorted = v.slice().sort();
    const forecast = K % 2 === 1 ? sorted[K >> 1]! : (sorted[K / 2 - 1]! + sorted[K / 2]!) / 2;
    return Math.min(50, Math.abs(x - forecast) / robustScale(this.base));
  }

  private z(w: Window, x: number): number {
    return robustZ(w, x, 1e-3);
  }

  /** The value `lag` steps back (lag ≥ 1), from the history ring. */
  private back(lag: number): number {
    const H = this.H;
    return this.mirror[(((this.n - lag) % H) + H) % H]!;
  }

  /**
   * The period, by the average magnitude difference function: the lag at which the signal best matches
   * itself (a sharp null for periodic signals, unlike the broad autocorrelation peak). Lags inside the
   * first dip (trivially close values) are skipped; the null must be deep (remove `minPeriodStrength` of the
   * typical difference) to count. 0 when there is none.
   */
  private findPeriod(): number {
    const N = Math.min(this.n, this.H);
    const maxLag = Math.min(this.o.maxPeriod, Math.floor(N / 4));
    if (maxLag < 4) return 0;
    const xs = new Float64Array(N);
    for (let i = 0; i < N; i++) xs[i] = this.back(N - i); // the last N values, oldest first (x itself is not in the history yet)
    const d = new Float64Array(maxLag + 1);
    for (let lag = 1; lag <= maxLag; lag++) {
      let sum = 0;
      for (let i = lag; i < N; i++) sum += Math.abs(xs[i]! - xs[i - lag]!);
      d[lag] = sum / (N - lag);
    }
    const typical = [...d.subarray(1)].sort((a, b) => a - b)[Math.floor(maxLag / 2)]!;
    if (typical === 0) return 0;
    let lag = 1;
    while (lag <= maxLag && d[lag]! < typical) lag++; // leave the first dip
    let best = 0;
    let bestD = Number.POSITIVE_INFINITY;
    for (; lag <= maxLag; lag++) {
      if (d[lag]! < bestD) {
        bestD = d[lag]!;
        best = lag;
      }
    }
    // a minimum at the edge of the searched lags is not a null: the period may be longer than we can see yet
    if (best >= maxLag - 1) return 0;
    return best > 0 && bestD <= (1 - this.o.minPeriodStrength) * typical ? best : 0;
  }

  /** Robust z of a non-negative distance against its window (median and spread of the distances). */
  private z0(w: Window, r: number): number {
    const med = w.quantile(0.5);
    const scale = Math.max(w.quantile(0.9) - med, (w.quantile(0.99) - med) / 5, 1e-9);
    return Math.max(0, r - med) / scale;
  }

  /** Scores one value. A value that is not a finite number is refused with a RangeError and changes nothing. */
  update(x: number): number {
    finiteValue('LikelihoodDriftDetector', x);
    this.n++;
    this.recent.push(x);
    if (this.recent.length > this.o.short) this.recent.shift();
    let level = 0;
    for (const v of this.recent) level += v;
    level /= this.recent.length;

    // magnitude surprise
    const mag = this.base.count >= 30 ? Math.min(50, Math.max(this.z(this.base, x), this.z(this.levels, level))) : 0;

    // seasonal surprise: distance to the same phase of the last two periods (±1 step of phase jitter)
    // searched every 50 values while the history is still filling and none is found, then every `periodEvery`
    const eager = this.period === 0 && this.n <= this.H + this.o.warmup;
    if (this.o.maxPeriod > 0 && this.n > this.o.warmup && this.n % 50 === 0 && (eager || this.n % this.o.periodEvery === 0)) {
      // a period once found is kept until another one is found (an anomaly in the history can blur the null)
      const p = this.findPeriod() || this.period;
      if (p !== this.period) {
        // residuals against another period are another distribution
        this.resid.clear();
        this.lSea.clear();
      }
      this.period = p;
    }
    let sea = 0;
    let seaReady = false;
    const P = this.period;
    if (P > 0 && this.n > 2 * P + 2) {
      let r = Number.POSITIVE_INFINITY;
      for (let k = 1; k <= 2; k++) for (let j = -1; j <= 1; j++) r = Math.min(r, Math.abs(x - this.back(k * P + j)));
      // trusted once the residuals cover a whole period (each phase has its own noise)
      seaReady = this.resid.count >= Math.max(100, Math.ceil(1.5 * P));
      sea = seaReady ? Math.min(50, this.z0(this.resid, r)) : 0;
      this.resid.push(r);
    }
    // rank: two-sided tail probability of x's mid-rank among the baseline (x itself not yet in it)
    let pRank = 1;
    const c = this.base.count;
    if (this.o.rank && c >= 100) {
      const r = this.base.rank(x);
      pRank = Math.min(1, (2 * (Math.min(r, 1 - r) * c + 1)) / (c + 1));
    }
    const ana = this.analogSurprise(x);
    const slot = this.n % this.H;
    this.mirror[slot] = x;
    this.mirror[slot + this.H] = x;
    this.base.push(x);
    this.levels.push(level);
    this.relearnOnShift(level);

    const learning = Math.max(1, this.o.warmup - 30);
    const pMag = this.lMag.update(mag, learning);
    const pSea = seaReady ? this.lSea.update(sea, learning) : 1;
    const useAna = this.o.analogLength > 0;
    const pAna = useAna ? this.lAna.update(ana, learning) : 1;
    if (this.n <= this.o.warmup) return 0;
    const ps = this.ps;
    ps.length = 0;
    ps.push(pMag);
    if (seaReady) ps.push(pSea);
    if (useAna) ps.push(pAna);
    if (this.o.rank) ps.push(pRank);
    const p = fisherCombine(ps);
    let score = Math.min(1, Math.max(0, Math.log(Math.max(p, 1e-300)) / Math.log(this.o.floorP)));
    if (this.sinceAlert < this.o.refractory) score *= this.o.damp;
    else if (score >= this.o.alertAt) {
      this.sinceAlert = 0;
      if (this.recurring()) score *= this.o.damp;
      this.alerts.push(this.n);
      if (this.alerts.length > 8) this.alerts.shift();
    }
    this.sinceAlert++;
    return score;
  }

  /**
   * Whether an alert now continues a series of equally spaced alerts: two earlier alerts d apart, now d
   * after the later one, and a third d before the earlier one (each within the tolerance).
   */
  private recurring(): boolean {
    const tolerance = this.o.periodicTolerance;
    if (tolerance <= 0) return false;
    const a = this.alerts;
    for (let j = a.length - 1; j >= 1; j--) {
      for (let i = j - 1; i >= 0; i--) {
        const d = a[j]! - a[i]!;
        const tol = Math.max(3, tolerance * d);
        if (d < 20 || Math.abs(this.n - a[j]! - d) > tol) continue;
        for (let k = 0; k < i; k++) if (Math.abs(a[i]! - a[k]! - d) <= tol) return true;
      }
    }
    return false;
  }

  /**
   * Relearns the baseline after a held shift: `relearnAfter` short-term levels in a row beyond `relearnZ`
   * robust scales on the same side of the median. The baseline restarts from those values and the
   * surprise histories restart (their spread was learned in the old regime).
   */
  private relearnOnShift(level: number): void {
    const after = this.o.relearnAfter;
    if (after <= 0 || this.base.count < 100) return;
    // the magnitude surprise's own distance (robustZ), with the side of the median it falls on
    const side = this.z(this.base, level) > this.o.relearnZ ? Math.sign(level - this.base.quantile(0.5)) : 0;
    this.shiftRun = side !== 0 && side === this.shiftSide ? this.shiftRun + 1 : Math.abs(side);
    this.shiftSide = side;
    if (this.shiftRun < after) return;
    this.base.clear();
    this.levels.clear();
    for (let k = after - 1; k >= 0; k--) {
      const v = this.back(k);
      this.base.push(v);
      this.levels.push(v);
    }
    this.lMag.clear();
    this.lSea.clear();
    this.lAna.clear();
    this.shiftRun = 0;
    this.shiftSide = 0;
  }

  /** The period in use (0 when none was found). */
  seasonLength(): number {
    return this.period;
  }

  baseline(): number {
    return this.base.count === 0 ? Number.NaN : this.base.quantile(0.5);
  }

  /** Forgets every window, history and alert, as if newly constructed with the same options. */
  reset(): void {
    this.base.clear();
    this.levels.clear();
    this.resid.clear();
    this.recent.length = 0;
    this.mirror.fill(0);
    this.lMag.clear();
    this.lSea.clear();
    this.lAna.clear();
    this.period = 0;
    this.n = 0;
    this.sinceAlert = Number.POSITIVE_INFINITY;
    this.alerts.length = 0;
    this.shiftSide = 0;
    this.shiftRun = 0;
  }
}
