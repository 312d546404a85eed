/**
 * ARTime: anomaly detection by adaptive resonance over time windows, after ARTime by Mark Hampton
 * (ARTimeNAB.jl), the best published detector on the Numenta Anomaly Benchmark. This is our own
 * implementation of the algorithm, with one change that makes it causal: the value range is learned online.
 *
 * The pipeline for each value:
 * 1. **Downsampling.** Values are taken in blocks of `step` (the probation length ÷ 104, at least 1: 1 by default). A block
 *    becomes its maximum or its minimum, whichever is further from a moving average of block means, or its mean
 *    when that extreme is within 10% of the mean. Only the last value of a block is scored; the others score 0.
 * 2. **Normalising.** The block value is mapped to [0, 1] by the value range, rounded to one of 80 levels, and
 *    snapped to the running median level when within 0.075 of it.
 * 3. **Features.** The last 8 block values, scaled to their own min and max, go through a 3-level Haar wavelet
 *    transform, itself scaled to [0, 1] (the shape), followed by the 8 values themselves (the level): 16 features.
 * 4. **Resonance.** A dual-vigilance fuzzy ART (`./fuzzy-art.ts`) learns the feature vectors. An input that
 *    resonates with no category (best match below the lower vigilance ρ_lb) is a candidate anomaly, scored by how
 *    far its match is below the two vigilances and by how poorly its newest value fits (the energy similarity).
 * 5. **Probation.** The first `probationaryLength` values are learned in one batch. The vigilances start at the
 *    mean match of a trial run (at vigilance 0.8, with the least typical windows first).
 * 6. **Adapting the vigilances.** Every half probation (in blocks) and 12 blocks after each anomaly, ρ_ub becomes
 *    the mean of every match so far (at most 0.97); ρ_lb rises by 19% of the way to the lowest recent match, or
 *    falls by half the mean recent shortfall below ρ_ub (at least 0.005, never below the mean match of past
 *    anomalies).
 * 7. **Masking.** For 12 blocks after an anomaly, after a vigilance change and after a new cluster, until 12
 *    blocks pass without a new cluster, a new cluster is an anomaly only when its match is below 0.9 (0.7 after
 *    the 12 blocks) of the last anomaly's.
 *
 * ARTime as published is handed the file's minimum, maximum and length in advance (its probation is 15% of the
 * file, at most 750 values), which is a look-ahead. Here the probation is fixed (200 values by default: ARTime's
 * schedule at blocks of one value) and the range is the probation's minimum and maximum with `headroom` on each
 * side, widened when a block value falls outside it; when it widens, what was learned is re-expressed in the new
 * range exactly (each category's box is mapped by the same affine map as the values) and the level history is
 * remapped. `inputMin`/`inputMax` give a range from the start instead (the benchmark's faithfulness check passes
 * the file's; a stream's known bounds also fit).
 */
import { BlastwallError } from '../core/errors.js';
import { intOption, numberOption, objectOption } from '../core/validate.js';
import { type Detector, finiteValue } from './detector.js';
import { blockMean, blockValue, haar8, initialVigilance, minMax, roundEven } from './artime-features.js';
import { DualVigilanceArt } from './fuzzy-art.js';

/** Options of {@link ArtimeDriftDetector}. ARTime's published constants are not options. */
export interface ArtimeDetectorOptions {
  /**
   * Values learned in one batch before any score (rounded down to an even number). It also sets the block size
   * (`probationaryLength ÷ 104`, at least 1) and the adaptation period. Default 200: blocks of one value, the
   * finest time scale ARTime's block logic allows (it keeps 104 to 207 blocks in a probation), so that short
   * streams are scored early. (ARTime on NAB takes 15% of the file, at most 750: a look-ahead.)
   */
  probationaryLength?: number;
  /** The lower end of the value range from the start (with `inputMax`); it still widens if a value falls below. */
  inputMin?: number;
  /** The upper end of the value range from the start (with `inputMin`); it still widens if a value falls above. */
  inputMax?: number;
  /**
   * Room left on each side of the range learned in the probation, as a fraction of its width: the range starts
   * as [min − h·(max − min), max + h·(max − min)] and still widens when a value falls outside. Default 0.5, chosen
   * by leave-one-category-out on NAB (each fold's three training categories chose it among 0, 0.5, 1 and 2).
   * Not used with `inputMin`/`inputMax`.
   */
  headroom?: number;
  /** Most categories the ART holds; at the cap, a new one replaces the least recently resonating. Default 256. */
  maxCategories?: number;
}

