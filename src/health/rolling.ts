import { LatencySketch } from './sketch.js';

/** What happened to one call, as the health classifier and telemetry see it. */
export const CallKind = {
  Success: 0,
  /** The dependency failed (error thrown, timed out) after all attempts. */
  Failure: 1,
  /** Refused before reaching the dependency (breaker open, concurrency full, shed, budget). */
  Rejected: 2,
  /** A response that failed validation. */
  Invalid: 3,
} as const;
export type CallKind = (typeof CallKind)[keyof typeof CallKind];

/**
 * A dependency's (or operation's) signals summed over its rolling health window (60 s unless configured):
 * what the health state is judged on and what `health()` reports. Counts are of calls, not attempts.
 */
export interface SignalTotals {
  /** Every call finished in the window, whatever its outcome (successes + failures + rejected + invalid). */
  calls: number;
  /** Calls that returned a value (after retries, if any). */
  successes: number;
  /** Calls that failed after all attempts (an error thrown or a timeout). */
  failures: number;
  /** Calls refused before reaching the dependency (breaker open, concurrency full, shed, retry budget). */
  rejected: number;
  /** Calls whose response failed validation. */
  invalid: number;
  /** Calls that ended in a timeout or an exceeded deadline (also counted under their outcome, usually `failures`). */
  timeouts: number;
  /** Attempts beyond the first. */
  retries: number;
  /** Calls answered by a fallback or a stale cached value. */
  fallbacks: number;
  /** Median latency in ms of the calls that reached the dependency (NaN when there were none). */
  p50: number;
  /** 90th percentile latency in ms (NaN when no call reached the dependency). */
  p90: number;
  /** 99th percentile latency in ms, judged against the latency objective (NaN when no call reached the dependency). */
  p99: number;
  /** Mean latency in ms (NaN when no call reached the dependency). */
  meanMs: number;
}

class Slot {
  start = Number.NEGATIVE_INFINITY;
  calls = 0;
  successes = 0;
  failures = 0;
  rejected = 0;
  invalid = 0;
  timeouts = 0;
  retries = 0;
  fallbacks = 0;
  readonly latency = new LatencySketch();

  reset(start: number): void {
    this.start = start;
    this.calls = this.successes = this.failures = this.rejected = this.invalid = this.timeouts = this.retries = this.fallbacks = 0;
    this.latency.clear();
  }
}

/**
 * Rolling signals of one dependency over `windowMs`, in `slots` sub-windows (bounded memory: one sketch
 * per slot). Recording is a handful of increments and one logarithm.
 */
export class RollingStats {
  private readonly slots: Slot[];
  private readonly slotMs: number;
  private cur: Slot;
  private curEnd = Number.NEGATIVE_INFINITY;
  private readonly merged = new LatencySketch();

  constructor(
    readonly windowMs = 60_000,
    readonly slotCount = 6,
  ) {
    this.slotMs = windowMs / slotCount;
    this.slots = Array.from({ length: slotCount }, () => new Slot());
    this.cur = this.slots[0]!;
  }

  private slotFor(now: number): Slot {
    if (now < this.curEnd) return this.cur;
    const start = Math.floor(now / this.slotMs) * this.slotMs;
    const idx = Math.floor(now / this.slotMs) % this.slotCount;
    const s = this.slots[idx]!;
    if (s.start !== start) s.reset(start);
    this.cur = s;
    this.curEnd = start + this.slotMs;
    return s;
  }

  record(now: number, kind: CallKind, durationMs: number, retries: number, timedOut: boolean): void {
    const s = this.slotFor(now);
    s.calls++;
    s.retries += retries;
    if (timedOut) s.timeouts++;
    switch (kind) {
      case CallKind.Success:
        s.successes++;
        s.latency.add(durationMs);
        break;
      case CallKind.Failure:
        s.failures++;
        s.latency.add(durationMs);
        break;
      case CallKind.Rejected:
        s.rejected++;
        break;
      case CallKind.Invalid:
        s.invalid++;
        s.latency.add(durationMs);
        break;
    }
  }

  recordFallback(now: number): void {
    this.slotFor(now).fallbacks++;
  }

  totals(now: number): SignalTotals {
    const t: SignalTotals = {
      calls: 0,
      successes: 0,
      failures: 0,
      rejected: 0,
      invalid: 0,
      timeouts: 0,
      retries: 0,
      fallbacks: 0,
      p50: Number.NaN,
      p90: Number.NaN,
      p99: Number.NaN,
      meanMs: Number.NaN,
    };
    const oldest = now - this.windowMs;
    this.merged.clear();
    for (const s of this.slots) {
      if (s.start <= oldest || s.start > now) continue;
      t.calls += s.calls;
      t.successes += s.successes;
      t.failures += s.failures;
      t.rejected += s.rejected;
      t.invalid += s.invalid;
      t.timeouts += s.timeouts;
      t.retries += s.retries;
      t.fallbacks += s.fallbacks;
      this.merged.merge(s.latency);
    }
    if (this.merged.count > 0) {
      t.p50 = this.merged.quantile(0.5);
      t.p90 = this.merged.quantile(0.9);
      t.p99 = this.merged.quantile(0.99);
      t.meanMs = this.merged.sum / this.merged.count;
    }
    return t;
  }
}
