/**
 * `npm run bench:stampede`: a hot key expiring under 2,000 concurrent requests against a slow dependency
 * (50 ms per call). Compares blastwall's cache with a plain TTL cache (lru-cache with `ttl`) in one run.
 * Reports calls that reached the dependency and the latency seen by the 2,000 requests.
 */
import { LRUCache } from 'lru-cache';
import { cache, realClock, sleep } from '../src/index.js';

const CONCURRENCY = 2000;
const DEPENDENCY_MS = 50;
let calls = 0;
async function slowDependency(): Promise<{ price: number }> {
  calls++;
  await sleep(realClock, DEPENDENCY_MS);
  return { price: 42 };
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
}

async function burst(get: () => Promise<unknown>): Promise<{ calls: number; p50: number; p99: number; max: number }> {
  calls = 0;
  const lat: number[] = [];
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      const t0 = performance.now();
      await get();
      lat.push(performance.now() - t0);
    }),
  );
  return { calls, p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), max: Math.max(...lat) };
}

const rows: string[] = [];
const row = (arm: string, scenario: string, r: Awaited<ReturnType<typeof burst>>) =>
  rows.push(`| ${scenario} | ${arm} | ${r.calls} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.max.toFixed(1)} |`);

/** The usual TTL-cache pattern: get, and on a miss call the dependency and set. */
function ttlCached(key: string): () => Promise<{ price: number }> {
  const ttl = new LRUCache<string, { price: number }>({ max: 1000, ttl: 200 });
  return async () => {
    const hit = ttl.get(key);
    if (hit !== undefined) return hit;
    const v = await slowDependency();
    ttl.set(key, v);
    return v;
  };
}

// Arm 1: lru-cache with ttl
{
  const get = ttlCached('sku');
  await get();
  await sleep(realClock, 250); // the key expires
  row('lru-cache (ttl 200ms)', 'key expired', await burst(get));
}

// Arm 2: blastwall cache — fresh 200ms, stale 10s: the expired-fresh key is served stale at once, one refresh.
{
  const c = cache({ fresh: 200, stale: '10s' });
  const get = () => c.get('sku', slowDependency);
  await get();
  await sleep(realClock, 250);
  row('blastwall cache (fresh 200ms, stale 10s)', 'key expired', await burst(get));
}

// Arm 3: both fully cold (past stale too): the TTL cache stampedes, single-flight makes one call.
{
  row('lru-cache (ttl 200ms)', 'cold key (nothing stale)', await burst(ttlCached('cold')));
  const c = cache({ fresh: 200, stale: 200 });
  row('blastwall cache (single-flight)', 'cold key (nothing stale)', await burst(() => c.get('cold', slowDependency)));
}

const out = [
  `bench:stampede — ${CONCURRENCY} concurrent requests, dependency takes ${DEPENDENCY_MS} ms, Node ${process.version}`,
  '',
  '| scenario | cache | calls reaching the dependency | p50 ms | p99 ms | max ms |',
  '|---|---|---:|---:|---:|---:|',
  ...rows,
].join('\n');
console.log(out);
