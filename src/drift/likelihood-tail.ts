/**
 * The probabilities the likelihood detector works in: each surprise's tail probability against its own
 * recent history ({@link Likelihood}, the "anomaly likelihood" of Ahmad et al., 2017), the normal tail
 * behind it, and Fisher's method, which combines the detector's p-values into one.
 */

/** Tail probability of a short-term mean of raw surprises against their long-run mean and spread. */
export class Likelihood {
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

/**
 * Fisher's method: the probability that k independent uniform p-values have a product at most that of `ps`
 * (−2 Σ ln p is χ² with 2k degrees of freedom; its survival function has a closed form for even degrees).
 */
export function fisherCombine(ps: readonly number[]): number {
  if (ps.length === 0) return 1;
  let h = 0; // half the χ² statistic
  for (const p of ps) h -= Math.log(Math.max(p, 1e-300));
  let term = 1;
  let sum = 1;
  for (let i = 1; i < ps.length; i++) {
    term *= h / i;
    sum += term;
  }
  return Math.min(1, Math.exp(-h) * sum);
}
