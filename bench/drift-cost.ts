/**
 * `npm run bench:drift-cost`: what drift detection costs.
 * 1. CPU time per value of each detector (process CPU time, so other load on the machine inflates it less than
 *    wall time would), on the same seeded signal, side by side in one run; then ARTime's worst cases: values that
 *    never repeat, and its ART alone with a full store that must be measured in full on every input.
 * 2. Memory per signal: the heap and array-buffer growth of 100 signals with full windows, after a GC.
 * 3. A wall's worth of signals (50 dependencies × 8 signals) observed once a second through a `DriftMonitor`:
 *    the time each tick takes and the event-loop delay (p50 / p99 / max) with and without the drift work.
 * Run with `node --expose-gc` (the npm script does) so the memory figures are taken after a collection.
 */
import { cpus, loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { LikelihoodDriftDetectorA579f8b } from './nab/baseline/likelihood-a579f8b.js';
import { FakeClock } from '../src/core/fake-clock.js';
import { ArtimeDriftDetector } from '../src/drift/artime.js';
import { DualVigilanceArt } from '../src/drift/fuzzy-art.js';
import { type Detector, RobustDriftDetector } from '../src/drift/detector.js';
import { LikelihoodDriftDetector } from '../src/drift/likelihood.js';
import { DriftMonitor, type DriftMonitorOptions } from '../src/drift/monitor.js';

const gc = (globalThis as { gc?: () => void }).gc;
const sink: unknown[] = [];
/** Heap and array-buffer growth while `make` builds something that stays reachable, after full collections. */
function retained(make: () => unknown): number {
  gc?.();
  gc?.();
  const m0 = process.memoryUsage();
  sink.push(make());
  gc?.();
  gc?.();
  const m1 = process.memoryUsage();
  sink.length = 0;
  return m1.heapUsed - m0.heapUsed + (m1.arrayBuffers - m0.arrayBuffers);
}
const args = process.argv.slice(2);
const seconds = Number(args[args.indexOf('--seconds') + 1] ?? 10) || 10;

function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s = (s * 48271) % 2147483647;
    return s / 2147483647;
  };
}
/** A daily pattern (288 values a day) with noise and an occasional spike: exercises every part of each detector. */
function signal(n: number, seed: number): Float64Array {
  const r = rng(seed);
  const xs = new Float64Array(n);
  for (let i = 0; i < n; i++) xs[i] = 100 * (1 + 0.3 * Math.sin((2 * Math.PI * i) / 288)) * (1 + 0.05 * (r() - 0.5)) * (r() < 0.002 ? 2 : 1);
  return xs;
}

// the wall's monitor detector (DriftMonitor's defaults)
const MONITOR_ROBUST = { window: 360, warmup: 30, refractory: 0, zScale: 3, short: 5, level: 'median' as const, relativeFloor: 0.05 };
const detectors: [string, () => Detector][] = [
  ['RobustDriftDetector (the wall\'s monitors: 360-value window)', () => new RobustDriftDetector(MONITOR_ROBUST)],
  ['LikelihoodDriftDetector', () => new LikelihoodDriftDetector()],
  ['LikelihoodDriftDetector as of a579f8b', () => new LikelihoodDriftDetectorA579f8b()],
  // the default: blocks of one value (probation 200), every value goes through the ART
  ['ArtimeDriftDetector (default: probation 200, blocks of 1 value, 256 categories)', () => new ArtimeDriftDetector()],
  ['ArtimeDriftDetector (probation 750: blocks of 7 values)', () => new ArtimeDriftDetector({ probationaryLength: 750 })],
];

console.log(`bench:drift-cost — Node ${process.version}, ${gc === undefined ? 'no --expose-gc (memory figures without a collection)' : 'memory after a GC'}, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${cpus().length} CPUs\n`);
console.log('| detector | µs per value (CPU) | µs per value (wall) | bytes per signal |');
console.log('|---|---:|---:|---:|');
const N = 10_000;
const xs = signal(N, 7);
for (const [name, make] of detectors) {
  // warm the JIT on one run, then measure three and keep the fastest
  const once = () => {
    const d = make();
    for (let i = 0; i < N; i++) d.update(xs[i]!);
  };
  once();
  let cpu = Number.POSITIVE_INFINITY;
  let wall = Number.POSITIVE_INFINITY;
  for (let k = 0; k < 3; k++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    once();
    const c = process.cpuUsage(c0);
    wall = Math.min(wall, ((performance.now() - t0) * 1000) / N);
    cpu = Math.min(cpu, (c.user + c.system) / N);
  }
  // memory: 100 signals, each with 2,500 values (every window full)
  const count = 100;
  const fill = signal(2500, 11);
  const bytes =
    retained(() =>
      Array.from({ length: count }, () => {
        const d = make();
        for (let i = 0; i < fill.length; i++) d.update(fill[i]!);
        return d;
      }),
    ) / count;
  console.log(`| ${name} | ${cpu.toFixed(2)} | ${wall.toFixed(2)} | ${Math.round(bytes).toLocaleString('en')} |`);
}

