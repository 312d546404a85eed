/**
 * Leave-one-category-out: for each category, tune on the others (the detector configuration from a grid, by
 * the standard profile's total, and one threshold per profile, as NAB does) and score the held-out category
 * with what was tuned, never re-sweeping on it. A category with no windows cannot be normalised (null and
 * perfect are both 0): its false-positive cost still counts in the pooled figure, which sums the four folds'
 * raw totals and normalises them over all windows.
 */
import { type CostProfile, type NabFile, PROFILES, scoreAtThreshold, scoreCorpus } from '../../src/drift/nab/scorer.js';

export type ProfileName = keyof typeof PROFILES;
export const PROFILE_NAMES = Object.keys(PROFILES) as ProfileName[];

export interface Fold {
  category: string;
  windows: number;
  /** Index of the configuration chosen on the training categories. */
  config: number;
  /** Per profile: the training threshold and the held-out result at it. */
  test: Record<ProfileName, { threshold: number; normalized: number; score: number; tp: number; fp: number }>;
}

export interface Loco {
  folds: Fold[];
  /** Mean and spread (max − min) over the folds that have windows, per profile. */
  mean: Record<ProfileName, number>;
  spread: Record<ProfileName, number>;
  /** The four folds' raw totals summed and normalised over every window, per profile. */
  pooled: Record<ProfileName, number>;
}

const normalise = (score: number, windows: number, p: CostProfile) => (100 * (score + p.fnWeight * windows)) / ((p.tpWeight + p.fnWeight) * windows);

/**
 * `runs[c]` are the scored files of configuration c (same files, same order, for every configuration);
 * `categoryOf` names a file's category.
 */
export function leaveOneCategoryOut(runs: NabFile[][], categoryOf: (f: NabFile) => string): Loco {
  const categories = [...new Set(runs[0]!.map(categoryOf))].sort();
  const folds: Fold[] = [];
  for (const category of categories) {
    const split = runs.map((files) => ({ train: files.filter((f) => categoryOf(f) !== category), test: files.filter((f) => categoryOf(f) === category) }));
    // the configuration: best standard total on the training categories
    let config = 0;
    let bestTrain = Number.NEGATIVE_INFINITY;
    split.forEach((s, c) => {
      const total = scoreCorpus(s.train, PROFILES.standard).score;
      if (total > bestTrain) {
        bestTrain = total;
        config = c;
      }
    });
    const { train, test } = split[config]!;
    const result = {} as Fold['test'];
    let windows = 0;
    for (const name of PROFILE_NAMES) {
      const threshold = scoreCorpus(train, PROFILES[name]).threshold;
      const r = scoreAtThreshold(test, PROFILES[name], threshold);
      windows = r.windows;
      result[name] = { threshold, normalized: r.normalized, score: r.score, tp: r.tp, fp: r.fp };
    }
    folds.push({ category, windows, config, test: result });
  }
  const withWindows = folds.filter((f) => f.windows > 0);
  const per = (g: (name: ProfileName) => number) => Object.fromEntries(PROFILE_NAMES.map((n) => [n, g(n)])) as Record<ProfileName, number>;
  const values = (n: ProfileName) => withWindows.map((f) => f.test[n].normalized);
  const totalWindows = folds.reduce((a, f) => a + f.windows, 0);
  return {
    folds,
    mean: per((n) => values(n).reduce((a, b) => a + b, 0) / Math.max(1, withWindows.length)),
    spread: per((n) => Math.max(...values(n)) - Math.min(...values(n))),
    pooled: per((n) =>
      normalise(
        folds.reduce((a, f) => a + f.test[n].score, 0),
        totalWindows,
        PROFILES[n],
      ),
    ),
  };
}

/** The LOCO result as a Markdown table. */
export function locoTable(title: string, loco: Loco, configName: (c: number) => string | undefined): string {
  const f2 = (x: number) => x.toFixed(2);
  const lines = [`${title}`, '', '| held-out category | windows | standard | low FP | low FN | FP rows (standard) | tuned on the other three |', '|---|---:|---:|---:|---:|---:|---|'];
  for (const f of loco.folds) {
    const cell = (n: ProfileName) => (f.windows === 0 ? `n/a (cost ${f2(f.test[n].score)})` : f2(f.test[n].normalized));
    lines.push(
      `| ${f.category} | ${f.windows} | ${cell('standard')} | ${cell('reward_low_FP_rate')} | ${cell('reward_low_FN_rate')} | ${f.test.standard.fp} | ${[configName(f.config), `threshold ${f.test.standard.threshold.toFixed(4)}`].filter(Boolean).join(', ')} |`,
    );
  }
  const row = (label: string, r: Record<ProfileName, number>) => `| ${label} | | ${f2(r.standard)} | ${f2(r.reward_low_FP_rate)} | ${f2(r.reward_low_FN_rate)} | | |`;
  lines.push(row('**mean of the folds with windows**', loco.mean), row('spread (max − min)', loco.spread), row('pooled (all four folds, every window)', loco.pooled));
  return lines.join('\n');
}
