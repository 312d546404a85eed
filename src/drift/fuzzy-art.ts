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

/** Doubles per category in `DualVigilanceArt.head`, and the place of each (the first nine are what the scan reads). */
const H = 12;
const WL = 0; // the lower corner of the newest feature
const WC = 1; // one minus its upper corner
const NUM = 2; // |w| + 1e-9: the bound on |x ∧ w| before the distance is taken off
const K = 3; // |w|³ · eDen² · (1 − 2e-9), the skip test's right-hand side per unit of limit; −1 (never skip) when eDen is 0
const A0 = 4; // Σ lo over the first group of features, [0, half)
const B0 = 5; // Σ (1 − hi) over it
const A1 = 6; // Σ lo over the second group, [half, dim − 1)
const B1 = 7; // Σ (1 − hi) over it
const ENUM = 8; // eDen + 1e-12: the bound on eNum before the newest feature's distance is taken off
const DEN = 9; // |w| as the match divides by it (0.001 for 0)
const S = 10; // Σ (lo + 1 − hi) over every feature, in the order and grouping of |x ∧ w| (its value when x is in the box)
const USED = 11; // the step at which the category last resonated

/**
 * Dual-vigilance fuzzy ART with at most `capacity` categories. The first category is the uncommitted one
 * (all weights 1, which every input fits loosely); it is never replaced. When a new category is needed and
 * the store is full, the committed category that resonated least recently gives its place to it.
 *
 * The outcomes are those of measuring every category, to the bit (a test checks this against a plain
 * implementation), but most categories are never measured in full. The match is f³ · e², with e = eNum / eDen
 * the energy similarity and f = |x ∧ w| / |w| = (|w| − δ) / |w|, where δ is the L1 distance from x to the box;
 * so a lower bound on δ bounds the match. A category whose bound can neither reach ρ_ub nor beat the best so far
 * (nor the match of the last best, measured first) could neither learn nor be the best, and is skipped:
 * 1. Every category: δ is at least the newest feature's own distance (which gives eNum = eDen − that distance)
 *    plus, over each group of the other features, how far Σ x is below Σ lo and how far Σ (1 − x) is below
 *    Σ (1 − hi) (a point of the box has Σ lo ≤ Σ x ≤ Σ hi). Those sums are kept per category in `head`, side by
 *    side, and the test multiplies instead of dividing: (|w| − δ)³ · eNum² against the limit times |w|³ · eDen².
 *    It has no branch but the skip: max(0, t) is (t + |t|)/2.
 * 2. A category that passes: δ itself. When it is 0, x is in the box, x ∧ w = w, e = 1, and the match is
 *    (S / |w|)³ with S kept per category: the common case of a category that learns, which then only updates |w|.
 *    Otherwise the same test with δ.
 * 3. A category that still passes is measured in full, with the operations of a plain implementation in the
 *    same order; so is its learning.
 * The bounds carry slack: 1e-9 on |x ∧ w|, 1e-12 on eNum, and a factor 1 − 2e-9 on the right-hand side. It is
 * far above the rounding of these sums of at most 32 values in [0, 1] and of the products, so a bound is never
 * below the match as computed, and a skip changes no outcome.
 */
export class DualVigilanceArt {
  /** Lower vigilance: below it nothing resonates. */
  rhoLb = 0;
  /** Upper vigilance: at or above it a category learns the input. */
  rhoUb = 0;
  private readonly w: Float64Array;
  /** What the skip tests need of each category (`H` doubles each: see the places above). */
  private readonly head: Float64Array;
  /** 1 − x of the input being presented. */
  private readonly y: Float64Array;
  private readonly half: number;
  private n = 0;
  private step = 0;
  /** The category that matched best last time. */
  private last = 0;
  /** The outcome `train` returns, filled in anew by each call. */
  private readonly result: ArtResult = { similarity: 0.5, energy: 0.5, mismatch: false };
  /** The limit of the skip test, for `resolve`. */
  private limit = 0;
  /** The match and the energy similarity of the category resolved last. */
  private match = 0;
  private energy = 0;
  /** |w| for `setHead` and `setNorm`. */
  private norm = 0;

  constructor(
    readonly dim: number,
    readonly capacity: number,
  ) {
    this.w = new Float64Array(capacity * 2 * dim);
    this.head = new Float64Array(capacity * H);
    this.y = new Float64Array(dim);
    this.half = dim >> 1;
  }

  /** Categories held, the uncommitted one included. */
  get categories(): number {
    return this.n;
  }

  /** Bytes held by the weights and the per-category arrays. */
  get bytes(): number {
    return this.w.byteLength + this.head.byteLength + this.y.byteLength;
  }

