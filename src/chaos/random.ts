/**
 * Seeded randomness for faults and drills: the same seed gives the same sequence, so a drill replays.
 */

/** A 32-bit seed from a number or a string (FNV-1a for strings). */
export function seedOf(seed: number | string): number {
  if (typeof seed === 'number') return (Math.floor(seed) ^ 0x9e3779b9) >>> 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < seed.length; i++) {
    h ^= seed.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: a small, fast PRNG with a 32-bit state; returns numbers in [0, 1). */
export function seededRandom(seed: number | string): () => number {
  let a = seedOf(seed);
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal deviate (Box–Muller) from a uniform source. */
export function normal(random: () => number): number {
  let u = random();
  while (u <= Number.EPSILON) u = random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** z of the 99th percentile of the standard normal distribution. */
export const Z99 = 2.326347874040841;

/**
 * The log-normal distribution whose median is `p50` and whose 99th percentile is `p99`:
 * ln X ~ N(μ, σ²) with μ = ln p50 and σ = (ln p99 − ln p50) / z₀.₉₉.
 */
export function logNormalFrom(
  p50: number,
  p99: number,
): {
  mu: number;
  sigma: number;
  /** One sample (same unit as `p50` and `p99`), from a uniform source in [0, 1) such as `seededRandom(seed)`. */
  sample(random: () => number): number;
} {
  const mu = Math.log(p50);
  const sigma = (Math.log(p99) - mu) / Z99;
  return { mu, sigma, sample: (random) => Math.exp(mu + sigma * normal(random)) };
}
