/**
 * A TypeScript port of the NAB v1.1 scorer (numenta/NAB `nab/sweeper.py`): scaled-sigmoid weighting of
 * detections in and after labelled windows, a probationary period, and one threshold swept over every
 * distinct score of all pooled rows.
 */

export interface CostProfile {
  tpWeight: number;
  fpWeight: number;
  fnWeight: number;
}

/** NAB v1.1's three cost profiles: weights of a true positive, a false positive and a missed window. */
export const PROFILES: Record<'standard' | 'reward_low_FP_rate' | 'reward_low_FN_rate', CostProfile> = {
  standard: { tpWeight: 1, fpWeight: 0.11, fnWeight: 1 },
  reward_low_FP_rate: { tpWeight: 1, fpWeight: 0.22, fnWeight: 1 },
  reward_low_FN_rate: { tpWeight: 1, fpWeight: 0.11, fnWeight: 2 },
};

/** One scored NAB data file: its rows' timestamps and scores and its labelled anomaly windows. */
export interface NabFile {
  /** `<category>/<file>.csv`, used to name windows. */
  name: string;
  /** Row timestamps (ms), oldest first. */
  timestamps: number[];
  /** The detector's score for each row. */
  scores: number[];
  /** Labelled windows as [start, end] timestamps of rows, inclusive. */
  windows: [number, number][];
}

/** Scaled sigmoid: 2/(1+e^(5x)) − 1, and −1 for x > 3. */
export function scaledSigmoid(x: number): number {
  if (x > 3) return -1;
  return 2 / (1 + Math.exp(5 * x)) - 1;
}

/**
 * NAB's probationary period: the first rows of a file that are not scored, `min(floor(0.15 × rows), 750)`
 * (with the default `percent`).
 */
export function probationaryLength(rows: number, percent = 0.15): number {
  return Math.min(Math.floor(percent * rows), percent * 5000);
}

interface Point {
  score: number;
  sweepScore: number;
  /** Window id, or null outside windows, or -1 in the probationary period. */
  window: string | null | -1;
}

function sweepPoints(f: NabFile, p: CostProfile): Point[] {
  const maxTP = scaledSigmoid(-1);
  const probation = probationaryLength(f.timestamps.length);
  const index = new Map<number, number>();
  f.timestamps.forEach((t, i) => {
    if (!index.has(t)) index.set(t, i);
  });
  const windows = [...f.windows];
  const out: Point[] = [];
  let curName: string | null = null;
  let curRight = -1;
  let curRightTs = Number.NaN;
  let curWidth = 0;
  let prevRight: number | undefined;
  let prevWidth = 0;
  for (let i = 0; i < f.timestamps.length; i++) {
    const t = f.timestamps[i]!;
    const next = windows[0];
    if (next !== undefined && t === next[0]) {
      const left = index.get(next[0]);
      const right = index.get(next[1]);
      if (left === undefined || right === undefined) throw new Error(`${f.name}: window ${next.join(' – ')} does not match row timestamps`);
      curName = `${f.name}|${next[0]}`;
      curRight = right;
      curRightTs = next[1];
      curWidth = right - left + 1;
      windows.shift();
    }
    let sweepScore: number;
    if (curName !== null) {
      const position = -(curRight - i + 1) / curWidth;
      sweepScore = (scaledSigmoid(position) * p.tpWeight) / maxTP;
    } else {
      const unweighted = prevRight === undefined ? -1 : scaledSigmoid(Math.abs(prevRight - i) / (prevWidth - 1));
      sweepScore = unweighted * p.fpWeight;
    }
    out.push({ score: f.scores[i]!, sweepScore, window: i >= probation ? curName : -1 });
    if (curName !== null && t === curRightTs) {
      prevRight = i;
      prevWidth = curWidth;
      curName = null;
    }
  }
  return out;
}

/** The best threshold for one profile, from the sweep over every distinct score, and what it scored. */
export interface ThresholdResult {
  /** Rows scoring at or above this are detections. */
  threshold: number;
  /** The raw NAB score S at that threshold (sum of weighted detections and misses). */
  score: number;
  /** Windows counted (those with rows after the probationary period). */
  windows: number;
  /** 100 · (S − S_null) / (S_perfect − S_null): 0 never alerts, 100 is perfect. */
  normalized: number;
  /** Windows detected. */
  tp: number;
  /** Detections outside every window (each flagged row counts). */
  fp: number;
  /** Windows missed. */
  fn: number;
}

