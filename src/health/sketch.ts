/**
 * A bounded-memory quantile sketch for latencies: logarithmic buckets with relative accuracy `alpha`
 * (DDSketch-style). Values from `min` to `max` ms map to a fixed Float64Array; values outside clamp.
 * With alpha = 0.02 the quantiles are within 2% of the true value and the sketch holds ~470 buckets.
 */
export class LatencySketch {
  readonly counts: Float64Array;
  count = 0;
  sum = 0;
  private readonly gamma: number;
  private readonly logGamma: number;
  private readonly offset: number;

  constructor(
    readonly alpha = 0.02,
    readonly min = 0.01,
    readonly max = 3_600_000,
  ) {
    this.gamma = (1 + alpha) / (1 - alpha);
    this.logGamma = Math.log(this.gamma);
    this.offset = Math.floor(Math.log(min) / this.logGamma);
    const n = Math.ceil(Math.log(max) / this.logGamma) - this.offset + 2;
    this.counts = new Float64Array(n);
  }

  add(ms: number): void {
    const v = ms < this.min ? this.min : ms > this.max ? this.max : ms;
    const i = Math.ceil(Math.log(v) / this.logGamma) - this.offset;
    this.counts[i]!++;
    this.count++;
    this.sum += ms;
  }

  /** The q-quantile (0..1), or NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN;
    return quantileOf(this.counts, this.count, q, this.gamma, this.offset);
  }

  merge(other: LatencySketch): void {
    const a = this.counts;
    const b = other.counts;
    for (let i = 0; i < a.length; i++) a[i]! += b[i]!;
    this.count += other.count;
    this.sum += other.sum;
  }

  clear(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sum = 0;
  }

  /** Value at the centre of bucket i (relative error ≤ alpha). */
  bucketValue(i: number): number {
    return (2 * this.gamma ** (i + this.offset)) / (this.gamma + 1);
  }

  get gammaValue(): number {
    return this.gamma;
  }
  get offsetValue(): number {
    return this.offset;
  }
}

export function quantileOf(counts: Float64Array, total: number, q: number, gamma: number, offset: number): number {
  const rank = Math.max(0, Math.min(total - 1, Math.ceil(q * total) - 1));
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i]!;
    if (seen > rank) return (2 * gamma ** (i + offset)) / (gamma + 1);
  }
  return Number.NaN;
}
