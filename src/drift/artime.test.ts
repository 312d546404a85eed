import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { haar8, roundEven } from './artime-features.js';
import { ArtimeDriftDetector } from './artime.js';
import { DualVigilanceArt } from './fuzzy-art.js';
import { daily, prefixScores, rng } from '../../test/support/drift.js';

describe('ArtimeDriftDetector', () => {
  it('has no look-ahead: the scores of a prefix equal the first scores of the whole series (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 400 }), fc.nat(), fc.constantFrom(0, 0.5, 2), (xs, cut, headroom) => {
        const k = cut % xs.length;
        const r = prefixScores(() => new ArtimeDriftDetector({ probationaryLength: 40, maxCategories: 16, headroom }), xs, k);
        return r.same && r.whole.every((s) => s >= 0 && s <= 1);
      }),
      { numRuns: 150 },
    );
  });

  it('scores a signal near the largest doubles as it scores the same signal at a small scale (no overflow)', () => {
    const rnd = rng(17);
    const xs = daily(2000, 100, rnd).map((x) => (x - 50) / 25); // within ±1
    xs[1500] = 1;
    xs[1700] = -1;
    // without headroom the range is the probation's, at either scale
    const small = new ArtimeDriftDetector({ probationaryLength: 300, headroom: 0 });
    const huge = new ArtimeDriftDetector({ probationaryLength: 300, headroom: 0 });
    const a = xs.map((x) => small.update(x));
    const b = xs.map((x) => huge.update(x * 1e308));
    expect(b.every((s) => s >= 0 && s <= 1)).toBe(true);
    expect(b).toEqual(a);
    expect(Math.max(...a)).toBeGreaterThan(0);
    // with headroom, the range ends are clamped to the largest doubles instead of overflowing
    const roomy = new ArtimeDriftDetector({ probationaryLength: 300, headroom: 2 });
    const c = xs.map((x) => roomy.update(x * 1e308));
    expect(c.every((s) => s >= 0 && s <= 1)).toBe(true);
    expect(roomy.range()).toEqual([-Number.MAX_VALUE, Number.MAX_VALUE]);
    expect(Number.isFinite(roomy.baseline())).toBe(true);
  });

  it('is silent through the probation, then scores a level shift at once and the steady pattern not at all', () => {
    const rnd = rng(3);
    const xs = daily(3000, 200, rnd);
    for (let i = 2400; i < 2600; i++) xs[i] = xs[i]! + 60; // a jump far outside everything seen
    const d = new ArtimeDriftDetector({ probationaryLength: 400 });
    const scores = xs.map((x) => d.update(x));
    expect(d.blockSize).toBe(3); // 400 ÷ 104
    expect(Math.max(...scores.slice(0, 400))).toBe(0);
    expect(Math.max(...scores.slice(1600, 2400))).toBeLessThan(0.3);
    const first = scores.findIndex((s, i) => i >= 2400 && s >= 0.3);
    expect(first).toBeGreaterThanOrEqual(2400);
    expect(first).toBeLessThan(2410);
    // only the last value of a block can score
    scores.forEach((s, i) => {
      if ((i + 1) % 3 !== 0) expect(s).toBe(0);
    });
  });

  it('learns its range online: a value beyond it widens the range and re-expresses what was learned', () => {
    const rnd = rng(5);
    const xs = Array.from({ length: 1200 }, () => 10 + rnd());
    const d = new ArtimeDriftDetector({ probationaryLength: 200 });
    expect(d.baseline()).toBeNaN();
    xs.forEach((x) => d.update(x));
    // the probation's range with half its width of headroom on each side (the default)
    const min = Math.min(...xs.slice(0, 200));
    const max = Math.max(...xs.slice(0, 200));
    const [lo, hi] = d.range()!;
    expect(lo).toBeCloseTo(min - 0.5 * (max - min), 12);
    expect(hi).toBeCloseTo(max + 0.5 * (max - min), 12);
    expect(d.baseline()).toBeGreaterThan(10.3); // the median level of values uniform on [10, 11]
    expect(d.baseline()).toBeLessThan(10.7);
    d.update(40);
    d.update(40);
    expect(d.range()![1]).toBe(40);
    // a given range is used from the start and only widens
    const given = new ArtimeDriftDetector({ probationaryLength: 200, inputMin: 0, inputMax: 100 });
    xs.forEach((x) => given.update(x));
    expect(given.range()).toEqual([0, 100]);
  });

  it('keeps at most maxCategories categories on a signal that never repeats', () => {
    const rnd = rng(7);
    const d = new ArtimeDriftDetector({ probationaryLength: 100, maxCategories: 20 });
    for (let i = 0; i < 5000; i++) d.update(rnd() * 1000 + i);
    expect(d.categories).toBeLessThanOrEqual(20);
    expect(d.categories).toBeGreaterThan(1);
  });

  it('validates its options at construction, naming the field, the expectation and the value', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ probationaryLength: 10 }, /Expected `probationaryLength` to be an integer ≥ 32, got `10` \(number\)/],
      [{ probationaryLength: 100.5 }, /`probationaryLength`.*`100.5`/],
      [{ maxCategories: 4 }, /Expected `maxCategories` to be an integer ≥ 16, got `4`/],
      [{ inputMin: 0 }, /Expected `inputMax` to be given with `inputMin`/],
      [{ inputMin: 5, inputMax: 1 }, /Expected `inputMax` to be a finite number ≥ 5, got `1`/],
      [{ inputMin: Number.NaN, inputMax: 1 }, /`inputMin`.*`NaN`/],
      [{ probation: 100 }, /Unknown option `probation`/],
      [{ headroom: -0.5 }, /Expected `headroom` to be a finite number ≥ 0, got `-0.5`/],
      [{ headroom: Number.POSITIVE_INFINITY }, /`headroom`.*`Infinity`/],
    ];
    for (const [o, message] of bad) {
      expect(() => new ArtimeDriftDetector(o as never)).toThrow(message);
      try {
        new ArtimeDriftDetector(o as never);
      } catch (e) {
        expect((e as { code?: string }).code).toBe('CONFIG_INVALID');
      }
    }
  });

  it('refuses a value that is not a finite number and is left exactly as if it never came', () => {
    const rnd = rng(13);
    const xs = daily(1500, 150, rnd);
    xs[1200] = 200;
    const clean = new ArtimeDriftDetector({ probationaryLength: 300 });
    const dirty = new ArtimeDriftDetector({ probationaryLength: 300 });
    const a = xs.map((x) => clean.update(x));
    const b = xs.map((x, i) => {
      if (i % 97 === 7) {
        for (const bad of [Number.NaN, Number.NEGATIVE_INFINITY, '3' as unknown as number]) {
          expect(() => dirty.update(bad)).toThrow(/ArtimeDriftDetector.update: expected a finite number/);
        }
      }
      return dirty.update(x);
    });
    expect(b).toEqual(a);
    expect(Math.max(...a)).toBeGreaterThan(0);
  });

  it('reset() forgets everything', () => {
    const rnd = rng(5);
    const xs = daily(1500, 150, rnd);
    xs[1100] = 300;
    const d = new ArtimeDriftDetector({ probationaryLength: 300 });
    const a = xs.map((x) => d.update(x));
    d.reset();
    expect(xs.map((x) => d.update(x))).toEqual(a);
  });
});

