import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ArtimeDriftDetector } from './artime.js';
import { type ArtResult, DualVigilanceArt } from './fuzzy-art.js';
import { daily, rng } from '../../test/support/drift.js';

/**
 * The plain dual-vigilance fuzzy ART: every category measured in full, the best is the first of the highest,
 * every category at or above ρ_ub learns, and a new category takes a free place or the least recently used
 * committed one's. The same operations in the same order as `DualVigilanceArt` before it learned to skip.
 */
class PlainArt {
  rhoLb = 0;
  rhoUb = 0;
  private readonly w: number[][] = [];
  private readonly norm: number[] = [];
  private readonly used: number[] = [];
  private step = 0;

  constructor(
    readonly dim: number,
    readonly capacity: number,
  ) {}

  get categories(): number {
    return this.w.length;
  }

  train(x: ArrayLike<number>, learn: boolean): ArtResult {
    this.step++;
    const d = this.dim;
    if (this.w.length === 0) {
      this.w.push(new Array<number>(2 * d).fill(1));
      this.norm.push(2 * d);
      this.used.push(this.step);
      return { similarity: 0, energy: 0, mismatch: false };
    }
    const xl = x[d - 1]!;
    const measured = this.w.map((w, j) => {
      let num = 0;
      for (let k = 0; k < d; k++) num += (x[k]! < w[k]! ? x[k]! : w[k]!) + (1 - x[k]! < w[d + k]! ? 1 - x[k]! : w[d + k]!);
      const wl = w[d - 1]!;
      const wc = w[2 * d - 1]!;
      const eDen = wl + wc;
      const energy = eDen === 0 ? 1 : ((xl < wl ? xl : wl) + (1 - xl < wc ? 1 - xl : wc)) / eDen;
      const f = num / (this.norm[j] === 0 ? 0.001 : this.norm[j]!);
      return { m: f * f * f * energy * energy, energy };
    });
    let best = -1;
    let top = 0;
    measured.forEach(({ m }, j) => {
      if (m > top) {
        top = m;
        best = j;
      }
    });
    const result = { similarity: top, energy: best >= 0 ? measured[best]!.energy : 0, mismatch: false };
    if (!learn) return result;
    if (best >= 0) this.used[best] = this.step;
    if (top >= this.rhoUb) {
      this.w.forEach((w, j) => {
        if (measured[j]!.m < this.rhoUb) return;
        let norm = 0;
        for (let k = 0; k < d; k++) {
          if (x[k]! < w[k]!) w[k] = x[k]!;
          if (1 - x[k]! < w[d + k]!) w[d + k] = 1 - x[k]!;
          norm += w[k]! + w[d + k]!;
        }
        this.norm[j] = norm;
        this.used[j] = this.step;
      });
      return result;
    }
    result.mismatch = !(top >= this.rhoLb);
    let j = this.w.length;
    if (j === this.capacity) {
      j = 1;
      for (let k = 2; k < this.w.length; k++) if (this.used[k]! < this.used[j]!) j = k;
    }
    this.w[j] = [...Array.from(x), ...Array.from(x, (v) => 1 - v)];
    this.norm[j] = d;
    this.used[j] = this.step;
    return result;
  }

  rescale(from: number, a: number, b: number): void {
    const d = this.dim;
    for (let j = 1; j < this.w.length; j++) {
      const w = this.w[j]!;
      for (let k = from; k < d; k++) {
        const lo = w[k]!;
        const hi = 1 - w[d + k]!;
        w[k] = a * lo + b;
        w[d + k] = 1 - (a * hi + b);
      }
      let norm = 0;
      for (let k = 0; k < 2 * d; k++) norm += w[k]!;
      this.norm[j] = norm;
    }
  }
}

type Art = Pick<DualVigilanceArt, 'train' | 'rescale' | 'rhoLb' | 'rhoUb' | 'dim' | 'capacity' | 'categories'>;

/** The same outcome to the bit (Object.is: −0 is not 0), and the same number of categories after it. */
function same(a: ArtResult, b: ArtResult): boolean {
  return Object.is(a.similarity, b.similarity) && Object.is(a.energy, b.energy) && a.mismatch === b.mismatch;
}

/**
 * A detector whose ART records every outcome (similarity, energy, mismatch, categories after), optionally with
 * the plain ART in place of its own.
 */
