import { intOption, numberOption, objectOption, ratioOption } from '../../core/validate.js';

/**
 * How a {@link Gradient2Limit} (and so {@link adaptiveConcurrency}) adapts. Limits are integers of
 * concurrent calls; an unknown option or a value out of range throws `CONFIG_INVALID`.
 */
export interface Gradient2Options {
  /** Starting limit, between `min` and `max`. Default 20 (clamped to `min`..`max`). */
  initial?: number;
  /** The limit never goes below this (an integer ≥ 1; sane for small services). Default 4. */
  min?: number;
  /** The limit never goes above this (an integer ≥ `min`). Default 1000. */
  max?: number;
  /** How much slower than the long-term RTT the short-term RTT may be before the limit shrinks (a number ≥ 1). Default 1.5. */
  tolerance?: number;
  /** Weight of a new estimate (0..1]; higher follows latency faster but is noisier. Default 0.2. */
  smoothing?: number;
  /** Samples averaged into the long-term RTT (an integer ≥ 10). Default 600. */
  longWindow?: number;
}

/**
 * Netflix's Gradient2 concurrency limit: the limit follows the ratio of the long-term RTT to the short-term
 * RTT (less concurrency when latency rises above its own norm), plus a queue allowance of √limit so it can
 * probe upwards while latency holds. The long-term RTT is capped at twice the minimum RTT (Vegas-style
 * no-load RTT, forgotten slowly only while the limit is near its floor), so sustained overload cannot
 * teach the limiter that a standing queue is normal.
 */
export class Gradient2Limit {
  private limitValue: number;
  private longRtt = 0;
  /** The lowest RTT seen (the no-load RTT); drifts up only while the limit is near its floor. */
  private minRtt = Number.POSITIVE_INFINITY;
  private samples = 0;
  readonly min: number;
  readonly max: number;
  private readonly tolerance: number;
  private readonly smoothing: number;
  private readonly longWindow: number;

  constructor(options: Gradient2Options = {}) {
    const o = objectOption('concurrency.adaptive', options, ['initial', 'min', 'max', 'tolerance', 'smoothing', 'longWindow']);
    this.min = o.min === undefined ? 4 : intOption('concurrency.adaptive.min', o.min, 1);
    this.max = o.max === undefined ? 1000 : intOption('concurrency.adaptive.max', o.max, this.min);
    this.limitValue = o.initial === undefined ? Math.min(this.max, Math.max(this.min, 20)) : intOption('concurrency.adaptive.initial', o.initial, this.min, this.max);
    this.tolerance = o.tolerance === undefined ? 1.5 : numberOption('concurrency.adaptive.tolerance', o.tolerance, 1);
    this.smoothing = o.smoothing === undefined ? 0.2 : ratioOption('concurrency.adaptive.smoothing', o.smoothing);
    this.longWindow = o.longWindow === undefined ? 600 : intOption('concurrency.adaptive.longWindow', o.longWindow, 10);
  }

  /** The current limit, an integer between `min` and `max` (the estimate rounded down). */
  get limit(): number {
    return Math.floor(this.limitValue);
  }

  /** One completed call: its round-trip time and how many calls were in flight when it started. */
  sample(rttMs: number, inflight: number): number {
    if (!(rttMs >= 0)) return this.limit;
    this.samples++;
    const w = this.samples < this.longWindow ? 1 / this.samples : 1 / this.longWindow;
    this.longRtt = this.longRtt + (rttMs - this.longRtt) * w;
    // the minimum is forgotten (0.1% per sample) only near the floor (≤ 2 × min), where less concurrency cannot help:
    // a lasting change of the no-load RTT is relearnt there, while a standing queue above it never is
    this.minRtt = Math.min(Math.max(rttMs, 1e-3), this.limitValue <= 2 * this.min ? this.minRtt * 1.001 : this.minRtt);
    // an app-limited period (few calls in flight) says nothing about the limit
    if (inflight < this.limitValue / 2) return this.limit;
    const shortRtt = Math.max(rttMs, 1e-3);
    // The long-term RTT alone follows a standing queue upwards (the limit then drifts up with it); it is
    // capped at twice the no-load RTT, so a queue hidden behind the limit still reads as congestion.
    const baseline = Math.min(this.longRtt, 2 * this.minRtt);
    const gradient = Math.max(0.5, Math.min(1, (this.tolerance * baseline) / shortRtt));
    const target = this.limitValue * gradient + Math.sqrt(this.limitValue);
    const next = this.limitValue * (1 - this.smoothing) + target * this.smoothing;
    this.limitValue = Math.min(this.max, Math.max(this.min, next));
    // drift the long-term RTT down when it lags far above the present (after a recovered incident)
    if (this.longRtt / shortRtt > 2) this.longRtt *= 0.95;
    return this.limit;
  }
}
