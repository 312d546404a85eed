/**
 * A compact dual-vigilance fuzzy ART (adaptive resonance theory) for ARTime (`./artime.ts`), in bounded memory.
 *
 * After the distributed dual-vigilance fuzzy ART of ARTime by Mark Hampton (ARTimeNAB.jl), itself derived from
 * the AdaptiveResonance.jl package; this is our own implementation of the algorithm, not a copy of either.
 *
 * Each category is a hyperbox in [0, 1]^d, stored as complement-coded weights w (2d values: the box's lower
 * corner, then one minus its upper corner). An input x is complement coded as (x, 1 − x). For a category:
 * - the feature similarity is |x ∧ w| / |w| (∧ is the element-wise minimum, |·| the L1 norm);
 * - the energy similarity is the same ratio over the last feature only (the newest value of the time window);
 * - the match is feature³ · energy².
 *
 * Learning one input with the two vigilances ρ_lb ≤ ρ_ub:
 * - every category whose match reaches ρ_ub learns the input by fast learning (w ← x ∧ w: its box grows to
 *   hold the input);
 * - otherwise, if the best match reaches ρ_lb, the input becomes a new category of the best one's cluster;
 * - otherwise nothing resonates: the input becomes a new category of a new cluster. That is the event ARTime
 *   turns into an anomaly score.
 */

/** The outcome of one input: whether it learned, and the best match with its energy similarity. */
export interface ArtResult {
  /** The best match (0 when there was no category yet). */
  similarity: number;
  /** The energy similarity of the best-matching category. */
  energy: number;
  /** Nothing resonated (no category reached ρ_lb), and the input started a new cluster; false when not learning. */
  mismatch: boolean;
}

/**
 * Dual-vigilance fuzzy ART with at most `capacity` categories. The first category is the uncommitted one
 * (all weights 1, which every input fits loosely); it is never replaced. When a new category is needed and
 * the store is full, the committed category that resonated least recently gives its place to it.
 */
export class DualVigilanceArt {
  /** Lower vigilance: below it nothing resonates. */
  rhoLb = 0;
  /** Upper vigilance: at or above it a category learns the input. */
  rhoUb = 0;
  private readonly w: Float64Array;
  private readonly lastUsed: Float64Array;
  private readonly match: Float64Array;
  private readonly energyOf: Float64Array;
  /** |w| of each category, kept with the weights. */
  private readonly norm: Float64Array;
  private n = 0;
  private step = 0;
  /** The category that matched best last time. */
  private last = 0;

  constructor(
    readonly dim: number,
    readonly capacity: number,
  ) {
    this.w = new Float64Array(capacity * 2 * dim);
    this.lastUsed = new Float64Array(capacity);
    this.match = new Float64Array(capacity);
    this.energyOf = new Float64Array(capacity);
    this.norm = new Float64Array(capacity);
  }

  /** Categories held, the uncommitted one included. */
  get categories(): number {
    return this.n;
  }

  /** Bytes held by the weights and the per-category arrays. */
  get bytes(): number {
    return this.w.byteLength + this.lastUsed.byteLength + this.match.byteLength + this.energyOf.byteLength + this.norm.byteLength;
  }

  /**
   * Presents one input (`dim` values in [0, 1]). With `learn` false only the best match is measured. The very
   * first input creates the uncommitted category and is otherwise skipped (similarity 0), as in ARTime.
   */
  train(x: ArrayLike<number>, learn: boolean): ArtResult {
    this.step++;
    const d = this.dim;
    const d2 = 2 * d;
    if (this.n === 0) {
      this.w.fill(1, 0, d2);
      this.norm[0] = d2;
      this.n = 1;
      this.lastUsed[0] = this.step;
      return { similarity: 0, energy: 0, mismatch: false };
    }
    let best = -1;
    let bestMatch = 0;
    // the match of the category that was best last time is a floor: a category that cannot reach it is not the best
    const floor = this.last < this.n ? this.matchOf(this.last, x, -1, 0) : 0;
    for (let j = 0; j < this.n; j++) {
      const m = this.matchOf(j, x, bestMatch, floor);
      this.match[j] = m;
      if (m > bestMatch) {
        bestMatch = m;
        best = j;
      }
    }
    if (best >= 0) this.last = best;
    const result: ArtResult = { similarity: bestMatch, energy: best >= 0 ? this.energyOf[best]! : 0, mismatch: false };
    if (!learn) return result;
    if (best >= 0) this.lastUsed[best] = this.step;
    if (bestMatch >= this.rhoUb) {
      const w = this.w;
      // every category above the upper vigilance learns (fast learning: the box grows to hold x)
      for (let j = 0; j < this.n; j++) {
        if (this.match[j]! < this.rhoUb) continue;
        const o = j * d2;
        let norm = 0;
        for (let k = 0; k < d; k++) {
          const xk = x[k]!;
          if (xk < w[o + k]!) w[o + k] = xk;
          if (1 - xk < w[o + d + k]!) w[o + d + k] = 1 - xk;
          norm += w[o + k]! + w[o + d + k]!;
        }
        this.norm[j] = norm;
        this.lastUsed[j] = this.step;
      }
      return result;
    }
    // a new category: of the best one's cluster (above ρ_lb) or of a new cluster (a mismatch)
    result.mismatch = !(bestMatch >= this.rhoLb);
    this.commit(x);
    return result;
  }

