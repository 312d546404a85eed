import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fisherCombine, LikelihoodDriftDetector } from './likelihood.js';
import { prefixScores, rng } from '../../test/support/drift.js';

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
        const r = prefixScores(() => new LikelihoodDriftDetector({ window: 60, warmup: 40, history: 80, maxPeriod: 20 }), xs, k);
        return r.same && r.whole.every((s) => s >= 0 && s <= 1);
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
      // the rank is off so the analog surprise is seen alone
      const d = new LikelihoodDriftDetector({ maxPeriod: 0, analogLength, rank: false });
      const scores = xs.map((x) => d.update(x));
      return { normal: Math.max(...scores.slice(3 * P, 8 * P)), atBreak: Math.max(...scores.slice(8 * P, 8 * P + 30)) };
    };
    const withAnalog = run(6);
    const without = run(0);
    expect(withAnalog.atBreak).toBeGreaterThan(0.25);
    expect(withAnalog.atBreak).toBeGreaterThan(4 * withAnalog.normal);
    expect(without.atBreak).toBeLessThan(0.15); // the values stay inside the usual range: magnitude alone misses it
  });

  it("Fisher's method: one p-value is itself; agreeing weak evidence adds up; a p of 1 only dilutes", () => {
    expect(fisherCombine([0.2])).toBeCloseTo(0.2, 12);
    // −2 Σ ln p = 11.98 on 4 degrees of freedom: e^−5.99 · (1 + 5.99)
    const h = -2 * Math.log(0.05);
    expect(fisherCombine([0.05, 0.05])).toBeCloseTo(Math.exp(-h) * (1 + h), 12);
    expect(fisherCombine([0.05, 0.05])).toBeLessThan(0.05);
    expect(fisherCombine([0.05, 1])).toBeGreaterThan(0.05);
    expect(fisherCombine([])).toBe(1);
    expect(fisherCombine([0, 0.5])).toBeGreaterThanOrEqual(0);
  });

  it('damps an alert that recurs at the interval of the earlier ones (a daily job), not an off-beat one', () => {
    const rnd = rng(7);
    const xs = Array.from({ length: 3000 }, () => 50 + rnd() * 4);
    const spikes = [400, 700, 1000, 1300, 1600, 1900];
    for (const i of spikes) xs[i] = 90;
    xs[2345] = 90; // off the beat
    const run = (periodicTolerance: number) => {
      const d = new LikelihoodDriftDetector({ maxPeriod: 0, periodicTolerance });
      return xs.map((x) => d.update(x));
    };
    const damped = run(0.04);
    const plain = run(0);
    for (const i of spikes) expect(plain[i]).toBeGreaterThanOrEqual(0.47);
    // the first three set the beat; from the fourth on the spike is a pattern
    for (const i of spikes.slice(0, 3)) expect(damped[i]).toBeGreaterThanOrEqual(0.47);
    for (const i of spikes.slice(3)) expect(damped[i]).toBeLessThan(0.47);
    expect(damped[2345]).toBeGreaterThanOrEqual(0.47);
  });

  it('relearns the baseline after a held shift, so an anomaly in the new regime is still seen', () => {
    const rnd = rng(9);
    const xs = [...Array.from({ length: 2500 }, () => 6 + rnd()), ...Array.from({ length: 1000 }, () => 15 + rnd() * 2)];
    xs[3000] = 22; // a spike in the new regime
    const run = (relearnAfter: number) => {
      const d = new LikelihoodDriftDetector({ relearnAfter });
      return xs.map((x) => d.update(x));
    };
    const relearned = run(100);
    const stuck = run(0);
    expect(Math.max(...relearned.slice(2500, 2510))).toBeGreaterThanOrEqual(0.47); // the shift itself alerts
    expect(relearned[3000]).toBeGreaterThanOrEqual(0.47);
    expect(stuck[3000]).toBeLessThan(0.47); // judged against the old regime, every new value looks the same
    expect(Math.max(...relearned.slice(2700, 2990))).toBeLessThan(0.47); // and the new regime itself is quiet
  });

  it('validates its options at construction, naming the field, the expectation and the value', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ window: -5 }, /Expected `window` to be an integer ≥ 10, got `-5` \(number\)/],
      [{ floorP: 0 }, /Expected `floorP` to be a number > 0 and ≤ 0.5, got `0`/],
      [{ minStd: Number.NaN }, /`minStd`.*`NaN`/],
      [{ alertAt: 1.5 }, /`alertAt`.*`1.5`/],
      [{ rank: 'yes' }, /Expected `rank` to be a boolean, got `"yes"` \(string\)/],
      [{ periodicTolerance: -0.1 }, /`periodicTolerance`/],
      [{ relearnAfter: 2.5 }, /`relearnAfter`/],
      [{ windw: 100 }, /Unknown option `windw`/],
    ];
    for (const [o, message] of bad) {
      expect(() => new LikelihoodDriftDetector(o as never)).toThrow(message);
      try {
        new LikelihoodDriftDetector(o as never);
      } catch (e) {
        expect((e as { code?: string }).code).toBe('CONFIG_INVALID');
      }
    }
    expect(() => new LikelihoodDriftDetector({ relearnAfter: 0, periodicTolerance: 0, analogLength: 0, maxPeriod: 0 })).not.toThrow();
  });

  it('refuses a value that is not a finite number and is left exactly as if it never came', () => {
    const rnd = rng(13);
    const xs = Array.from({ length: 400 }, () => rnd() * 10);
    const clean = new LikelihoodDriftDetector();
    const dirty = new LikelihoodDriftDetector();
    const a = xs.map((x) => clean.update(x));
    const b = xs.map((x, i) => {
      if (i % 50 === 7) {
        for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, '3' as unknown as number]) {
          expect(() => dirty.update(bad)).toThrow(/LikelihoodDriftDetector.update: expected a finite number/);
        }
      }
      return dirty.update(x);
    });
    expect(b).toEqual(a);
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
