import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RobustDriftDetector } from './detector.js';

describe('RobustDriftDetector', () => {
  it('has no look-ahead: the scores of a prefix equal the first scores of the whole series (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 400 }), fc.nat(), (xs, cut) => {
        const k = cut % xs.length;
        const whole = new RobustDriftDetector({ window: 50, warmup: 5 });
        const prefix = new RobustDriftDetector({ window: 50, warmup: 5 });
        const a = xs.map((x) => whole.update(x));
        const b = xs.slice(0, k).map((x) => prefix.update(x));
        return b.every((s, i) => s === a[i]);
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
});
