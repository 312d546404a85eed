/**
 * Where the NAB data is and how to read it. The data is not part of the repository: it is the subset in
 * `../shared/nab` beside the clone, or the directory named by `BLASTWALL_NAB_DIR`, or a clone of numenta/NAB.
 * Both layouts are understood:
 * - the shared subset: `data/<category>/<file>.csv`, `labels/windows.json`, `fixtures/numenta/<category>/<file>.csv`;
 * - a NAB clone: `data/…`, `labels/combined_windows.json`, `results/numenta/<category>/numenta_<file>.csv`.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseNabTime } from '../../src/drift/nab/scorer.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The four categories of the shared subset (the rest of NAB is held out for evaluation). */
export const SUBSET_CATEGORIES = ['artificialNoAnomaly', 'artificialWithAnomaly', 'realAWSCloudwatch', 'realAdExchange'];

/** `BLASTWALL_NAB_DIR`, else `../shared/nab` beside the repository. */
export function nabDir(): string {
  const env = process.env.BLASTWALL_NAB_DIR;
  return resolve(env !== undefined && env !== '' ? env : join(repo, '..', 'shared', 'nab'));
}

/** One line saying how to get the data, for skips and errors. */
export function howToGetNab(): string {
  return (
    'get it with `git clone https://github.com/numenta/NAB` and set BLASTWALL_NAB_DIR to the clone ' +
    '(or pass `npm run bench:nab -- --data NAB/data --labels NAB/labels/combined_windows.json`)'
  );
}

/** The labels file of a NAB directory in either layout, or undefined. */
export function labelsFileIn(dir: string): string | undefined {
  return [join(dir, 'labels', 'windows.json'), join(dir, 'labels', 'combined_windows.json')].find((f) => existsSync(f));
}

/** Whether `dir` holds NAB data and labels in either layout. */
export function hasNab(dir: string): boolean {
  return existsSync(join(dir, 'data')) && labelsFileIn(dir) !== undefined;
}

export interface Series {
  /** `<category>/<file>.csv` */
  name: string;
  category: string;
  file: string;
  /** The timestamps as written, for `--out`. */
  raw: string[];
  timestamps: number[];
  values: number[];
  windows: [number, number][];
}

export type Labels = Record<string, [string, string][]>;

export function readLabels(file: string): Labels {
  return JSON.parse(readFileSync(file, 'utf8')) as Labels;
}

/**
 * Reads the timestamps and one numeric column (by header name; the second column when it is absent) of a
 * NAB CSV, naming the first malformed row.
 */
export function readCsv(path: string, name: string, column?: string): { raw: string[]; timestamps: number[]; values: number[] } {
  const [header = '', ...rows] = readFileSync(path, 'utf8').trim().split('\n');
  const named = column === undefined ? -1 : header.split(',').map((h) => h.trim()).indexOf(column);
  const at = named >= 0 ? named : 1;
  const raw = rows.map((r) => r.split(',')[0]!);
  const values = rows.map((r, i) => {
    const text = r.split(',')[at]?.trim() ?? '';
    const v = text === '' ? Number.NaN : Number(text);
    if (!Number.isFinite(v)) throw new Error(`${name} line ${i + 2}: expected a finite value in column ${at + 1}, got ${JSON.stringify(text)}`);
    return v;
  });
  return { raw, timestamps: raw.map(parseNabTime), values };
}

/** Every `<category>/<file>.csv` under `dataDir` (sorted), optionally only some categories. */
export function readSeries(dataDir: string, labels: Labels, categories?: readonly string[]): Series[] {
  const out: Series[] = [];
  for (const category of readdirSync(dataDir).sort()) {
    if (categories !== undefined && !categories.includes(category)) continue;
    for (const file of readdirSync(join(dataDir, category)).filter((f) => f.endsWith('.csv')).sort()) {
      const name = `${category}/${file}`;
      const csv = readCsv(join(dataDir, category, file), name);
      out.push({ name, category, file, ...csv, windows: (labels[name] ?? []).map(([a, b]) => [parseNabTime(a), parseNabTime(b)]) });
    }
  }
  return out;
}

/** The published Numenta HTM scores file for `<category>/<file>.csv`, in either layout, or undefined. */
export function numentaFixture(dir: string, category: string, file: string): string | undefined {
  return [join(dir, 'fixtures', 'numenta', category, file), join(dir, 'results', 'numenta', category, `numenta_${file}`)].find((f) => existsSync(f));
}