  /**
   * The match of category j, or −1 when it provably neither beats `best` (nor reaches `floor`) nor reaches ρ_ub:
   * the match is at most energy² times the cube of a bound on the feature similarity (each feature adds at most
   * its share of |w|), checked before the features and after half of them. A skip changes no outcome.
   */
  private matchOf(j: number, x: ArrayLike<number>, best: number, floor: number): number {
    const d = this.dim;
    const o = j * 2 * d;
    const w = this.w;
    const ub = this.rhoUb;
    const xl = x[d - 1]!;
    const wl = w[o + d - 1]!;
    const wc = w[o + 2 * d - 1]!;
    const eDen = wl + wc;
    // a box spanning the whole range of the newest value matches it fully
    const energy = eDen === 0 ? 1 : ((xl < wl ? xl : wl) + (1 - xl < wc ? 1 - xl : wc)) / eDen;
    this.energyOf[j] = energy;
    const e2 = energy * energy * (1 + 1e-9); // the slack covers rounding in |w|
    if (e2 < ub && (e2 <= best || e2 < floor)) return -1;
    const den = this.norm[j]! === 0 ? 0.001 : this.norm[j]!;
    const half = d >> 1;
    let num = 0;
    let seen = 0;
    for (let k = 0; k < half; k++) {
      const xk = x[k]!;
      const a = w[o + k]!;
      const b = w[o + d + k]!;
      num += (xk < a ? xk : a) + (1 - xk < b ? 1 - xk : b);
      seen += a + b;
    }
    const fb = (num + den - seen) / den;
    const bound = fb * fb * fb * e2;
    if (bound < ub && (bound <= best || bound < floor)) return -1;
    for (let k = half; k < d; k++) {
      const xk = x[k]!;
      const a = w[o + k]!;
      const b = w[o + d + k]!;
      num += (xk < a ? xk : a) + (1 - xk < b ? 1 - xk : b);
    }
    const f = num / den;
    return f * f * f * energy * energy;
  }

  /** Stores x as a new category, in a free place or in the least recently used committed category's. */
  private commit(x: ArrayLike<number>): void {
    const d = this.dim;
    let j = this.n;
    if (this.n < this.capacity) this.n++;
    else {
      j = 1;
      for (let k = 2; k < this.n; k++) if (this.lastUsed[k]! < this.lastUsed[j]!) j = k;
    }
    const o = j * 2 * d;
    for (let k = 0; k < d; k++) {
      this.w[o + k] = x[k]!;
      this.w[o + d + k] = 1 - x[k]!;
    }
    this.norm[j] = d; // Σ x + Σ (1 − x)
    this.lastUsed[j] = this.step;
  }

  /**
   * Re-expresses what was learned after the features `from`…`dim − 1` were re-normalised by v ↦ a·v + b
   * (a > 0 or a = 0): each committed box [lo, hi] in those features becomes [a·lo + b, a·hi + b], which is
   * exactly the box of the same inputs under the new normalisation. The uncommitted category is left alone.
   */
  rescale(from: number, a: number, b: number): void {
    const d = this.dim;
    for (let j = 1; j < this.n; j++) {
      const o = j * 2 * d;
      for (let k = from; k < d; k++) {
        const lo = this.w[o + k]!;
        const hi = 1 - this.w[o + d + k]!;
        this.w[o + k] = a * lo + b;
        this.w[o + d + k] = 1 - (a * hi + b);
      }
      let norm = 0;
      for (let k = 0; k < 2 * d; k++) norm += this.w[o + k]!;
      this.norm[j] = norm;
    }
  }

  /** Forgets every category and resets the vigilances to 0. */
  clear(): void {
    this.n = 0;
    this.step = 0;
    this.last = 0;
    this.rhoLb = 0;
    this.rhoUb = 0;
  }
}
