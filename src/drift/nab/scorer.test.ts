import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SUBSET_CATEGORIES, hasNab, howToGetNab, labelsFileIn, nabDir, numentaFixture, readCsv, readLabels } from '../../../bench/nab/corpus.js';
import { type NabFile, PROFILES, parseNabTime, probationaryLength, scaledSigmoid, scoreAtThreshold, scoreCorpus } from './scorer.js';

const MIN = 60_000;
const T0 = Date.parse('2026-01-01T00:00:00Z');
/** A file of `n` one-minute rows, with `scores` at the given rows (0 elsewhere) and windows given by row. */
function file(name: string, n: number, scores: Record<number, number>, windows: [number, number][]): NabFile {
  const timestamps = Array.from({ length: n }, (_, i) => T0 + i * MIN);
  return { name, timestamps, scores: timestamps.map((_, i) => scores[i] ?? 0), windows: windows.map(([a, b]) => [timestamps[a]!, timestamps[b]!]) };
}

describe('NAB v1.1 scorer on a hand-computed corpus (no data needed)', () => {
  // Two files of 20 rows. Probation: min(floor(0.15·20), 750) = 3 rows, so rows 0–2 are never scored.
  // σ(x) = 2/(1+e^(5x)) − 1;  σ(−1) = 0.986614,  σ(−0.75) = 0.954045,  σ(−0.5) = 0.848284,  σ(1) = −0.986614.
  //
  // A: window rows 10–13 (width 4). Row 1 = 0.9 (probation: ignored), row 6 = 0.8 (before any window: −A_FP),
  //    row 11 = 0.7 (in the window: σ(−(13−11+1)/4)/σ(−1) = σ(−0.75)/σ(−1) = 0.966989·A_TP),
  //    row 16 = 0.6 (after the window: σ(|13−16|/(4−1)) = σ(1) = −0.986614, times A_FP).
  // B: window rows 12–15 (width 4). Rows 4–11 = 0.55 (eight rows before any window: −A_FP each),
  //    row 14 = 0.5 (in the window: σ(−(15−14+1)/4)/σ(−1) = σ(−0.5)/σ(−1) = 0.859793·A_TP).
  //
  // Totals at each threshold (a row is a detection when its score ≥ threshold), two windows:
  //   none:  −2·A_FN
  //   0.8:   −2·A_FN − A_FP
  //   0.7:   −A_FN + 0.966989 − A_FP
  //   0.6:   −A_FN + 0.966989 − A_FP − 0.986614·A_FP
  //   0.55:  the same − 8·A_FP
  //   0.5:   0.966989 + 0.859793 − 9·A_FP − 0.986614·A_FP = 1.826782 − 9.986614·A_FP
  //   0:     every scored row: both windows at their first row (σ(−1)/σ(−1) = 1 each), 16 rows before windows
  //          (A 3–9, B 3–11: −16·A_FP) and the rows after them at σ(|R − i|/3): A rows 14–19 give
  //          σ(1/3) + σ(2/3) + σ(1) + σ(4/3) + σ(5/3) + σ(2) = −0.682262 − 0.931110 − 0.986614 − 0.997458 − 0.999519
  //          − 0.999909 = −5.596872, B rows 16–19 the first four = −3.597444; so 2 − 16·A_FP − 9.194316·A_FP
  //          = 2 − 25.194316·A_FP: −0.771375 (standard, low FN), −3.542750 (low FP), below the best in each profile.
  // normalised = 100·(S + 2·A_FN)/(2·A_TP + 2·A_FN)
  //   standard (A_FP 0.11, A_FN 1): 0.7 → −0.143011; 0.5 → 1.826782 − 1.098528 = 0.728254 (best)
  //                                 100·(0.728254 + 2)/4 = 68.2064
  //   low FP   (A_FP 0.22, A_FN 1): 0.7 → −0.253011 (best); 0.5 → 1.826782 − 2.197055 = −0.370273
  //                                 100·(−0.253011 + 2)/4 = 43.6747
  //   low FN   (A_FP 0.11, A_FN 2): 0.7 → −1.143011; 0.5 → 0.728254 (best)
  //                                 100·(0.728254 + 4)/6 = 78.8042
  const corpus = [
    file('t/a.csv', 20, { 1: 0.9, 6: 0.8, 11: 0.7, 16: 0.6 }, [[10, 13]]),
    file('t/b.csv', 20, { 4: 0.55, 5: 0.55, 6: 0.55, 7: 0.55, 8: 0.55, 9: 0.55, 10: 0.55, 11: 0.55, 14: 0.5 }, [[12, 15]]),
  ];

  it('the probationary period is 15% of the rows, at most 750', () => {
    expect(probationaryLength(20)).toBe(3);
    expect(probationaryLength(10_000)).toBe(750);
  });

  it('standard: threshold 0.5, both windows, ten false-positive rows, 68.2064', () => {
    const r = scoreCorpus(corpus, PROFILES.standard);
    expect(r).toMatchObject({ threshold: 0.5, windows: 2, tp: 2, fn: 0, fp: 10 });
    expect(r.score).toBeCloseTo(0.728254, 5);
    expect(r.normalized).toBeCloseTo(68.2064, 3);
  });

  it('low FP: the eight false positives cost more than window B earns, so threshold 0.7 wins, 43.6747', () => {
    const r = scoreCorpus(corpus, PROFILES.reward_low_FP_rate);
    expect(r).toMatchObject({ threshold: 0.7, windows: 2, tp: 1, fn: 1, fp: 1 });
    expect(r.score).toBeCloseTo(-0.253011, 5);
    expect(r.normalized).toBeCloseTo(43.6747, 3);
  });

  it('low FN: threshold 0.5, 78.8042', () => {
    const r = scoreCorpus(corpus, PROFILES.reward_low_FN_rate);
    expect(r).toMatchObject({ threshold: 0.5, tp: 2, fp: 10 });
    expect(r.normalized).toBeCloseTo(78.8042, 3);
  });

  it('at a given threshold (chosen on other files) the total is the row of the table above', () => {
    // standard at 0.7: −0.143011 → 100·(−0.143011 + 2)/4 = 46.4247; low FP at 0.5: −0.370273 → 40.7432
    expect(scoreAtThreshold(corpus, PROFILES.standard, 0.7)).toMatchObject({ tp: 1, fp: 1, fn: 1, windows: 2 });
    expect(scoreAtThreshold(corpus, PROFILES.standard, 0.7).normalized).toBeCloseTo(46.4247, 3);
    expect(scoreAtThreshold(corpus, PROFILES.reward_low_FP_rate, 0.5).normalized).toBeCloseTo(40.7432, 3);
    // the swept best is never below any fixed threshold
    for (const t of [0, 0.5, 0.55, 0.6, 0.7, 0.8, 1]) expect(scoreAtThreshold(corpus, PROFILES.standard, t).score).toBeLessThanOrEqual(scoreCorpus(corpus, PROFILES.standard).score + 1e-12);
    // a file with no windows: only the false-positive cost is left (−A_FP per row before any window)
    const quiet = file('t/q.csv', 20, { 8: 0.9, 9: 0.9 }, []);
    expect(scoreAtThreshold([quiet], PROFILES.standard, 0.5)).toMatchObject({ windows: 0, fp: 2, normalized: 0 });
    expect(scoreAtThreshold([quiet], PROFILES.standard, 0.5).score).toBeCloseTo(-0.22, 12);
  });

  it('a constant score flags every row at threshold 0 (the sum above) and a perfect detector scores 100', () => {
    const flat = corpus.map((f) => ({ ...f, scores: f.scores.map(() => 0) }));
    // standard: −0.771375 > −2 (flagging every row beats flagging none): 100·(−0.771375 + 2)/4 = 30.7156
    const standard = scoreCorpus(flat, PROFILES.standard);
    expect(standard).toMatchObject({ threshold: 0, tp: 2, fp: 26 });
    expect(standard.normalized).toBeCloseTo(30.7156, 3);
    // low FP: −3.542750 < −2, so flagging none is best: the null score, 0
    expect(scoreCorpus(flat, PROFILES.reward_low_FP_rate)).toMatchObject({ tp: 0, normalized: 0 });
    const perfect = [file('t/a.csv', 20, { 10: 1 }, [[10, 13]]), file('t/b.csv', 20, { 12: 1 }, [[12, 15]])];
    expect(scoreCorpus(perfect, PROFILES.standard).normalized).toBeCloseTo(100, 10);
  });

  it('scaled sigmoid matches its definition', () => {
    expect(scaledSigmoid(-1)).toBeCloseTo(2 / (1 + Math.exp(-5)) - 1, 12);
    expect(scaledSigmoid(0)).toBe(0);
    expect(scaledSigmoid(3.01)).toBe(-1);
  });
});