const OPTIONS = ['probationaryLength', 'inputMin', 'inputMax', 'maxCategories', 'headroom'] as const;
const WINDOW = 8;
const WINDOWS_PER_PROBATION = 13;
const LEVELS = 80;
const CHOMP = 0.075;
const INITIAL_RHO = 0.8;
const MASK = Math.floor(WINDOW * 1.5);
const DIM = 2 * WINDOW;

/**
 * ARTime (adaptive resonance over time windows) as a causal streaming detector: no look-ahead, bounded memory
 * (at most `maxCategories` categories of 32 weights, and rings of fixed size), one configuration for every signal.
 * Scores are spikes: a value in (0, 1] on the last value of a block that starts a new cluster, 0 otherwise.
 */
export class ArtimeDriftDetector implements Detector {
  private readonly probation: number;
  private readonly step: number;
  private readonly trend: number;
  private readonly givenMin: number | undefined;
  private readonly givenMax: number | undefined;
  private readonly headroom: number;
  private readonly art: DualVigilanceArt;
  // downsampling
  private readonly block: Float64Array;
  private row = 0;
  private blocks = 0;
  private movingAverage = 0;
  private rawMin = Number.POSITIVE_INFINITY;
  private rawMax = Number.NEGATIVE_INFINITY;
  private lo = 0;
  private hi = 0;
  private ranged = false;
  /** Block values of the probation, replayed once the range is known. */
  private readonly pending: Float64Array;
  // levels and features
  private readonly bins = new Float64Array(LEVELS + 1);
  private median = 0;
  private below = 0;
  private above = 0;
  private readonly recent = new Float64Array(WINDOW);
  private readonly shape = new Float64Array(WINDOW);
  private readonly features = new Float64Array(DIM);
  /** The probation's feature vectors, learned in one batch at its end. */
  private readonly batch: Float64Array[];
  // vigilance adaptation and masking
  private lastAnomaly = 0;
  private lastAnomalySim = 0;
  private lastRhoUpdate = 0;
  private maskAfterCategory = false;
  private sinceNewCluster = 0;
  private simSum = 0;
  private simCount = 0;
  private readonly sims: Float64Array;
  private simPos = 0;
  private readonly shortfalls: Float64Array;
  private shortPos = 0;
  private anomalySum = 0;
  private anomalyCount = 0;
  private anomalyLast = 0;

  constructor(options: ArtimeDetectorOptions = {}) {
    const o = objectOption('', options, OPTIONS) as ArtimeDetectorOptions;
    const p = intOption('probationaryLength', o.probationaryLength ?? 200, 32);
    this.probation = p - (p % 2);
    this.step = Math.max(1, Math.floor(this.probation / (WINDOW * WINDOWS_PER_PROBATION)));
    this.trend = Math.floor(this.probation / this.step);
    if ((o.inputMin === undefined) !== (o.inputMax === undefined)) {
      const missing = o.inputMin === undefined ? 'inputMin' : 'inputMax';
      throw new BlastwallError('CONFIG_INVALID', `Expected \`${missing}\` to be given with \`${missing === 'inputMin' ? 'inputMax' : 'inputMin'}\`, got \`undefined\` (undefined)`, {
        details: { field: missing, expectation: 'given together' },
      });
    }
    if (o.inputMin !== undefined) {
      this.givenMin = numberOption('inputMin', o.inputMin, -Number.MAX_VALUE);
      this.givenMax = numberOption('inputMax', o.inputMax, this.givenMin);
    }
    this.headroom = numberOption('headroom', o.headroom ?? 0.5, 0);
    this.art = new DualVigilanceArt(DIM, intOption('maxCategories', o.maxCategories ?? 256, 16));
    this.block = new Float64Array(this.step);
    this.pending = new Float64Array(this.trend);
    this.batch = [];
    this.sims = new Float64Array(Math.floor(this.trend / 2) + 1);
    this.shortfalls = new Float64Array(this.trend + 1);
    this.reset();
  }

