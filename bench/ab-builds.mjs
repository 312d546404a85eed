/**
 * Two builds of blastwall side by side in one process, cases round-robin, median round: the comparison that
 * holds on a shared, loaded machine (where two separate `bench:hot` runs differ by ±30%).
 *
 *   A=/path/to/build-a/src/index.js B=/path/to/build-b/src/index.js node bench/ab-builds.mjs [rounds=21] [ms=60]
 *
 * A build is `npx tsc -p tsconfig.bench.json` output (`.bench-dist`) of a checkout, e.g.
 *   git archive <commit> | tar -x -C /tmp/a && ln -s "$PWD/node_modules" /tmp/a/node_modules && (cd /tmp/a && npx tsc -p tsconfig.bench.json)
 * docs/containment.md used it with B = the current build and A = the same build with the wall's two
 * `this.clock.now()` latency readings replaced by the coarse `this.now()`.
 */
import { performance } from 'node:perf_hooks';

const A = process.env.A;
const B = process.env.B;
if (!A || !B) throw new Error('set A and B to the src/index.js of two builds');
const builds = [['A', await import(A)], ['B', await import(B)]];
const ROUNDS = Number(process.argv[2] ?? 21);
const MS = Number(process.argv[3] ?? 60);
const work = async () => 1;
const cases = [
  ['bare await fn()', () => work()],
  [
    'await fn() + 2 clock readings',
    () => {
      performance.now();
      const p = work();
      performance.now();
      return p;
    },
  ],
];
const walls = [];
for (const [tag, m] of builds) {
  const full = m.pipeline(m.bulkhead({ limit: 64, queue: 128 }), m.circuitBreaker({}), m.retry({ attempts: 3 }), m.timeout('1s'));
  cases.push([`${tag}: full pipeline`, () => full.execute(work)]);
  const w = m.createWall({ service: 'bench' });
  walls.push(w);
  const dep = w.dependency('payments', { timeout: '1s', retry: { attempts: 2 }, concurrency: { limit: 64 } });
  cases.push([`${tag}: wall.dependency().call()`, () => dep.call(work)]);
}
const results = new Map(cases.map(([n]) => [n, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, run] of cases) {
    let n = 0;
    const t0 = performance.now();
    const end = t0 + MS;
    while (performance.now() < end) {
      for (let i = 0; i < 200; i++) await run();
      n += 200;
    }
    results.get(name).push(((performance.now() - t0) * 1e6) / n);
  }
}
const median = (a) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];
for (const [name, v] of results) console.log(`${name.padEnd(36)} ${median(v).toFixed(0).padStart(6)} ns/call`);
for (const w of walls) await w.close();