// ARTime's worst case: values that never repeat fill its category store, and blocks of one value send every
// value through the ART; the cost per value is then bounded by the cap (256 categories × 32 weights)
{
  const r = rng(3);
  const noise = Float64Array.from({ length: N }, (_, i) => r() * 1000 + (i % 97) * 37);
  for (const probationaryLength of [200, 750]) {
    const run = () => {
      const d = new ArtimeDriftDetector({ probationaryLength });
      for (let i = 0; i < N; i++) d.update(noise[i]!);
      return d;
    };
    run();
    let cpu = Number.POSITIVE_INFINITY;
    let categories = 0;
    for (let k = 0; k < 3; k++) {
      const c0 = process.cpuUsage();
      categories = run().categories;
      const c = process.cpuUsage(c0);
      cpu = Math.min(cpu, (c.user + c.system) / N);
    }
    console.log(`\nArtimeDriftDetector worst case (probation ${probationaryLength}, values that never repeat): ${cpu.toFixed(2)} µs per value (CPU), ${categories} categories held (cap 256)`);
  }
  // the bound itself, contrived: ARTime's ART alone with its store full (256 categories of random points) and
  // random inputs that every category must be measured against, because every one learns (ρ_ub = 0) or because
  // none does and each might be the best (ρ_ub = 1, measuring only)
  const contrived = (ub: number): number => {
    const r2 = rng(5);
    const art = new DualVigilanceArt(16, 256);
    art.rhoLb = 1;
    art.rhoUb = 1;
    const x = new Float64Array(16);
    const present = (learn: boolean) => {
      for (let k = 0; k < 16; k++) x[k] = r2();
      art.train(x, learn);
    };
    for (let i = 0; i < 300; i++) present(true);
    art.rhoLb = ub;
    art.rhoUb = ub;
    let cpu = Number.POSITIVE_INFINITY;
    for (let k = 0; k < 4; k++) {
      const c0 = process.cpuUsage();
      for (let i = 0; i < 5000; i++) present(ub < 1);
      const c = process.cpuUsage(c0);
      cpu = Math.min(cpu, (c.user + c.system) / 5000);
    }
    return cpu;
  };
  console.log(`\nARTime's ART alone, full store, every category measured on every input: ${contrived(0).toFixed(2)} µs per input when every category learns (ρ_ub = 0), ${contrived(1).toFixed(2)} µs when none does (ρ_ub = 1)`);
}

// A wall's worth of signals at 1 Hz, in real time, with the event-loop delay measured around it.
const DEPS = 50;
const SIGNALS = ['latency.p99', 'error.ratio', 'retry.ratio', 'fallback.ratio', 'backlog', 'backlog.oldestAgeMs', 'cache.ageMs', 'op.latency.p99'];
async function tickLoop(work: (() => void) | undefined): Promise<{ tick: number[]; p50: number; p99: number; max: number }> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const tick: number[] = [];
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const t0 = performance.now();
    work?.();
    tick.push(performance.now() - t0);
    await sleep(1000 - ((performance.now() - t0) % 1000));
  }
  h.disable();
  return { tick, p50: h.percentile(50) / 1e6, p99: h.percentile(99) / 1e6, max: h.max / 1e6 };
}
const stat = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `${s[Math.floor(s.length / 2)]!.toFixed(2)} / ${s[s.length - 1]!.toFixed(2)}`;
};
console.log(`\nA wall of ${DEPS} dependencies × ${SIGNALS.length} signals (${DEPS * SIGNALS.length} signals) observed once a second for ${seconds} s, after 2,000 intervals of history:\n`);
console.log('| drift work per tick | tick ms (median / max) | event-loop delay ms p50 / p99 / max | memory of the monitor |');
console.log('|---|---:|---:|---:|');
const idle = await tickLoop(undefined);
console.log(`| none | — | ${idle.p50.toFixed(2)} / ${idle.p99.toFixed(2)} / ${idle.max.toFixed(2)} | — |`);
const configs: [string, DriftMonitorOptions][] = [
  ['DriftMonitor (the wall\'s default)', {}],
  ['DriftMonitor with seasonLength 1440', { seasonLength: 1440 }],
];
for (const [name, options] of configs) {
  const clock = new FakeClock(0);
  const r = rng(5);
  let monitor: DriftMonitor | undefined;
  const feed = () => {
    clock.set(clock.now() + 1000);
    for (let d = 0; d < DEPS; d++) for (const s of SIGNALS) monitor!.observe(`dep${d}.${s}`, 100 + 10 * r());
  };
  const mb =
    retained(() => {
      monitor = new DriftMonitor(clock, options);
      for (let i = 0; i < 2000; i++) feed();
      return monitor;
    }) / 1e6;
  const res = await tickLoop(feed);
  console.log(`| ${name} | ${stat(res.tick)} | ${res.p50.toFixed(2)} / ${res.p99.toFixed(2)} / ${res.max.toFixed(2)} | ${mb.toFixed(1)} MB |`);
}