  /** Values per block: only the last value of a block can score above 0. */
  get blockSize(): number {
    return this.step;
  }

  /** The value range in use (learned online unless `inputMin`/`inputMax` were given), once the probation is over. */
  range(): [number, number] | undefined {
    return this.ranged ? [this.lo, this.hi] : undefined;
  }

  /** Categories the ART holds (at most `maxCategories`). */
  get categories(): number {
    return this.art.categories;
  }

  /** Scores one value. A value that is not a finite number is refused with a RangeError and changes nothing. */
  update(x: number): number {
    finiteValue('ArtimeDriftDetector', x);
    this.row++;
    if (!this.ranged) {
      this.rawMin = Math.min(this.rawMin, x);
      this.rawMax = Math.max(this.rawMax, x);
    }
    this.block.copyWithin(0, 1);
    this.block[this.step - 1] = x;
    if (this.row % this.step !== 0) return 0;
    const ds = this.downsample();
    this.blocks++;
    if (this.blocks < this.trend) {
      this.pending[this.blocks - 1] = ds;
      return 0;
    }
    if (this.blocks === this.trend) {
      this.pending[this.blocks - 1] = ds;
      this.endProbation();
      return 0;
    }
    this.widen(ds);
    this.featuresOf(ds, this.blocks);
    return this.detect(this.features, this.blocks);
  }

  /** The block's value (see `blockValue`), with the moving average of block means updated. */
  private downsample(): number {
    const mean = blockMean(this.block);
    this.movingAverage = this.blocks === 0 ? mean : (this.movingAverage + mean) / 2;
    return blockValue(this.block, mean, this.movingAverage);
  }

  private endProbation(): void {
    // the margin in halves, and the ends clamped to the doubles, so that a range near ±1.8e308 does not overflow
    const margin = this.headroom * (this.rawMax / 2 - this.rawMin / 2) * 2;
    this.lo = this.givenMin ?? Math.max(-Number.MAX_VALUE, this.rawMin - margin);
    this.hi = this.givenMax ?? Math.min(Number.MAX_VALUE, this.rawMax + margin);
    this.ranged = true;
    for (let i = 1; i <= this.trend; i++) {
      const ds = this.pending[i - 1]!;
      this.widen(ds);
      this.featuresOf(ds, i);
      this.batch.push(Float64Array.from(this.features));
    }
    // the starting vigilance: the mean match of a trial run over the complete windows, least typical first
    const rho = initialVigilance(this.batch.slice(WINDOW - 1), this.trend, this.art.capacity, INITIAL_RHO);
    this.art.rhoLb = rho;
    this.art.rhoUb = rho;
    for (let i = 1; i <= this.trend; i++) this.detect(this.batch[i - 1]!, i);
    this.batch.length = 0;
  }