describe('ARTime helpers', () => {
  it('rounds ties to even as Julia does', () => {
    expect([0.5, 1.5, 2.5, -0.5, 2.4, 2.6].map(roundEven)).toEqual([0, 2, 2, -0, 2, 3]);
  });

  it('the Haar transform is orthonormal: energy is kept and a constant has no detail', () => {
    const x = Float64Array.from([1, 3, 2, 5, 4, 4, 0, 1]);
    const y = new Float64Array(8);
    haar8(x, y);
    const energy = (v: Float64Array) => v.reduce((a, b) => a + b * b, 0);
    expect(energy(y)).toBeCloseTo(energy(x), 12);
    expect(y[0]).toBeCloseTo(20 / Math.sqrt(8), 12);
    expect(y[4]).toBeCloseTo((3 - 1) / Math.SQRT2, 12); // second minus first
    haar8(Float64Array.from([2, 2, 2, 2, 2, 2, 2, 2]), y);
    expect([...y.slice(1)].every((v) => Math.abs(v) < 1e-12)).toBe(true);
  });
});

describe('DualVigilanceArt', () => {
  it('learns by the two vigilances: resonance grows the box, a near match adds a category, a far one is a mismatch', () => {
    const art = new DualVigilanceArt(2, 16);
    art.rhoLb = 0.5;
    art.rhoUb = 0.9;
    art.train([0.5, 0.5], true); // the uncommitted category
    expect(art.train([0.5, 0.5], true).mismatch).toBe(true); // nothing committed resonates yet
    expect(art.categories).toBe(2);
    const same = art.train([0.5, 0.5], true);
    expect(same.similarity).toBe(1);
    expect(same.mismatch).toBe(false);
    expect(art.categories).toBe(2);
    expect(art.train([0.1, 0.95], true).mismatch).toBe(true);
    expect(art.categories).toBe(3);
  });

  it('rescale maps every committed box exactly as the inputs are mapped', () => {
    const art = new DualVigilanceArt(2, 16);
    art.rhoLb = 0.5;
    art.rhoUb = 0.6;
    art.train([0, 0], true);
    art.train([0.2, 0.4], true);
    const before = art.train([0.2, 0.4], false).similarity;
    art.rescale(1, 0.5, 0.25); // the second feature v ↦ 0.5 v + 0.25
    expect(art.train([0.2, 0.45], false).similarity).toBeCloseTo(before, 12);
    expect(art.train([0.2, 0.4], false).similarity).toBeLessThan(before);
  });
});
