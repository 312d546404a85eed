/**
 * The feature helpers of ARTime (`./artime.ts`): rounding as Julia does, the 8-value Haar wavelet transform,
 * min–max scaling, and the starting vigilance. After ARTime by Mark Hampton (ARTimeNAB.jl); our own implementation.
 */
import { DualVigilanceArt } from './fuzzy-art.js';

/** Julia's `round(Int, x)`: to the nearest integer, ties to even. */
export function roundEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The mean of a block (values near ±1.8e308, which overflow the sum, are averaged scaled down instead). */
export function blockMean(block: Float64Array): number {
  let sum = 0;
  for (const v of block) sum += v;
  let mean = sum / block.length;
  if (!Number.isFinite(mean)) {
    mean = 0;
    for (const v of block) mean += v / block.length;
  }
  return mean;
}

/**
 * ARTime's block value: the block's maximum or minimum, whichever is further from the moving average of block
 * means, or the block's mean when that extreme is within 10% of it.
 */
export function blockValue(block: Float64Array, mean: number, movingAverage: number): number {
  let max = Number.NEGATIVE_INFINITY;
  let min = Number.POSITIVE_INFINITY;
  for (const v of block) {
    if (v > max) max = v;
    if (v < min) min = v;
  }
  const ds = Math.abs(max - movingAverage) < Math.abs(min - movingAverage) ? min : max;
  return Math.abs(ds - mean) < 0.1 * mean ? mean : ds;
}

/** The 3-level Haar wavelet transform of 8 values: [s3, d3, d2 (2), d1 (4)], d = (second − first)/√2. */
export function haar8(x: Float64Array, out: Float64Array): void {
  const r = Math.SQRT1_2;
  const s1 = [0, 0, 0, 0];
  for (let k = 0; k < 4; k++) {
    s1[k] = (x[2 * k]! + x[2 * k + 1]!) * r;
    out[4 + k] = (x[2 * k + 1]! - x[2 * k]!) * r;
  }
  const s2a = (s1[0]! + s1[1]!) * r;
  const s2b = (s1[2]! + s1[3]!) * r;
  out[2] = (s1[1]! - s1[0]!) * r;
  out[3] = (s1[3]! - s1[2]!) * r;
  out[0] = (s2a + s2b) * r;
  out[1] = (s2b - s2a) * r;
}

/** Scales the first n values of v to [0, 1] by their min and max (left shifted only when they are all equal). */
export function minMax(v: Float64Array, n: number): void {
  let lo = Number.POSITIVE_INFINITY;
  for (let k = 0; k < n; k++) lo = Math.min(lo, v[k]!);
  let hi = 0;
  for (let k = 0; k < n; k++) hi = Math.max(hi, (v[k] = v[k]! - lo));
  if (hi !== 0) for (let k = 0; k < n; k++) v[k] = v[k]! / hi;
}

/** Cosine similarity, with ARTime's convention for a zero vector (1 minus the other's norm). */
function similarity(a: Float64Array, b: Float64Array): number {
  let na = 0;
  let nb = 0;
  let dot = 0;
  for (let k = 0; k < a.length; k++) {
    na += a[k]! * a[k]!;
    nb += b[k]! * b[k]!;
    dot += a[k]! * b[k]!;
  }
  na = Math.sqrt(na);
  nb = Math.sqrt(nb);
  if (na === 0) return 1 - nb;
  if (nb === 0) return 1 - na;
  return dot / (na * nb);
}

/**
 * ARTime's starting vigilance: order the windows by their summed similarity to all others (least typical
 * first), learn them at vigilance 0.8, and take the mean match over the second half.
 */
export function initialVigilance(windows: Float64Array[], trend: number, capacity: number, rho: number): number {
  const n = windows.length;
  const total = new Float64Array(n).fill(1); // each window's similarity to itself
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const s = similarity(windows[i]!, windows[j]!);
      total[i] = total[i]! + s;
      total[j] = total[j]! + s;
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => total[a]! - total[b]! || a - b);
  const trial = new DualVigilanceArt(windows[0]!.length, capacity);
  trial.rhoLb = rho;
  trial.rhoUb = rho;
  const matches = order.map((k) => trial.train(windows[k]!, true).similarity);
  const from = Math.floor(trend / 2) - 1;
  let sum = 0;
  for (let k = from; k < n; k++) sum += matches[k]!;
  return sum / Math.max(1, n - from);
}
