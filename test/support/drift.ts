/** Shared pieces of the drift detectors' tests. */
import type { Detector } from '../../src/drift/detector.js';

/** A seeded Lehmer generator in (0, 1): the same stream for the same seed. */
export function rng(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 48271) % 2147483647;
    return s / 2147483647;
  };
}

/** A daily-like pattern of `period` values with noise. */
export function daily(n: number, period: number, rnd: () => number): number[] {
  return Array.from({ length: n }, (_, i) => 50 + 20 * Math.sin((2 * Math.PI * i) / period) + (rnd() - 0.5) * 2);
}

/**
 * The no-look-ahead property for one series: a detector fed only the first `k` values gives the same scores
 * as one fed the whole series gave for them. Returns both score lists for further checks.
 */
export function prefixScores(make: () => Detector, xs: number[], k: number): { whole: number[]; prefix: number[]; same: boolean } {
  const a = make();
  const b = make();
  const whole = xs.map((x) => a.update(x));
  const prefix = xs.slice(0, k).map((x) => b.update(x));
  return { whole, prefix, same: prefix.every((s, i) => s === whole[i]) };
}