/**
 * Pools the rows of every file, sweeps the threshold over every distinct score (a row is a detection when
 * its score ≥ threshold) and returns the best total with its normalised score.
 */
export function scoreCorpus(files: NabFile[], p: CostProfile): ThresholdResult {
  const points: Point[] = [];
  for (const f of files) for (const pt of sweepPoints(f, p)) if (pt.window !== -1) points.push(pt);
  points.sort((a, b) => b.score - a.score);
  const parts = new Map<string, number>();
  for (const pt of points) if (typeof pt.window === 'string') parts.set(pt.window, -p.fnWeight);
  const windows = parts.size;
  const detected = new Set<string>();
  let fpSum = 0;
  let windowSum = -p.fnWeight * windows;
  let fp = 0;
  const nullScore = -p.fnWeight * windows;
  const perfect = p.tpWeight * windows;
  let best: ThresholdResult = { threshold: 1.1, score: windowSum, windows, normalized: 0, tp: 0, fp: 0, fn: windows };
  const consider = (threshold: number) => {
    const score = windowSum + fpSum;
    if (score > best.score) best = { threshold, score, windows, normalized: 0, tp: detected.size, fp, fn: windows - detected.size };
  };
  let cur = Number.NaN;
  for (const pt of points) {
    if (pt.score !== cur) {
      if (!Number.isNaN(cur)) consider(cur);
      cur = pt.score;
    }
    if (typeof pt.window === 'string') {
      const old = parts.get(pt.window)!;
      if (pt.sweepScore > old || !detected.has(pt.window)) {
        const next = detected.has(pt.window) ? Math.max(old, pt.sweepScore) : pt.sweepScore;
        windowSum += next - old;
        parts.set(pt.window, next);
        detected.add(pt.window);
      }
    } else {
      fp++;
      fpSum += pt.sweepScore;
    }
  }
  if (!Number.isNaN(cur)) consider(cur);
  best.normalized = perfect === nullScore ? 0 : (100 * (best.score - nullScore)) / (perfect - nullScore);
  return best;
}

/**
 * The total at one given threshold (a row is a detection when its score ≥ threshold), normalised like
 * `scoreCorpus`: for scoring held-out files with a threshold chosen on others. With no windows the normalised
 * score is 0 (null and perfect coincide) and only `score` (the false-positive cost) says anything.
 */
export function scoreAtThreshold(files: NabFile[], p: CostProfile, threshold: number): ThresholdResult {
  const best = new Map<string, number>();
  let fpSum = 0;
  let fp = 0;
  for (const f of files) {
    for (const pt of sweepPoints(f, p)) {
      if (pt.window === -1) continue;
      if (typeof pt.window === 'string') {
        if (!best.has(pt.window)) best.set(pt.window, Number.NEGATIVE_INFINITY);
        if (pt.score >= threshold) best.set(pt.window, Math.max(best.get(pt.window)!, pt.sweepScore));
      } else if (pt.score >= threshold) {
        fp++;
        fpSum += pt.sweepScore;
      }
    }
  }
  const windows = best.size;
  let tp = 0;
  let windowSum = 0;
  for (const v of best.values()) {
    if (v === Number.NEGATIVE_INFINITY) windowSum -= p.fnWeight;
    else {
      tp++;
      windowSum += v;
    }
  }
  const score = windowSum + fpSum;
  const nullScore = -p.fnWeight * windows;
  const perfect = p.tpWeight * windows;
  const normalized = perfect === nullScore ? 0 : (100 * (score - nullScore)) / (perfect - nullScore);
  return { threshold, score, windows, normalized, tp, fp, fn: windows - tp };
}

/** Parses NAB timestamps ("2014-04-10 07:15:00" or with ".000000") as UTC milliseconds. */
export function parseNabTime(s: string): number {
  const t = Date.parse(`${s.trim().replace(' ', 'T').replace(/\.\d+$/, '')}Z`);
  if (Number.isNaN(t)) throw new Error(`Not a NAB timestamp: ${s}`);
  return t;
}