  /**
   * Presents one input (`dim` values in [0, 1]). With `learn` false only the best match is measured. The very
   * first input creates the uncommitted category and is otherwise skipped (similarity 0), as in ARTime. The
   * outcome is one object, reused: read it before the next call.
   */
  train(x: ArrayLike<number>, learn: boolean): ArtResult {
    this.step++;
    const d = this.dim;
    const head = this.head;
    if (this.n === 0) {
      this.w.fill(1, 0, 2 * d);
      this.n = 1;
      this.norm = 2 * d;
      this.setHead(0);
      return this.outcome(0, 0, false);
    }
    const half = this.half;
    const y = this.y;
    let sx0 = 0;
    let sx1 = 0;
    for (let k = 0; k < d; k++) y[k] = 1 - x[k]!;
    for (let k = 0; k < half; k++) sx0 += x[k]!;
    for (let k = half; k < d - 1; k++) sx1 += x[k]!;
    const sy0 = half - sx0;
    const sy1 = d - 1 - half - sx1;
    const xl = x[d - 1]!;
    const yl = y[d - 1]!;
    const ub = this.rhoUb;
    let best = -1;
    let bestMatch = 0;
    let bestEnergy = 0;
    let learned = false;
    // the match of the category that was best last time is a floor: a category that cannot reach it is not the best
    const last = this.last < this.n ? this.last : -1;
    let floor = 0;
    let lastEnergy = 0;
    if (last >= 0) {
      this.limit = 0;
      this.resolve(last, x, learn);
      floor = this.match;
      lastEnergy = this.energy;
      learned = learn && floor >= ub;
    }
    // skip a category whose bound is below this: it can neither reach ρ_ub nor beat the best (or the floor)
    let limit = Math.min(ub, floor);
    for (let j = 0; j < this.n; j++) {
      let m = floor;
      let energy = lastEnergy;
      if (j !== last) {
        const h = j * H;
        const wl = head[h + WL]!;
        const wc = head[h + WC]!;
        const tl = wl - xl;
        const tc = wc - yl;
        const t0 = head[h + A0]! - sx0;
        const u0 = head[h + B0]! - sy0;
        const t1 = head[h + A1]! - sx1;
        const u1 = head[h + B1]! - sy1;
        // twice the distance bound, summed as a tree (the terms are independent: a shorter chain of additions)
        const el = tl + Math.abs(tl) + (tc + Math.abs(tc));
        const g = t0 + Math.abs(t0) + (u0 + Math.abs(u0)) + (t1 + Math.abs(t1) + (u1 + Math.abs(u1)));
        const num = head[h + NUM]! - (el + g) * 0.5;
        const eNum = head[h + ENUM]! - el * 0.5;
        if (num * num * (num * eNum) * eNum + 1e-300 < limit * head[h + K]!) continue;
        this.limit = limit;
        if (!this.resolve(j, x, learn)) continue;
        m = this.match;
        energy = this.energy;
        // every category at or above ρ_ub learns (the best is then above it too); a category's learning changes
        // only its own match, so each learns as soon as it is resolved
        if (learn && m >= ub) learned = true;
      }
      if (m > bestMatch) {
        bestMatch = m;
        best = j;
        bestEnergy = energy;
        limit = Math.min(ub, Math.max(bestMatch, floor));
      }
    }
    if (best >= 0) this.last = best;
    const result = this.outcome(bestMatch, best >= 0 ? bestEnergy : 0, false);
    if (!learn) return result;
    if (best >= 0) head[best * H + USED] = this.step;
    if (learned) return result;
    // a new category: of the best one's cluster (above ρ_lb) or of a new cluster (a mismatch)
    result.mismatch = !(bestMatch >= this.rhoLb);
    this.commit(x);
    return result;
  }

  /** The one outcome object, filled in (an object per input would be garbage). */
  private outcome(similarity: number, energy: number, mismatch: boolean): ArtResult {
    const r = this.result;
    r.similarity = similarity;
    r.energy = energy;
    r.mismatch = mismatch;
    return r;
  }

