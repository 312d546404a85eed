import type { Clock } from '../core/clock.js';
import { BlastwallError } from '../core/errors.js';
import { Emitter } from '../core/events.js';
import { configError, intOption, isPlainObject, objectOption, ratioOption } from '../core/validate.js';
import { type Detector, RobustDriftDetector, type RobustDetectorOptions } from './detector.js';

/** A drift alert on one signal, raised after `confirm` high intervals and cleared after `clearAfter` low ones. */
export interface DriftAlert {
  /** `raised` when the drift is confirmed, `cleared` when the signal has been back to normal long enough. */
  state: 'raised' | 'cleared';
  /** e.g. `payments.latency.p99` */
  signal: string;
  /** When the alert was raised or cleared (clock ms). */
  at: number;
  /** When the drift began: the first interval of the run of high scores that raised the alert. */
  onset: number;
  /** The level the detector considered normal (e.g. the baseline p99 in ms), in the signal's unit. */
  baseline: number;
  /** The signal's value at the alert, in the signal's unit. */
  level: number;
  /** The detector's anomaly score at the alert, 0..1. */
  score: number;
}

/**
 * Options of a drift monitor (the wall's `drift` option): the detector per signal and the hysteresis that
 * turns its scores into held alerts. Checked at construction (`CONFIG_INVALID`).
 */
export interface DriftMonitorOptions {
  /** Score at which an interval counts towards raising. Default 0.9. */
  raiseAt?: number;
  /** Consecutive high intervals needed to raise. Default 3. */
  confirm?: number;
  /** Score below which an interval counts towards clearing. Default 0.5. */
  clearAt?: number;
  /** Consecutive low intervals needed to clear. Default 10. */
  clearAfter?: number;
  /**
   * Each signal's detector: options of the default `RobustDriftDetector`, or a function that makes one
   * detector per signal (any `Detector`; called on the signal's first value, and once at construction to check it).
   */
  detector?: RobustDetectorOptions | (() => Detector);
  /**
   * Intervals in one season (e.g. 1440 one-minute intervals for a daily pattern): once a season of history
   * exists, each value is compared with the same point of the last season, so the pattern itself is not
   * drift. Costs one number per interval of the season, per signal. The season-over-season differences
   * also feed a one-sided CUSUM (see `DriftMonitor`), so a slow rise that the detector's baseline absorbs
   * still raises an alert. Default: none.
   */
  seasonLength?: number;
}

/** CUSUM reference (allowance) and decision threshold, in units of the differences' scale; the sum is capped at the threshold. */
const CUSUM_K = 0.5;
const CUSUM_H = 20;
/** A single difference counts at most this many scales (a spike is not a trend). */
const CUSUM_CLIP = 3;

interface SignalState {
  detector: Detector;
  season: Float64Array | undefined;
  seen: number;
  alerting: boolean;
  high: number;
  low: number;
  onset: number;
  /** Upper CUSUM of the season-over-season differences, and their scale (mean absolute difference). */
  cusum: number;
  scale: number;
}

/**
 * One-shot drift alerts over named signals: each value goes through the signal's own streaming detector;
 * an alert is raised once when `confirm` intervals in a row score ≥ `raiseAt`, and cleared once when
 * `clearAfter` intervals in a row score < `clearAt` (hysteresis), never repeated while it holds.
 *
 * With `seasonLength`, the detector sees each value minus the same point of the last season. A drift slower
 * than the detector's baseline window (a p99 rising a few percent a day under a daily pattern) becomes a
 * small, steady positive difference that the baseline absorbs, so the differences also feed Page's one-sided
 * CUSUM: S ← min(h, max(0, S + min(d/σ, 3) − 0.5)) with σ the differences' mean absolute value (learned
 * slowly) and h = 20. The signal's score is the larger of the detector's and raiseAt · S/h, so the CUSUM
 * crossing h counts as a high interval, and the same hysteresis raises and clears. The signals the wall
 * watches are all worse when higher (latency, error ratios, backlog, ages), so only rises are summed; the cap
 * lets a step that recovers clear within about 20 intervals. An interval whose detector score is at or above
 * `raiseAt` keeps last season's value in the season ring, so a step that recovered is not compared against
 * (and alerted on again) one season later.
 */
export class DriftMonitor {
  private readonly signals = new Map<string, SignalState>();
  private readonly raiseAt: number;
  private readonly confirm: number;
  private readonly clearAt: number;
  private readonly clearAfter: number;
  private readonly makeDetector: () => Detector;
  private readonly seasonLength: number;
  readonly alerts = new Emitter<DriftAlert>();

