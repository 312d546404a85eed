// Grid over the detector's few global settings (one configuration for all files); prints standard scores.
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { RobustDriftDetector, type RobustDetectorOptions } from '../../src/drift/detector.js';
import { type NabFile, PROFILES, parseNabTime, scoreCorpus } from '../../src/drift/nab/scorer.js';

const nab = resolve(import.meta.dirname, '../../../shared/nab');
const labels = JSON.parse(readFileSync(join(nab, 'labels/windows.json'), 'utf8')) as Record<string, [string, string][]>;
const series: { name: string; t: number[]; v: number[]; w: [number, number][] }[] = [];
for (const c of readdirSync(join(nab, 'data')))
  for (const f of readdirSync(join(nab, 'data', c))) {
    const rows = readFileSync(join(nab, 'data', c, f), 'utf8').trim().split('\n').slice(1).map((r) => r.split(','));
    series.push({ name: `${c}/${f}`, t: rows.map((r) => parseNabTime(r[0]!)), v: rows.map((r) => Number(r[1])), w: (labels[`${c}/${f}`] ?? []).map(([a, b]) => [parseNabTime(a), parseNabTime(b)]) });
  }
function score(o: RobustDetectorOptions) {
  const files: NabFile[] = series.map((s) => {
    const d = new RobustDriftDetector(o);
    return { name: s.name, timestamps: s.t, scores: s.v.map((x) => d.update(x)), windows: s.w };
  });
  return [scoreCorpus(files, PROFILES.standard).normalized, scoreCorpus(files, PROFILES.reward_low_FP_rate).normalized, scoreCorpus(files, PROFILES.reward_low_FN_rate).normalized];
}
const grid = JSON.parse(process.argv[2] ?? '[{}]') as RobustDetectorOptions[];
for (const o of grid) console.log(JSON.stringify(o), score(o).map((x) => x.toFixed(2)).join(' / '));
