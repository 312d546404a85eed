import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LikelihoodDriftDetector } from './likelihood.js';

function rng(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 48271) % 2147483647;
    return s / 2147483647;
  };
}

/** A daily-like pattern: a plateau for 40% of each period, ramps, noise. */
function daily(n: number, period: number, rnd: () => number): number[] {
  return Array.from({ length: n }, (_, i) => {
    const phase = (i % period) / period;
    const base = phase < 0.4 ? 80 : phase < 0.45 ? 80 - ((phase - 0.4) / 0.05) * 60 : phase > 0.95 ? 20 + ((phase - 0.95) / 0.05) * 60 : 20;
    return base + (rnd() - 0.5) * 4;
  });
}

describe('LikelihoodDriftDetector', () => {
  it('has no look-ahead: the scores of a prefix equal the first scores of the whole series (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 500 }), fc.nat(), (xs, cut) => {
        const k = cut % xs.length;
        const o = { window: 60, warmup: 40, history: 80, maxPeriod: 20 };
        const whole = new LikelihoodDriftDetector(o);
        const prefix = new LikelihoodDriftDetector(o);
        const a = xs.map((x) => whole.update(x));
        const b = xs.slice(0, k).map((x) => prefix.update(x));
        return b.every((s, i) => s === a[i]) && a.every((s) => s >= 0 && s <= 1);
      }),
      { numRuns: 150 },
    );
  });

  it('is quiet on steady noise and spikes once on a level shift (a spike, not a held level)', () => {
    const rnd = rng(11);
    const d = new LikelihoodDriftDetector();
    const steady = Array.from({ length: 1500 }, () => d.update(100 + rnd() * 10));
    expect(Math.max(...steady.slice(200))).toBeLessThan(0.5);
    const shifted = Array.from({ length: 60 }, () => d.update(160 + rnd() * 10));
    const first = shifted.findIndex((s) => s >= 0.5);
    expect(first).toBeGreaterThanOrEqual(0);
    expect(first).toBeLessThan(5);
    // after the alert the shift is not re-alerted at full strength for the refractory period
    expect(Math.max(...shifted.slice(first + 1))).toBeLessThan(0.5);
  });

  it('finds the period of a daily pattern and sees a missing peak that stays inside the usual range', () => {
    const rnd = rng(3);
    const P = 288;
    const xs = daily(P * 10, P, rnd);
    // day 8: the plateau never comes (values stay at the low level, well inside the range seen)
    for (let i = 8 * P; i < 8 * P + 0.4 * P; i++) xs[i] = 20 + (rnd() - 0.5) * 4;
    const d = new LikelihoodDriftDetector();
    const scores = xs.map((x) => d.update(x));
    expect(d.seasonLength()).toBe(P);
    expect(Math.max(...scores.slice(3 * P, 8 * P))).toBeLessThan(0.5); // normal days: no alert
    expect(Math.max(...scores.slice(8 * P, 8 * P + 30))).toBeGreaterThanOrEqual(0.5); // at once
    // the same missing peak without the seasonal surprise does not reach alert level
    const flat = new LikelihoodDriftDetector({ maxPeriod: 0 });
    const flatScores = xs.map((x) => flat.update(x));
    expect(Math.max(...flatScores.slice(8 * P, 8 * P + 30))).toBeLessThan(0.5);
  });

  it('the analog surprise sees a broken pattern without a period: what followed similar contexts did not follow', () => {
    const rnd = rng(3);
    const P = 288;
    const xs = daily(P * 10, P, rnd);
    for (let i = 8 * P; i < 8 * P + 0.4 * P; i++) xs[i] = 20 + (rnd() - 0.5) * 4;
    const run = (analogLength: number) => {
      const d = new LikelihoodDriftDetector({ maxPeriod: 0, analogLength });
      const scores = xs.map((x) => d.update(x));
      return { normal: Math.max(...scores.slice(3 * P, 8 * P)), atBreak: Math.max(...scores.slice(8 * P, 8 * P + 30)) };
    };
    const withAnalog = run(6);
    const without = run(0);
    expect(withAnalog.atBreak).toBeGreaterThan(0.25);
    expect(withAnalog.atBreak).toBeGreaterThan(4 * withAnalog.normal);
    expect(without.atBreak).toBeLessThan(0.15); // the values stay inside the usual range: magnitude alone misses it
  });

  it('reset() forgets everything', () => {
    const rnd = rng(5);
    const xs = Array.from({ length: 700 }, () => rnd() * 10);
    const d = new LikelihoodDriftDetector();
    const a = xs.map((x) => d.update(x));
    d.reset();
    expect(xs.map((x) => d.update(x))).toEqual(a);
  });
});
