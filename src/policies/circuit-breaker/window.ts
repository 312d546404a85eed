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
  private readonly calls: Float64Array;
  private readonly fails: Float64Array;
  private readonly slows: Float64Array;
  private readonly bucketMs: number;
  private bucketStart: number;
  private idx = 0;
  private sumCalls = 0;
  private sumFails = 0;
  private sumSlow = 0;

  constructor(
    readonly ms: number,
    now: number,
    readonly buckets = 10,
  ) {
    this.calls = new Float64Array(buckets);
    this.fails = new Float64Array(buckets);
    this.slows = new Float64Array(buckets);
    this.bucketMs = ms / buckets;
    this.bucketStart = now;
  }

  private rotate(now: number): void {
    const elapsed = now - this.bucketStart;
    if (elapsed < this.bucketMs) return;
    let steps = Math.floor(elapsed / this.bucketMs);
    this.bucketStart += steps * this.bucketMs;
    if (steps >= this.buckets) {
      this.calls.fill(0);
      this.fails.fill(0);
      this.slows.fill(0);
      this.sumCalls = this.sumFails = this.sumSlow = 0;
      return;
    }
    while (steps-- > 0) {
      this.idx = this.idx + 1 === this.buckets ? 0 : this.idx + 1;
      this.sumCalls -= this.calls[this.idx]!;
      this.sumFails -= this.fails[this.idx]!;
      this.sumSlow -= this.slows[this.idx]!;
      this.calls[this.idx] = 0;
      this.fails[this.idx] = 0;
      this.slows[this.idx] = 0;
    }
  }

  record(failed: boolean, slow: boolean, now: number): void {
    this.rotate(now);
    this.calls[this.idx]!++;
    this.sumCalls++;
    if (failed) {
      this.fails[this.idx]!++;
      this.sumFails++;
    }
    if (slow) {
      this.slows[this.idx]!++;
      this.sumSlow++;
    }
  }

  totals(now: number): WindowTotals {
    this.rotate(now);
    return { calls: this.sumCalls, failures: this.sumFails, slow: this.sumSlow };
  }

  reset(): void {
    this.calls.fill(0);
    this.fails.fill(0);
    this.slows.fill(0);
    this.sumCalls = this.sumFails = this.sumSlow = 0;
  }

  describe() {
    return { kind: 'time' as const, ms: this.ms };
  }
}
