import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type NabFile, PROFILES, parseNabTime, scaledSigmoid, scoreCorpus } from './scorer.js';

const NAB = join(import.meta.dirname, '../../../../shared/nab');

function readCsv(path: string): { t: number[]; v: number[] } {
  const lines = readFileSync(path, 'utf8').trim().split('\n').slice(1);
  const t: number[] = [];
  const v: number[] = [];
  for (const l of lines) {
    const [ts, val] = l.split(',');
    t.push(parseNabTime(ts!));
    v.push(Number(val));
  }
  return { t, v };
}

describe('NAB v1.1 scorer', () => {
  if (!existsSync(NAB)) throw new Error(`NAB data not found at ${NAB}: the tests expect ../shared/nab beside the repository`);
  it('reproduces the published Numenta HTM scores on the subset exactly', () => {
    const labels = JSON.parse(readFileSync(join(NAB, 'labels/windows.json'), 'utf8')) as Record<string, [string, string][]>;
    const files: NabFile[] = [];
    for (const category of readdirSync(join(NAB, 'fixtures/numenta'))) {
      for (const file of readdirSync(join(NAB, 'fixtures/numenta', category))) {
        const name = `${category}/${file}`;
        const s = readCsv(join(NAB, 'fixtures/numenta', category, file));
        files.push({ name, timestamps: s.t, scores: s.v, windows: (labels[name] ?? []).map(([a, b]) => [parseNabTime(a), parseNabTime(b)]) });
      }
    }
    expect(files).toHaveLength(34);
    const round = (x: number) => Math.round(x * 100) / 100;
    expect(round(scoreCorpus(files, PROFILES.standard).normalized)).toBe(73.56);
    expect(round(scoreCorpus(files, PROFILES.reward_low_FP_rate).normalized)).toBe(68.36);
    expect(round(scoreCorpus(files, PROFILES.reward_low_FN_rate).normalized)).toBe(77.04);
  });

  it('scaled sigmoid matches its definition', () => {
    expect(scaledSigmoid(-1)).toBeCloseTo(2 / (1 + Math.exp(-5)) - 1, 12);
    expect(scaledSigmoid(0)).toBe(0);
    expect(scaledSigmoid(3.01)).toBe(-1);
  });
});
