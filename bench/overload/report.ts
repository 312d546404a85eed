/** Figures and tables of the overload benchmark (pure functions over the trials' results). */
import { type Arm, type LoadResult, PRIOS, type Prio, type ServiceStats } from './common.js';

export const CRIT: Prio[] = ['critical-plus', 'critical'];
export const SHED: Prio[] = ['sheddable-plus', 'sheddable'];

export const sum = (r: LoadResult, ps: Prio[], k: 'sent' | 'good' | 'refused' | 'attempts') => ps.reduce((a, p) => a + r.classes[p][k], 0);
export const pct = (n: number, d: number) => (d === 0 ? '—' : `${((100 * n) / d).toFixed(1)}%`);

export function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** One overload trial reduced to the reported figures. */
export interface OverloadFigures {
  goodputC: number;
  critical: number;
  sheddable: number;
  p99: number;
  flips: number | undefined;
  /** Mean CPU share of the service over the 100 ms buckets in which it refused work. */
  cpuRefusing: number | undefined;
  /** 100 ms buckets in which critical work was refused while the service's CPU was below 90%. */
  idleCriticalRefusals: number;
  criticalFailures: Record<string, number>;
}

export function figures(load: LoadResult, stats: ServiceStats, C: number, seconds: number): OverloadFigures {
  let cpu = 0;
  let n = 0;
  let idle = 0;
  for (let i = 0; i < stats.cpu.length; i++) {
    if (stats.refused[i]! > 0) {
      cpu += stats.cpu[i]!;
      n++;
    }
    if (stats.criticalRefused[i]! > 0 && stats.cpu[i]! < 0.9) idle++;
  }
  const f: Record<string, number> = {};
  for (const p of CRIT) for (const [k, v] of Object.entries(load.classes[p].failures)) f[k] = (f[k] ?? 0) + v;
  return {
    goodputC: sum(load, PRIOS, 'good') / seconds / C,
    critical: sum(load, CRIT, 'good') / Math.max(1, sum(load, CRIT, 'sent')),
    sheddable: sum(load, SHED, 'good') / Math.max(1, sum(load, SHED, 'sent')),
    p99: load.p99GoodMs,
    flips: stats.levelChanges,
    cpuRefusing: n === 0 ? undefined : cpu / n,
    idleCriticalRefusals: idle,
    criticalFailures: f,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const p = (x: number) => `${(100 * x).toFixed(1)}%`;

/** One row per arm: the worst run for each figure (min goodput and success, max p99, flips and idle refusals), and the median. */
export function overloadRows(byArm: Map<Arm, OverloadFigures[]>): string[][] {
  const rows: string[][] = [];
  for (const [arm, runs] of byArm) {
    const g = runs.map((r) => r.goodputC);
    const c = runs.map((r) => r.critical);
    const cpus = runs.map((r) => r.cpuRefusing).filter((x): x is number => x !== undefined);
    const flips = runs.map((r) => r.flips).filter((x): x is number => x !== undefined);
    const fail: Record<string, number> = {};
    for (const r of runs) for (const [k, v] of Object.entries(r.criticalFailures)) fail[k] = (fail[k] ?? 0) + v;
    const top = Object.entries(fail)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 2)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ');
    rows.push([
      arm,
      String(runs.length),
      Math.min(...g).toFixed(2),
      median(g).toFixed(2),
      p(Math.min(...c)),
      p(median(c)),
      p(median(runs.map((r) => r.sheddable))),
      String(Math.round(Math.max(...runs.map((r) => r.p99)))),
      flips.length === 0 ? '—' : String(Math.max(...flips)),
      cpus.length === 0 ? '—' : p(cpus.reduce((a, b) => a + b, 0) / cpus.length),
      String(Math.max(...runs.map((r) => r.idleCriticalRefusals))),
      top === '' ? '—' : top,
    ]);
  }
  return rows;
}

export const OVERLOAD_HEAD = [
  'arm',
  'runs',
  'goodput/C worst',
  'goodput/C median',
  'critical ok worst',
  'critical ok median',
  'sheddable ok median',
  'p99 good ms worst',
  'level flips worst',
  'service CPU while refusing',
  'critical refused at CPU < 90% (100 ms buckets, worst)',
  'critical failures (all runs)',
];
