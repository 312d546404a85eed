/**
 * `npm run bench:hot`: the success-path cost of blastwall's policies beside cockatiel 3 and opossum 9 (the versions that support the Node CI runs),
 * in one process run. Cases are measured round-robin (so drift hits all alike) and the median round is kept.
 * Usage: npm run bench:hot [-- --rounds 9 --ms 150 --json out.json]
 */
import { writeFileSync } from 'node:fs';
import {
  ExponentialBackoff,
  SamplingBreaker,
  TimeoutStrategy,
  bulkhead as cBulkhead,
  circuitBreaker as cBreaker,
  handleAll,
  retry as cRetry,
  timeout as cTimeout,
  wrap,
} from 'cockatiel';
import Opossum from 'opossum';
import { bulkhead, circuitBreaker, createWall, pipeline, retry, timeout } from '../src/index.js';

const args = process.argv.slice(2);
const arg = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const ROUNDS = arg('rounds', 9);
const ROUND_MS = arg('ms', 150);
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined;

const work = async () => 1;

interface Case {
  name: string;
  group: string;
  lib: 'bare' | 'blastwall' | 'cockatiel' | 'opossum';
  run: () => Promise<unknown>;
}

const cases: Case[] = [];
const add = (group: string, lib: Case['lib'], name: string, run: () => Promise<unknown>) => cases.push({ group, lib, name, run });

add('bare', 'bare', 'await fn()', () => work());

// single policies
const bwTimeout = timeout('1s');
add('timeout', 'blastwall', 'timeout(1s)', () => bwTimeout.execute(work));
const ckTimeout = cTimeout(1000, TimeoutStrategy.Aggressive);
add('timeout', 'cockatiel', 'timeout(1000, Aggressive)', () => ckTimeout.execute(work));

const bwRetry = retry({ attempts: 3, backoff: { base: '50ms', max: '1s' } });
add('retry', 'blastwall', 'retry(3, budget)', () => bwRetry.execute(work));
const ckRetry = cRetry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff() });
add('retry', 'cockatiel', 'retry(handleAll, 2 retries)', () => ckRetry.execute(work));

const bwBreaker = circuitBreaker({ failureRate: 0.5, window: '30s', minimumCalls: 20, halfOpenAfter: '5s' });
add('breaker', 'blastwall', 'circuitBreaker(time window)', () => bwBreaker.execute(work));
const ckBreaker = cBreaker(handleAll, { halfOpenAfter: 5000, breaker: new SamplingBreaker({ threshold: 0.5, duration: 30_000 }) });
add('breaker', 'cockatiel', 'circuitBreaker(SamplingBreaker)', () => ckBreaker.execute(work));
const opBreaker = new Opossum(work, { timeout: false, errorThresholdPercentage: 50, resetTimeout: 5000, rollingCountTimeout: 30_000 });
add('breaker', 'opossum', 'CircuitBreaker.fire (timeout off)', () => opBreaker.fire());
const opBreakerT = new Opossum(work, { timeout: 1000, errorThresholdPercentage: 50, resetTimeout: 5000, rollingCountTimeout: 30_000 });
add('breaker+timeout', 'opossum', 'CircuitBreaker.fire (timeout 1s)', () => opBreakerT.fire());
const bwBT = pipeline(circuitBreaker({ failureRate: 0.5, window: '30s' }), timeout('1s'));
add('breaker+timeout', 'blastwall', 'pipeline(breaker, timeout)', () => bwBT.execute(work));

const bwBulkhead = bulkhead({ limit: 64, queue: 128 });
add('bulkhead', 'blastwall', 'bulkhead(64, 128)', () => bwBulkhead.execute(work));
const ckBulkhead = cBulkhead(64, 128);
add('bulkhead', 'cockatiel', 'bulkhead(64, 128)', () => ckBulkhead.execute(work));

// the full pipeline: concurrency → breaker → retry → timeout
const bwFull = pipeline(
  bulkhead({ limit: 64, queue: 128 }),
  circuitBreaker({ failureRate: 0.5, window: '30s', minimumCalls: 20, halfOpenAfter: '5s' }),
  retry({ attempts: 3, backoff: { base: '50ms', max: '1s' } }),
  timeout('1s'),
);
add('full pipeline', 'blastwall', 'pipeline(bulkhead, breaker, retry, timeout)', () => bwFull.execute(work));
const ckFull = wrap(
  cBulkhead(64, 128),
  cBreaker(handleAll, { halfOpenAfter: 5000, breaker: new SamplingBreaker({ threshold: 0.5, duration: 30_000 }) }),
  cRetry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff() }),
  cTimeout(1000, TimeoutStrategy.Aggressive),
);
add('full pipeline', 'cockatiel', 'wrap(bulkhead, breaker, retry, timeout)', () => ckFull.execute(work));

