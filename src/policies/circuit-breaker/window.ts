import { RollingCounters } from '../../core/rolling-counters.js';

/** Counts in a breaker's sliding window. */
export interface WindowTotals {
  calls: number;
  failures: number;
  slow: number;
}

/** A sliding window strategy. Implementations must keep bounded memory. */
export interface SlidingWindow {
  record(failed: boolean, slow: boolean, now: number): void;
  totals(now: number): WindowTotals;
  reset(): void;
  describe(): { kind: 'count'; size: number } | { kind: 'time'; ms: number };
}

/** The last `size` calls. */
export class CountWindow implements SlidingWindow {
  private readonly ring: Uint8Array;
  private pos = 0;
  private filled = 0;
  private failures = 0;
  private slow = 0;

  constructor(readonly size: number) {
    this.ring = new Uint8Array(size);
  }

  record(failed: boolean, slow: boolean): void {
    const old = this.ring[this.pos]!;
    if (this.filled === this.size) {
      if (old & 1) this.failures--;
      if (old & 2) this.slow--;
    } else this.filled++;
    const v = (failed ? 1 : 0) | (slow ? 2 : 0);
    this.ring[this.pos] = v;
    if (failed) this.failures++;
    if (slow) this.slow++;
    this.pos = this.pos + 1 === this.size ? 0 : this.pos + 1;
  }

  totals(): WindowTotals {
    return { calls: this.filled, failures: this.failures, slow: this.slow };
  }

  reset(): void {
    this.ring.fill(0);
    this.pos = 0;
    this.filled = 0;
    this.failures = 0;
    this.slow = 0;
  }

  describe() {
    return { kind: 'count' as const, size: this.size };
  }
}

/** Calls in the last `ms` milliseconds, in `buckets` buckets (default 10). */
export class TimeWindow implements SlidingWindow {
  private readonly counters: RollingCounters;

  constructor(
    readonly ms: number,
    now: number,
    readonly buckets = 10,
  ) {
    this.counters = new RollingCounters(ms, 3, now, buckets);
  }

  record(failed: boolean, slow: boolean, now: number): void {
    this.counters.add(CALLS, now);
    if (failed) this.counters.add(FAILURES, now);
    if (slow) this.counters.add(SLOW, now);
  }

  totals(now: number): WindowTotals {
    return { calls: this.counters.sum(CALLS, now), failures: this.counters.sum(FAILURES, now), slow: this.counters.sum(SLOW, now) };
  }

  reset(): void {
    this.counters.reset();
  }

  describe() {
    return { kind: 'time' as const, ms: this.ms };
  }
}

const CALLS = 0;
const FAILURES = 1;
const SLOW = 2;
