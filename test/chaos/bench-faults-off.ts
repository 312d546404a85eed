/**
 * Faults off vs before, in one process: the success path of `wall.dependency().call()` from a build of the
 * tree before the fault hook (`--before DIR`) beside a build of the current tree (`--after DIR`), both
 * compiled the same way (`tsc -p tsconfig.bench.json --outDir DIR`), with faults off and (for scale) with
 * the slot installed by one observer. Cases run round-robin; the median round is kept.
 *
 *   npx tsx test/chaos/bench-faults-off.ts --before /tmp/bench-before --after /tmp/bench-after [--rounds 15 --ms 150]
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { createWall } from '../../src/index.js';

const args = process.argv.slice(2);
const arg = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : def;
};
const ROUNDS = Number(arg('rounds', '15'));
const ROUND_MS = Number(arg('ms', '150'));
const before = arg('before', '');
const after = arg('after', '');
if (before === '' || after === '') throw new Error('--before DIR and --after DIR (tsc builds of the tree before and after the fault hook) are required');

const spec = {
  timeout: '1s',
  retry: { attempts: 3, backoff: { base: '50ms', max: '1s' } },
  breaker: { failureRate: 0.5, window: '30s', minimumCalls: 20, halfOpenAfter: '5s' },
  concurrency: { limit: 64, queue: 128 },
} as const;
const work = async () => 1;

const old = (await import(pathToFileURL(resolve(before, 'src/index.js')).href)) as { createWall: typeof createWall };
const now = (await import(pathToFileURL(resolve(after, 'src/index.js')).href)) as { createWall: typeof createWall };
const wallBefore = old.createWall({ service: 'bench' });
const depBefore = wallBefore.dependency('payments', spec);
const wallOff = now.createWall({ service: 'bench', faults: false });
const depOff = wallOff.dependency('payments', spec);
const wallObserved = now.createWall({ service: 'bench', faults: true });
const depObserved = wallObserved.dependency('payments', spec);
const observer = wallObserved.faults.observe('payments');

const cases: [string, () => Promise<unknown>][] = [
  ['before the fault hook: wall call, telemetry off', () => depBefore.call(work)],
  ['faults off (this build): wall call, telemetry off', () => depOff.call(work)],
  ['faults on, slot installed (one observer): wall call', () => depObserved.call(work)],
];

async function once(run: () => Promise<unknown>, n: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await run();
  return Number(process.hrtime.bigint() - t0) / n;
}
const iters = new Map<string, number>();
for (const [name, run] of cases) {
  await once(run, 20_000);
  iters.set(name, Math.max(5000, Math.round((ROUND_MS * 1e6) / (await once(run, 20_000)))));
}
const samples = new Map<string, number[]>(cases.map(([n]) => [n, []]));
for (let r = 0; r < ROUNDS; r++) for (const [name, run] of cases) samples.get(name)!.push(await once(run, iters.get(name)!));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`faults off vs before — Node ${process.version}, ${ROUNDS} rounds of ~${ROUND_MS}ms, median round\n`);
console.log('| case | ns/call | min–max over rounds |\n|---|---:|---:|');
for (const [name] of cases) {
  const xs = samples.get(name)!;
  console.log(`| ${name} | ${median(xs).toFixed(0)} | ${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)} |`);
}
observer.dispose();
await wallBefore.close();
await wallOff.close();
await wallObserved.close();