function recorded(options: ConstructorParameters<typeof ArtimeDriftDetector>[0], plain: boolean): { d: ArtimeDriftDetector; log: number[] } {
  const d = new ArtimeDriftDetector(options);
  const inner = d as unknown as { art: Art };
  const art: Art = plain ? new PlainArt(inner.art.dim, inner.art.capacity) : inner.art;
  const log: number[] = [];
  inner.art = {
    get rhoLb() {
      return art.rhoLb;
    },
    set rhoLb(v: number) {
      art.rhoLb = v;
    },
    get rhoUb() {
      return art.rhoUb;
    },
    set rhoUb(v: number) {
      art.rhoUb = v;
    },
    get dim() {
      return art.dim;
    },
    get capacity() {
      return art.capacity;
    },
    get categories() {
      return art.categories;
    },
    train(x, learn) {
      const r = art.train(x, learn);
      log.push(r.similarity, r.energy, r.mismatch ? 1 : 0, art.categories);
      return r;
    },
    rescale: (from, a, b) => art.rescale(from, a, b),
  } as Art;
  return { d, log };
}

describe('DualVigilanceArt skips only what cannot matter', () => {
  it('gives the plain ART’s outcomes to the bit, through a full store, rescales and measuring without learning (property)', () => {
    const level = (levels: number) => fc.integer({ min: 0, max: levels }).map((v) => v / levels);
    const input = (dim: number) => fc.oneof(fc.array(level(4), { minLength: dim, maxLength: dim }), fc.array(level(80), { minLength: dim, maxLength: dim }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: dim, maxLength: dim }));
    const vigilance = fc.oneof(fc.constantFrom(0, 0.5, 0.9, 1), fc.double({ min: 0, max: 1, noNaN: true }));
    const step = (dim: number) =>
      fc.oneof(
        { weight: 12, arbitrary: fc.record({ x: input(dim), learn: fc.boolean(), a: vigilance, b: vigilance }) },
        { weight: 1, arbitrary: fc.record({ from: fc.integer({ min: 0, max: dim - 1 }), scale: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1, noNaN: true })), shift: fc.double({ min: 0, max: 1, noNaN: true }) }) },
      );
    const run = fc.integer({ min: 1, max: 17 }).chain((dim) => fc.tuple(fc.constant(dim), fc.array(step(dim), { minLength: 1, maxLength: 150, size: 'max' })));
    fc.assert(
      fc.property(run, ([dim, steps]) => {
        const art = new DualVigilanceArt(dim, 16);
        const ref = new PlainArt(dim, 16);
        return steps.every((s) => {
          if ('from' in s) {
            // a re-normalisation maps [0, 1] into itself: v ↦ a·v + b with a + b ≤ 1
            const b = s.shift * (1 - s.scale);
            art.rescale(s.from, s.scale, b);
            ref.rescale(s.from, s.scale, b);
            return true;
          }
          art.rhoLb = ref.rhoLb = Math.min(s.a, s.b);
          art.rhoUb = ref.rhoUb = Math.max(s.a, s.b);
          return same(art.train(s.x, s.learn), ref.train(s.x, s.learn)) && art.categories === ref.categories;
        });
      }),
      { numRuns: 300 },
    );
  });

  it('gives ARTime the plain ART’s outcomes and scores to the bit: defaults, values that never repeat, a full store', () => {
    const r = rng(29);
    const never = Array.from({ length: 3000 }, (_, i) => r() * 1000 + (i % 97) * 37);
    const drifting = Array.from({ length: 3000 }, (_, i) => r() * 1000 + i); // widens the range, so rescales
    const wave = daily(3000, 288, rng(31));
    for (let i = 2000; i < 2100; i++) wave[i] = wave[i]! + 40;
    const cases: [number[], ConstructorParameters<typeof ArtimeDriftDetector>[0]][] = [
      [never, {}],
      [wave, {}],
      [drifting, {}],
      [never, { maxCategories: 16 }],
      [wave, { maxCategories: 32, headroom: 0 }],
    ];
    for (const [xs, options] of cases) {
      const fast = recorded(options, false);
      const plain = recorded(options, true);
      const a = xs.map((x) => fast.d.update(x));
      const b = xs.map((x) => plain.d.update(x));
      expect(fast.log.length).toBeGreaterThan(xs.length * 4 - 50);
      expect(fast.log.findIndex((v, i) => !Object.is(v, plain.log[i]))).toBe(-1);
      expect(fast.log.length).toBe(plain.log.length);
      expect(a.findIndex((v, i) => !Object.is(v, b[i]))).toBe(-1);
      if (options?.maxCategories === 16) expect(fast.d.categories).toBe(16); // the store was full, so categories were replaced
    }
  });
});