  /**
   * Resolves category j: its match in `match` and its energy similarity in `energy`, or false when its distance
   * to x proves the match below `limit` (steps 2 and 3 of the class comment). With `learn`, a match at or above
   * ρ_ub learns x. (Numbers go in and out through fields: a number passed to or returned from a call that is
   * not inlined is allocated on the heap.)
   */
  private resolve(j: number, x: ArrayLike<number>, learn: boolean): boolean {
    const d = this.dim;
    const o = j * 2 * d;
    const w = this.w;
    const y = this.y;
    const head = this.head;
    const h = j * H;
    // twice δ: each term is 0 exactly when the minimum is the box's own weight, else positive (summed as two
    // non-negative halves, so that a tiny term is not absorbed by a negative one)
    let dist = 0;
    for (let k = 0; k < d; k++) {
      const p = w[o + k]! - x[k]!;
      const q = w[o + d + k]! - y[k]!;
      dist += p + Math.abs(p) + (q + Math.abs(q));
    }
    const den = head[h + DEN]!;
    if (dist === 0) {
      // x is in the box (every term above is 0 exactly when x ≥ lo and 1 − x ≥ 1 − hi, the comparisons of the
      // minima): x ∧ w = w, so |x ∧ w| = S and e = eDen / eDen = 1
      this.energy = 1;
      const f = head[h + S]! / den;
      const m = f * f * f;
      this.match = m;
      if (learn && m >= this.rhoUb) {
        // w is unchanged, and |w| becomes |x ∧ w| = S
        head[h + USED] = this.step;
        this.norm = head[h + S]!;
        this.setNorm(j);
      }
      return true;
    }
    const wl = head[h + WL]!;
    const wc = head[h + WC]!;
    const tl = wl - x[d - 1]!;
    const tc = wc - y[d - 1]!;
    const eNum = head[h + ENUM]! - (tl + Math.abs(tl) + (tc + Math.abs(tc))) * 0.5;
    const bound = head[h + NUM]! - dist * 0.5;
    if (bound * bound * (bound * eNum) * eNum + 1e-300 < this.limit * head[h + K]!) return false;
    let num = 0;
    for (let k = 0; k < d; k++) {
      const xk = x[k]!;
      const a = w[o + k]!;
      const b = w[o + d + k]!;
      num += (xk < a ? xk : a) + (1 - xk < b ? 1 - xk : b);
    }
    const xl = x[d - 1]!;
    const eDen = wl + wc;
    // a box spanning the whole range of the newest value matches it fully
    const energy = eDen === 0 ? 1 : ((xl < wl ? xl : wl) + (1 - xl < wc ? 1 - xl : wc)) / eDen;
    this.energy = energy;
    const f = num / den;
    const m = f * f * f * energy * energy;
    this.match = m;
    if (learn && m >= this.rhoUb) {
      // fast learning: the box grows to hold x (w ← x ∧ w), and |w| becomes |x ∧ w|
      for (let k = 0; k < d; k++) {
        const xk = x[k]!;
        if (xk < w[o + k]!) w[o + k] = xk;
        if (1 - xk < w[o + d + k]!) w[o + d + k] = 1 - xk;
      }
      this.norm = num;
      this.setHead(j);
    }
    return true;
  }

  /** Refreshes category j's head from its weights, with |w| = `norm`, as resonating now. */
  private setHead(j: number): void {
    const d = this.dim;
    const o = j * 2 * d;
    const w = this.w;
    const head = this.head;
    const h = j * H;
    let a0 = 0;
    let b0 = 0;
    let a1 = 0;
    let b1 = 0;
    let s = 0;
    for (let k = 0; k < d; k++) s += w[o + k]! + w[o + d + k]!;
    for (let k = 0; k < this.half; k++) {
      a0 += w[o + k]!;
      b0 += w[o + d + k]!;
    }
    for (let k = this.half; k < d - 1; k++) {
      a1 += w[o + k]!;
      b1 += w[o + d + k]!;
    }
    head[h + WL] = w[o + d - 1]!;
    head[h + WC] = w[o + 2 * d - 1]!;
    head[h + A0] = a0;
    head[h + B0] = b0;
    head[h + A1] = a1;
    head[h + B1] = b1;
    head[h + S] = s;
    head[h + USED] = this.step;
    this.setNorm(j);
  }

  /** Sets category j's |w| to `norm`, and what the skip tests derive from it. */
  private setNorm(j: number): void {
    const head = this.head;
    const h = j * H;
    const den = this.norm === 0 ? 0.001 : this.norm;
    const eDen = head[h + WL]! + head[h + WC]!;
    head[h + DEN] = den;
    head[h + NUM] = den + 1e-9;
    head[h + ENUM] = eDen + 1e-12;
    head[h + K] = eDen === 0 ? -1 : den * den * den * eDen * eDen * (1 - 2e-9);
  }

  /** Stores x as a new category, in a free place or in the least recently used committed category's. */
  private commit(x: ArrayLike<number>): void {
    const d = this.dim;
    const head = this.head;
    let j = this.n;
    if (this.n < this.capacity) this.n++;
    else {
      j = 1;
      for (let k = 2; k < this.n; k++) if (head[k * H + USED]! < head[j * H + USED]!) j = k;
    }
    const o = j * 2 * d;
    for (let k = 0; k < d; k++) {
      this.w[o + k] = x[k]!;
      this.w[o + d + k] = 1 - x[k]!;
    }
    this.norm = d; // |w| = Σ x + Σ (1 − x), taken as d
    this.setHead(j);
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
      const used = this.head[j * H + USED]!;
      this.norm = norm;
      this.setHead(j);
      this.head[j * H + USED] = used;
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
