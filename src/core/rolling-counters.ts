/**
 * Counters over a sliding time window, in a fixed number of buckets (bounded memory, O(1) per add).
 * `series` counters share the buckets: a retry budget counts requests and retries, a breaker calls,
 * failures and slow calls, a throttle requests and accepts.
 */
export class RollingCounters {
  private readonly counts: Float64Array;
  private readonly sums: Float64Array;
  private readonly bucketMs: number;
  private bucketStart: number;
  private idx = 0;

  constructor(
    readonly windowMs: number,
    readonly series: number,
    now: number,
    readonly buckets = 10,
  ) {
    this.counts = new Float64Array(buckets * series);
    this.sums = new Float64Array(series);
    this.bucketMs = windowMs / buckets;
    this.bucketStart = now;
  }

  /** Moves the window to `now`, dropping buckets that fell out of it. */
  private rotate(now: number): void {
    if (now - this.bucketStart < this.bucketMs) return;
    let steps = Math.floor((now - this.bucketStart) / this.bucketMs);
    this.bucketStart += steps * this.bucketMs;
    if (steps >= this.buckets) {
      this.reset();
      return;
    }
    const { counts, sums, series } = this;
    while (steps-- > 0) {
      this.idx = this.idx + 1 === this.buckets ? 0 : this.idx + 1;
      const base = this.idx * series;
      for (let s = 0; s < series; s++) {
        sums[s]! -= counts[base + s]!;
        counts[base + s] = 0;
      }
    }
  }

  add(series: number, now: number, n = 1): void {
    this.rotate(now);
    this.counts[this.idx * this.series + series]! += n;
    this.sums[series]! += n;
  }

  /** The sum of one series over the window ending at `now`. */
  sum(series: number, now: number): number {
    this.rotate(now);
    return this.sums[series]!;
  }

  reset(): void {
    this.counts.fill(0);
    this.sums.fill(0);
  }
}