  constructor(
    private readonly clock: Clock,
    options: DriftMonitorOptions = {},
  ) {
    const o = objectOption('drift', options, ['raiseAt', 'confirm', 'clearAt', 'clearAfter', 'detector', 'seasonLength']);
    this.seasonLength = o.seasonLength === undefined ? 0 : intOption('drift.seasonLength', o.seasonLength, 2, 100_000);
    this.raiseAt = o.raiseAt === undefined ? 0.9 : ratioOption('drift.raiseAt', o.raiseAt);
    this.confirm = o.confirm === undefined ? 3 : intOption('drift.confirm', o.confirm, 1);
    this.clearAt = o.clearAt === undefined ? 0.5 : ratioOption('drift.clearAt', o.clearAt);
    this.clearAfter = o.clearAfter === undefined ? 10 : intOption('drift.clearAfter', o.clearAfter, 1);
    if (typeof o.detector === 'function') {
      const make = o.detector as () => Detector;
      const probe = make();
      if (probe === null || typeof probe !== 'object' || typeof probe.update !== 'function' || typeof probe.reset !== 'function') {
        throw configError('drift.detector', 'a function returning a Detector (update and reset)', probe);
      }
      this.makeDetector = make;
    } else {
      // a long baseline (6 h of one-minute intervals) so a slow ramp is not absorbed before it is flagged;
      // the short-term level is a median of 5 intervals: a lone spike does not move it, a sustained change does;
      // a change smaller than ~5% of the baseline is never called drift, however steady (or quantised) the signal
      if (o.detector !== undefined && !isPlainObject(o.detector)) {
        throw configError('drift.detector', 'detector options (an object) or a function making a Detector', o.detector);
      }
      const options: RobustDetectorOptions = { window: 360, warmup: 30, refractory: 0, zScale: 3, short: 5, level: 'median', relativeFloor: 0.05, ...((o.detector as RobustDetectorOptions | undefined) ?? {}) };
      // detectors are made per signal on its first value: bad detector options fail here, at declaration
      try {
        new RobustDriftDetector(options).reset();
      } catch (e) {
        // the detector names its own fields (`window`); here they are `drift.detector.window`
        if (e instanceof BlastwallError && e.code === 'CONFIG_INVALID') {
          throw new BlastwallError('CONFIG_INVALID', e.message.replace(/`([\w.]+)`/, '`drift.detector.$1`'), { details: e.details });
        }
        throw e;
      }
      this.makeDetector = () => new RobustDriftDetector(options);
    }
  }

  /** Feeds one interval's value of `signal`; returns the score. Non-finite values are skipped. */
  observe(signal: string, value: number): number {
    if (!Number.isFinite(value)) return 0;
    let s = this.signals.get(signal);
    if (s === undefined) {
      let detector: Detector;
      try {
        detector = this.makeDetector();
      } catch {
        return 0; // a user factory that throws loses this value, never the caller's interval
      }
      s = {
        detector,
        season: this.seasonLength > 0 ? new Float64Array(this.seasonLength) : undefined,
        seen: 0,
        alerting: false,
        high: 0,
        low: 0,
        onset: 0,
        cusum: 0,
        scale: 0,
      };
      this.signals.set(signal, s);
    }
    const now = this.clock.now();
    let input = value;
    let seasonalBase = 0;
    const slot = s.season === undefined ? 0 : s.seen % s.season.length;
    if (s.season !== undefined && s.seen >= s.season.length) {
      seasonalBase = s.season[slot]!;
      input = value - seasonalBase;
    }
    s.seen++;
    // during the first season the detector learns raw values; afterwards residuals: start it afresh then
    if (s.season !== undefined && s.seen === s.season.length + 1) s.detector.reset();
    const baseline = (s.detector.baseline?.() ?? Number.NaN) + seasonalBase;
    let score: number;
    try {
      score = s.detector.update(input);
    } catch {
      return 0; // a user detector that throws loses this value, never the caller's interval
    }
    if (!(score >= 0)) score = 0;
    if (s.season !== undefined) {
      const residual = s.seen > s.season.length;
      // an interval the detector finds unusual does not become next season's normal (no echo a season later)
      if (!residual || score < this.raiseAt) s.season[slot] = value;
      if (residual) score = Math.max(score, this.cusum(s, input));
    }
    if (!s.alerting) {
      if (score >= this.raiseAt) {
        if (s.high === 0) s.onset = now;
        s.high++;
        if (s.high >= this.confirm) {
          s.alerting = true;
          s.low = 0;
          this.alerts.emit({ state: 'raised', signal, at: now, onset: s.onset, baseline, level: value, score });
        }
      } else s.high = 0;
    } else if (score < this.clearAt) {
      s.low++;
      if (s.low >= this.clearAfter) {
        s.alerting = false;
        s.high = 0;
        this.alerts.emit({ state: 'cleared', signal, at: now, onset: s.onset, baseline, level: value, score });
      }
    } else s.low = 0;
    return score;
  }

  /** Updates the signal's CUSUM with one season-over-season difference and returns its score. */
  private cusum(s: SignalState, d: number): number {
    const n = s.seen - s.season!.length; // differences seen so far
    // the scale: mean |d| (the σ of a normal difference times √(2/π)), a plain mean over the first season, then
    // an exponential one over a season, so a drift inflates it only slowly
    s.scale += (Math.abs(d) - s.scale) / Math.min(n, s.season!.length);
    if (n < 30 || s.scale <= 0) return 0;
    const z = Math.min(CUSUM_CLIP, d / s.scale);
    s.cusum = Math.min(CUSUM_H, Math.max(0, s.cusum + z - CUSUM_K));
    return Math.min(1, (this.raiseAt * s.cusum) / CUSUM_H);
  }

  /** Signals with a raised alert. */
  active(): string[] {
    return [...this.signals].filter(([, s]) => s.alerting).map(([n]) => n);
  }
}
