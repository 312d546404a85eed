import type { Clock } from '../core/clock.js';
import { BlastwallError } from '../core/errors.js';
import { Emitter } from '../core/events.js';
import { configError, intOption, isPlainObject, objectOption, ratioOption } from '../core/validate.js';
import { type Detector, RobustDriftDetector, type RobustDetectorOptions } from './detector.js';

export interface DriftAlert {
  state: 'raised' | 'cleared';
  /** e.g. `payments.latency.p99` */
  signal: string;
  at: number;
  /** When the drift began: the first interval of the run of high scores that raised the alert. */
  onset: number;
  baseline: number;
  level: number;
  score: number;
}

export interface DriftMonitorOptions {
  /** Score at which an interval counts towards raising. Default 0.9. */
  raiseAt?: number;
  /** Consecutive high intervals needed to raise. Default 3. */
  confirm?: number;
  /** Score below which an interval counts towards clearing. Default 0.5. */
  clearAt?: number;
  /** Consecutive low intervals needed to clear. Default 10. */
  clearAfter?: number;
  /** Options of each signal's detector. */
  detector?: RobustDetectorOptions;
  /**
   * Intervals in one season (e.g. 1440 one-minute intervals for a daily pattern): once a season of history
   * exists, each value is compared with the same point of the last season, so the pattern itself is not
   * drift. Costs one number per interval of the season, per signal. Default: none.
   */
  seasonLength?: number;
}

interface SignalState {
  detector: Detector;
  season: Float64Array | undefined;
  seen: number;
  alerting: boolean;
  high: number;
  low: number;
  onset: number;
}

/**
 * One-shot drift alerts over named signals: each value goes through the signal's own streaming detector;
 * an alert is raised once when `confirm` intervals in a row score ≥ `raiseAt`, and cleared once when
 * `clearAfter` intervals in a row score < `clearAt` (hysteresis), never repeated while it holds.
 */
export class DriftMonitor {
  private readonly signals = new Map<string, SignalState>();
  private readonly raiseAt: number;
  private readonly confirm: number;
  private readonly clearAt: number;
  private readonly clearAfter: number;
  private readonly detectorOptions: RobustDetectorOptions;
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
    // a long baseline (6 h of one-minute intervals) so a slow ramp is not absorbed before it is flagged;
    // the short-term level is a median of 5 intervals: a lone spike does not move it, a sustained change does;
    // a change smaller than ~5% of the baseline is never called drift, however steady (or quantised) the signal
    if (o.detector !== undefined && !isPlainObject(o.detector)) {
      throw configError('drift.detector', 'detector options (an object)', o.detector);
    }
    this.detectorOptions = { window: 360, warmup: 30, refractory: 0, zScale: 3, short: 5, level: 'median', relativeFloor: 0.05, ...((o.detector as RobustDetectorOptions | undefined) ?? {}) };
    // detectors are made per signal on its first value: bad detector options fail here, at declaration
    try {
      new RobustDriftDetector(this.detectorOptions).reset();
    } catch (e) {
      // the detector names its own fields (`window`); here they are `drift.detector.window`
      if (e instanceof BlastwallError && e.code === 'CONFIG_INVALID') {
        throw new BlastwallError('CONFIG_INVALID', e.message.replace(/`([\w.]+)`/, '`drift.detector.$1`'), { details: e.details });
      }
      throw e;
    }
  }

  /** Feeds one interval's value of `signal`; returns the score. Non-finite values are skipped. */
  observe(signal: string, value: number): number {
    if (!Number.isFinite(value)) return 0;
    let s = this.signals.get(signal);
    if (s === undefined) {
      s = {
        detector: new RobustDriftDetector(this.detectorOptions),
        season: this.seasonLength > 0 ? new Float64Array(this.seasonLength) : undefined,
        seen: 0,
        alerting: false,
        high: 0,
        low: 0,
        onset: 0,
      };
      this.signals.set(signal, s);
    }
    const now = this.clock.now();
    let input = value;
    let seasonalBase = 0;
    if (s.season !== undefined) {
      const slot = s.seen % s.season.length;
      if (s.seen >= s.season.length) {
        seasonalBase = s.season[slot]!;
        input = value - seasonalBase;
      }
      s.season[slot] = value;
    }
    s.seen++;
    // during the first season the detector learns raw values; afterwards residuals: start it afresh then
    if (s.season !== undefined && s.seen === s.season.length + 1) s.detector.reset();
    const baseline = (s.detector.baseline?.() ?? Number.NaN) + seasonalBase;
    const score = s.detector.update(input);
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

  /** Signals with a raised alert. */
  active(): string[] {
    return [...this.signals].filter(([, s]) => s.alerting).map(([n]) => n);
  }
}
