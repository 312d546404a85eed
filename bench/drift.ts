/**
 * `npm run bench:drift`: synthetic, seeded service signals at one-minute intervals. For each drift
 * scenario: when the drift alert came and how long before the signal breached its objective. For steady
 * and seasonal signals with no drift: false alerts per simulated week.
 */
import { DriftMonitor, type DriftMonitorOptions } from '../src/drift/monitor.js';
import { FakeClock } from '../src/core/fake-clock.js';

const MIN = 60_000;
const DAY = 1440;

function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s = (s * 48271) % 2147483647;
    return s / 2147483647;
  };
}
function gauss(r: () => number) {
  return Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
}

interface Scenario {
  name: string;
  objective: string;
  /** Value at minute t; `driftStart` is when the drift begins (Infinity for none). */
  value: (t: number, r: () => number) => number;
  breached: (v: number) => boolean;
  minutes: number;
  driftStart: number;
}

const warm = 2 * DAY;
const scenarios: Scenario[] = [
  {
    name: 'latency p99 ramp +2%/min under 5% noise',
    objective: 'p99 ≤ 300 ms',
    value: (t, r) => 100 * (t < warm ? 1 : 1.02 ** (t - warm)) * (1 + 0.05 * gauss(r)),
    breached: (v) => v > 300,
    minutes: warm + 180,
    driftStart: warm,
  },
  {
    name: 'retry ratio creeping up (+0.05 pt/min)',
    objective: 'retry ratio ≤ 10%',
    value: (t, r) => Math.max(0, 0.02 + (t < warm ? 0 : 0.0005 * (t - warm)) + 0.004 * gauss(r)),
    breached: (v) => v > 0.1,
    minutes: warm + 400,
    driftStart: warm,
  },
  {
    name: 'deferred backlog growing (+25 items/min)',
    objective: 'backlog ≤ 5,000',
    value: (t, r) => Math.max(0, 200 + 40 * gauss(r) + (t < warm ? 0 : 25 * (t - warm))),
    breached: (v) => v > 5000,
    minutes: warm + 400,
    driftStart: warm,
  },
  {
    name: 'cache age creeping (refresh failing, +1 s/min)',
    objective: 'cache age ≤ 300 s',
    value: (t, r) => Math.max(0, 30 + 5 * gauss(r) + (t < warm ? 0 : 1 * (t - warm))),
    breached: (v) => v > 300,
    minutes: warm + 400,
    driftStart: warm,
  },
];
const quiet: Scenario[] = [
  {
    name: 'steady noise, no drift (1 week)',
    objective: '—',
    value: (_t, r) => 100 * (1 + 0.05 * gauss(r)),
    breached: () => false,
    minutes: 7 * DAY,
    driftStart: Number.POSITIVE_INFINITY,
  },
  {
    name: 'daily seasonal pattern ±40%, no drift (1 week)',
    objective: '—',
    value: (t, r) => 100 * (1 + 0.4 * Math.sin((2 * Math.PI * t) / DAY)) * (1 + 0.05 * gauss(r)),
    breached: () => false,
    minutes: 7 * DAY,
    driftStart: Number.POSITIVE_INFINITY,
  },
  {
    name: 'heavy-tailed latency (occasional 3× spikes), no drift (1 week)',
    objective: '—',
    value: (_t, r) => 100 * (1 + 0.05 * gauss(r)) * (r() < 0.01 ? 3 : 1),
    breached: () => false,
    minutes: 7 * DAY,
    driftStart: Number.POSITIVE_INFINITY,
  },
];

const config: DriftMonitorOptions = { seasonLength: DAY, confirm: 3, clearAfter: 30 };

function run(s: Scenario, seed: number) {
  const clock = new FakeClock(0);
  const m = new DriftMonitor(clock, config);
  const raised: number[] = [];
  m.alerts.subscribe((a) => {
    if (a.state === 'raised') raised.push(Math.round(a.at / MIN));
  });
  const r = rng(seed);
  let breach = Number.NaN;
  for (let t = 0; t < s.minutes; t++) {
    clock.set(t * MIN);
    const v = s.value(t, r);
    m.observe('signal', v);
    if (Number.isNaN(breach) && s.breached(v)) breach = t;
  }
  return { raised, breach };
}

const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
console.log(`bench:drift — DriftMonitor ${JSON.stringify(config)}, one-minute intervals, ${SEEDS.length} seeds per scenario, 2 days of history before each drift\n`);
console.log('| drift scenario | objective | alerted before breach | median lead time | worst lead time | alerts before the drift began |');
console.log('|---|---|---:|---:|---:|---:|');
let allBefore = true;
for (const s of scenarios) {
  const leads: number[] = [];
  let early = 0;
  let before = 0;
  for (const seed of SEEDS) {
    const { raised, breach } = run(s, seed);
    early += raised.filter((t) => t < s.driftStart).length;
    const first = raised.find((t) => t >= s.driftStart);
    if (first !== undefined && first < breach) {
      before++;
      leads.push(breach - first);
    }
  }
  if (before < SEEDS.length) allBefore = false;
  leads.sort((a, b) => a - b);
  const med = leads[Math.floor(leads.length / 2)];
  console.log(`| ${s.name} | ${s.objective} | ${before}/${SEEDS.length} | ${med ?? '—'} min | ${leads[0] ?? '—'} min | ${early} |`);
}
console.log('\n| no-drift scenario | false alerts per simulated week (mean of seeds) | worst seed |');
console.log('|---|---:|---:|');
let worstWeek = 0;
for (const s of quiet) {
  const counts = SEEDS.map((seed) => run(s, seed).raised.filter((t) => t >= DAY).length); // the first day is warm-up
  const perWeek = counts.map((c) => (c * 7) / 6);
  const mean = perWeek.reduce((a, b) => a + b, 0) / perWeek.length;
  worstWeek = Math.max(worstWeek, mean);
  console.log(`| ${s.name} | ${mean.toFixed(2)} | ${Math.max(...perWeek).toFixed(2)} |`);
}
console.log(`\nTargets: alert before every breach — ${allBefore ? 'met' : 'MISSED'}; ≤ 1 false alert per simulated week — ${worstWeek <= 1 ? 'met' : 'MISSED'} (${worstWeek.toFixed(2)})`);