// The published-scores check needs the NAB subset, which is not part of the repository.
const NAB = nabDir();
const present = hasNab(NAB);
const required = process.env.BLASTWALL_REQUIRE_NAB === '1';
if (!present && !required) console.warn(`Skipping the NAB fixture test: no NAB data at ${NAB}; ${howToGetNab()}.`);

describe.skipIf(!present && !required)('NAB v1.1 scorer on the published Numenta HTM scores', () => {
  it('reproduces the published Numenta HTM scores on the subset exactly', () => {
    if (!present) throw new Error(`NAB data is required (BLASTWALL_REQUIRE_NAB=1) but there is none at ${NAB}; ${howToGetNab()}`);
    const labels = readLabels(labelsFileIn(NAB)!);
    const files: NabFile[] = [];
    for (const category of SUBSET_CATEGORIES) {
      for (const data of readdirSync(join(NAB, 'data', category)).filter((f) => f.endsWith('.csv'))) {
        const name = `${category}/${data}`;
        const fixture = numentaFixture(NAB, category, data);
        if (fixture === undefined) throw new Error(`No published Numenta scores for ${name} under ${NAB}`);
        const s = readCsv(fixture, name, 'anomaly_score');
        files.push({ name, timestamps: s.timestamps, scores: s.values, windows: (labels[name] ?? []).map(([a, b]) => [parseNabTime(a), parseNabTime(b)]) });
      }
    }
    expect(files).toHaveLength(34);
    const round = (x: number) => Math.round(x * 100) / 100;
    expect(round(scoreCorpus(files, PROFILES.standard).normalized)).toBe(73.56);
    expect(round(scoreCorpus(files, PROFILES.reward_low_FP_rate).normalized)).toBe(68.36);
    expect(round(scoreCorpus(files, PROFILES.reward_low_FN_rate).normalized)).toBe(77.04);
  });
});