// the wall: the same pipeline declared as a dependency
const spec = {
  timeout: '1s',
  retry: { attempts: 3, backoff: { base: '50ms', max: '1s' } },
  breaker: { failureRate: 0.5, window: '30s', minimumCalls: 20, halfOpenAfter: '5s' },
  concurrency: { limit: 64, queue: 128 },
} as const;
const wallOff = createWall({ service: 'bench' });
const depOff = wallOff.dependency('payments', spec);
add('wall', 'blastwall', 'wall.dependency().call(), telemetry off', () => depOff.call(work));
const wallOn = createWall({ service: 'bench', telemetry: { prometheus: true } });
const depOn = wallOn.dependency('payments', spec);
// the wall loads prom-client on first need (a dynamic import): measure the loaded exporter, not the calls
// buffered while it loads (this loop never yields to the event loop, so the import would never finish)
await wallOn.metrics();
add('wall', 'blastwall', 'wall.dependency().call(), Prometheus on', () => depOn.call(work));

async function measureOnce(c: Case, iterations: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) await c.run();
  return Number(process.hrtime.bigint() - t0) / iterations;
}

// calibrate iterations so each round takes about ROUND_MS
const iterations = new Map<Case, number>();
for (const c of cases) {
  await measureOnce(c, 20_000); // warm-up
  const ns = await measureOnce(c, 20_000);
  iterations.set(c, Math.max(5_000, Math.round((ROUND_MS * 1e6) / ns)));
}
const samples = new Map<Case, number[]>(cases.map((c) => [c, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (const c of cases) samples.get(c)!.push(await measureOnce(c, iterations.get(c)!));
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const ns = new Map(cases.map((c) => [c, median(samples.get(c)!)]));
const bare = ns.get(cases[0]!)!;
const byName = (lib: Case['lib'], group: string) => cases.filter((c) => c.lib === lib && c.group === group);

const rows: string[] = [];
rows.push('| case | library | ns/call | over bare call | blastwall is … × faster |');
rows.push('|---|---|---:|---:|---:|');
for (const c of cases) {
  const v = ns.get(c)!;
  let ratio = '';
  if (c.lib !== 'blastwall' && c.lib !== 'bare') {
    const mine = byName('blastwall', c.group)[0];
    if (mine) ratio = `${(v / ns.get(mine)!).toFixed(1)}×`;
  }
  rows.push(`| ${c.group}: ${c.name} | ${c.lib} | ${v.toFixed(0)} | ${c.lib === 'bare' ? '' : `+${(v - bare).toFixed(0)}`} | ${ratio} |`);
}
const full = ns.get(byName('blastwall', 'full pipeline')[0]!)!;
const wallOffNs = ns.get(cases.find((c) => c.name.includes('telemetry off'))!)!;
const wallOnNs = ns.get(cases.find((c) => c.name.includes('Prometheus on'))!)!;
console.log(`blastwall bench:hot — Node ${process.version}, ${ROUNDS} rounds of ~${ROUND_MS}ms per case, median round, sequential awaited calls\n`);
console.log(rows.join('\n'));
console.log('\nTargets:');
const check = (ok: boolean, text: string) => console.log(`  ${ok ? 'met   ' : 'MISSED'} ${text}`);
check(full - bare <= 300, `full pipeline adds ≤ 300 ns over the bare call: +${(full - bare).toFixed(0)} ns`);
const ckFullNs = ns.get(byName('cockatiel', 'full pipeline')[0]!)!;
check(ckFullNs / full >= 50, `full pipeline ≥ 50× faster than cockatiel wrap: ${(ckFullNs / full).toFixed(1)}×`);
const opNs = ns.get(byName('opossum', 'breaker')[0]!)!;
const bwBreakerNs = ns.get(byName('blastwall', 'breaker')[0]!)!;
check(opNs / bwBreakerNs >= 4, `breaker ≥ 4× faster than opossum's: ${(opNs / bwBreakerNs).toFixed(1)}×`);
check(wallOffNs - full <= 100, `wall call with telemetry off adds ≤ 100 ns over the bare pipeline: +${(wallOffNs - full).toFixed(0)} ns`);
console.log(`  info   Prometheus on adds ${(wallOnNs - wallOffNs).toFixed(0)} ns over telemetry off`);
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(Object.fromEntries(cases.map((c) => [`${c.group}/${c.lib}/${c.name}`, ns.get(c)])), null, 2));
opBreaker.shutdown();
opBreakerT.shutdown();
await wallOff.close();
await wallOn.close();