  /** Widens the range to hold `ds` and re-expresses the levels, the window and the ART's boxes in it. */
  private widen(ds: number): void {
    if (ds >= this.lo && ds <= this.hi) return;
    const lo = Math.min(this.lo, ds);
    const hi = Math.max(this.hi, ds);
    // old normalised v ↦ new: (lo_old + v·width_old − lo_new) / width_new (a zero old width normalised to 0)
    // halves, so that a range near ±1.8e308 does not overflow
    const a = (this.hi / 2 - this.lo / 2) / (hi / 2 - lo / 2);
    const b = (this.lo / 2 - lo / 2) / (hi / 2 - lo / 2);
    this.lo = lo;
    this.hi = hi;
    if (!this.ranged) return;
    const level = (l: number) => Math.min(LEVELS, Math.max(0, roundEven(a * l + b * LEVELS)));
    const old = Float64Array.from(this.bins);
    this.bins.fill(0);
    for (let l = 0; l <= LEVELS; l++) {
      const to = level(l);
      this.bins[to] = this.bins[to]! + old[l]!;
    }
    this.median = level(this.median);
    this.below = 0;
    this.above = 0;
    for (let l = 0; l <= LEVELS; l++) {
      if (l < this.median) this.below += this.bins[l]!;
      else if (l > this.median) this.above += this.bins[l]!;
    }
    for (let k = 0; k < WINDOW; k++) this.recent[k] = roundEven((a * this.recent[k]! + b) * LEVELS) / LEVELS;
    this.art.rescale(WINDOW, a, b);
  }

  /** Normalises, discretises and levelises block value `ds` (the i-th block), then builds the features. */
  private featuresOf(raw: number, i: number): void {
    let ds = raw / 2 - this.lo / 2;
    const width = this.hi / 2 - this.lo / 2;
    if (width !== 0) ds /= width;
    const level = Math.min(LEVELS, Math.max(0, roundEven(ds * LEVELS)));
    ds = level / LEVELS;
    // a running median of the levels (a histogram walk, as ARTime does: close to the median, not exact)
    this.bins[level]! += 1;
    const half = Math.floor(i / 2);
    if (i === 1) this.median = level;
    if (this.median > level) this.below++;
    else if (this.median < level) this.above++;
    if (half < this.above) {
      this.below += this.bins[this.median]!;
      this.median++;
      while (this.median < LEVELS && this.bins[this.median] === 0) this.median++;
      this.above -= this.bins[this.median]!;
    } else if (half < this.below) {
      this.above += this.bins[this.median]!;
      this.median--;
      while (this.median > 0 && this.bins[this.median] === 0) this.median--;
      this.below -= this.bins[this.median]!;
    }
    const med = this.median / LEVELS;
    if (Math.abs(ds - med) < CHOMP) ds = med;
    this.recent.copyWithin(0, 1);
    this.recent[WINDOW - 1] = ds;
    const f = this.features;
    if (i < WINDOW) {
      f.fill(0);
      return;
    }
    this.shape.set(this.recent);
    minMax(this.shape, WINDOW);
    haar8(this.shape, f);
    minMax(f, WINDOW);
    f.set(this.recent, WINDOW);
  }

  /** One block through the ART, the masking rules and the vigilance adaptation; the anomaly score. */
  private detect(f: Float64Array, i: number): number {
    const art = this.art;
    const updateAfterAnomaly = i - this.lastAnomaly === MASK;
    const updateForTrend = i - this.lastRhoUpdate >= Math.floor(this.trend / 2);
    const maskAfterAnomaly = i - this.lastAnomaly <= MASK;
    if (i > this.trend + MASK && this.maskAfterCategory && this.sinceNewCluster >= MASK) this.maskAfterCategory = false;
    // windows before the first complete one are measured but not learned (as in ARTime)
    const r = art.train(f, i >= WINDOW);
    const newCluster = i < WINDOW || r.mismatch;
    const sim = r.similarity;
    this.sinceNewCluster = newCluster ? 0 : this.sinceNewCluster + 1;
    this.simSum += sim;
    this.simCount++;
    this.sims[this.simPos] = sim;
    this.simPos = (this.simPos + 1) % this.sims.length;
    this.shortfalls[this.shortPos] = art.rhoUb - sim;
    this.shortPos = (this.shortPos + 1) % this.shortfalls.length;
    // the lowest match while an anomaly is masked stands for that anomaly
    if (i - this.lastAnomaly < MASK && this.anomalyCount > 0 && sim < this.anomalyLast) {
      this.anomalySum += sim - this.anomalyLast;
      this.anomalyLast = sim;
    }
    const masking = this.maskAfterCategory || maskAfterAnomaly;
    const belowLast = sim < this.lastAnomalySim * (maskAfterAnomaly ? 0.9 : 0.7);
    let score = 0;
    if (i > this.trend && newCluster && (!masking || belowLast)) {
      score = this.confidence(sim, r.energy);
      this.anomalySum += sim;
      this.anomalyCount++;
      this.anomalyLast = sim;
      this.lastAnomalySim = sim;
      this.lastAnomaly = i;
    }
    this.maskAfterCategory ||= newCluster;
    if (i > this.trend && (updateAfterAnomaly || updateForTrend)) this.adaptVigilance(i);
    return score;
  }

