import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RobustDriftDetector, SortedWindow } from './detector.js';
import { prefixScores } from '../../test/support/drift.js';

describe('SortedWindow', () => {
  it('answers every quantile and rank exactly as a sort of the last `size` values (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.array(fc.integer({ min: -5, max: 5 }), { maxLength: 80 }), (size, xs) => {
        const w = new SortedWindow(size);
        for (let i = 0; i < xs.length; i++) {
          w.push(xs[i]!);
          const last = xs.slice(Math.max(0, i + 1 - size), i + 1).sort((a, b) => a - b);
          if (w.count !== last.length) return false;
          for (const q of [0, 0.25, 0.5, 0.9, 1]) {
            const idx = q * (last.length - 1);
            const lo = Math.floor(idx);
            const hi = Math.min(last.length - 1, lo + 1);
            if (w.quantile(q) !== last[lo]! + (last[hi]! - last[lo]!) * (idx - lo)) return false;
          }
          for (const x of [-6, 0, 3]) {
            const below = last.filter((v) => v < x).length;
            const atMost = last.filter((v) => v <= x).length;
            if (w.rank(x) !== (below + atMost) / 2 / last.length) return false;
          }
        }
        return true;
      }),
      { numRuns: 300 },
    );
  });
});

describe('RobustDriftDetector', () => {
  it('has no look-ahead: the scores of a prefix equal the first scores of the whole series (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 400 }), fc.nat(), (xs, cut) => {
        const k = cut % xs.length;
        return prefixScores(() => new RobustDriftDetector({ window: 50, warmup: 5 }), xs, k).same;
      }),
      { numRuns: 200 },
    );
  });

  it('scores stay in [0, 1], stay low on steady noise and jump on a level shift', () => {
    let seed = 7;
    const rnd = () => {
      seed = (seed * 48271) % 2147483647;
      return seed / 2147483647;
    };
    const d = new RobustDriftDetector({ window: 300 });
    const steady = Array.from({ length: 600 }, () => d.update(100 + rnd() * 10));
    expect(Math.max(...steady.slice(100))).toBeLessThan(0.5);
    const shifted = Array.from({ length: 20 }, () => d.update(300 + rnd() * 10));
    expect(Math.max(...shifted)).toBeGreaterThan(0.9);
    for (const s of [...steady, ...shifted]) expect(s >= 0 && s <= 1).toBe(true);
  });

  it('validates its options at construction and refuses non-finite values without a trace', () => {
    expect(() => new RobustDriftDetector({ window: 0 })).toThrow(/Expected `window` to be an integer ≥ 10, got `0` \(number\)/);
    expect(() => new RobustDriftDetector({ level: 'mode' as never })).toThrow(/Expected `level` to be one of 'mean', 'median', got `"mode"`/);
    expect(() => new RobustDriftDetector({ zScale: -1 })).toThrow(/`zScale`/);
    expect(() => new RobustDriftDetector({ damp: 2 })).toThrow(/`damp`/);
    const clean = new RobustDriftDetector({ window: 50 });
    const dirty = new RobustDriftDetector({ window: 50 });
    const xs = Array.from({ length: 200 }, (_, i) => 10 + (i % 7));
    const a = xs.map((x) => clean.update(x));
    const b = xs.map((x, i) => {
      if (i % 40 === 3) expect(() => dirty.update(Number.NaN)).toThrow(/RobustDriftDetector.update: expected a finite number, got `NaN`/);
      return dirty.update(x);
    });
    expect(b).toEqual(a);
  });
});