  private adaptVigilance(i: number): void {
    const art = this.art;
    let minSim = Number.POSITIVE_INFINITY;
    for (const s of this.sims) minSim = Math.min(minSim, s);
    const ub = Math.min(0.97, this.simSum / this.simCount);
    let lb = art.rhoLb;
    if (lb <= minSim) lb += (minSim - lb) * 0.19;
    else {
      let decrease = 0;
      if (i > this.trend * 2) {
        let sum = 0;
        let n = 0;
        for (const s of this.shortfalls) {
          if (s > 0.05) {
            sum += Math.min(0.37, s);
            n++;
          }
        }
        if (n > 0) decrease = sum / n;
      }
      lb -= Math.max(0.01, decrease) / 2;
      if (this.anomalyCount > 0) lb = Math.max(this.anomalySum / this.anomalyCount, lb);
    }
    art.rhoLb = Math.min(ub, lb);
    art.rhoUb = ub;
    this.lastRhoUpdate = i;
    this.maskAfterCategory = true;
  }

  /** How far the match is below both vigilances (in units of its distance from 1), plus how poorly the newest value fits. */
  private confidence(sim: number, energy: number): number {
    const s = Math.min(0.999, sim);
    const ub = (1 - s - (1 - this.art.rhoUb)) / (1 - s);
    const lb = (1 - s - (1 - this.art.rhoLb)) / (1 - s);
    const c = Math.min(1, ub * 0.35 + lb * 0.65 + (1 - energy) * 1.5);
    return Math.max(0, Math.round(c * 1e6) / 1e6);
  }

  /** The running median level of the block values, in the signal's unit, once the probation is over (NaN before). */
  baseline(): number {
    return this.ranged ? this.lo + (this.median / LEVELS) * (this.hi / 2 - this.lo / 2) * 2 : Number.NaN;
  }

  /** Forgets everything: the next value starts a new probation. */
  reset(): void {
    this.art.clear();
    this.block.fill(0);
    this.row = 0;
    this.blocks = 0;
    this.movingAverage = 0;
    this.rawMin = Number.POSITIVE_INFINITY;
    this.rawMax = Number.NEGATIVE_INFINITY;
    this.lo = 0;
    this.hi = 0;
    this.ranged = false;
    this.bins.fill(0);
    this.median = 0;
    this.below = 0;
    this.above = 0;
    this.recent.fill(0);
    this.batch.length = 0;
    this.lastAnomaly = 0;
    this.lastAnomalySim = 0;
    this.lastRhoUpdate = 0;
    this.maskAfterCategory = false;
    this.sinceNewCluster = 0;
    this.simSum = 0;
    this.simCount = 0;
    this.sims.fill(1);
    this.simPos = 0;
    this.shortfalls.fill(0);
    this.shortPos = 0;
    this.anomalySum = 0;
    this.anomalyCount = 0;
    this.anomalyLast = 0;
  }
}
