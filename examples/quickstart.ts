/**
 * The policies alone, without a wall: `npx tsx examples/quickstart.ts` in a clone (about a second).
 * (`npm start` runs the fuller shop demo, examples/shop/demo.ts: a wall with dependencies of every criticality.)
 * A protected call riding out an injected fault, and what happened along the way.
 * A flaky "inventory" dependency fails 30% of calls and hangs 5% of them; the pipeline
 * (concurrency → breaker → retry → timeout) keeps every caller answered within its time limit.
 */
import { bulkhead, circuitBreaker, pipeline, retry, timeout } from 'blastwall';

let calls = 0;
let rng = 42;
const random = () => {
  rng = (rng * 1103515245 + 12345) % 2 ** 31;
  return rng / 2 ** 31;
};

async function inventory(signal: AbortSignal): Promise<number> {
  calls++;
  const roll = random();
  if (roll < 0.05) {
    // hang until aborted: the timeout must free the caller
    await new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
  }
  if (roll < 0.35) throw new Error('inventory: connection reset');
  return 42;
}

const t = timeout('50ms');
const r = retry({ attempts: 3, backoff: { base: '5ms', max: '20ms', jitter: 'full' }, budget: { ratio: 0.5, minPerSecond: 50 } });
const b = circuitBreaker({ failureRate: 0.9, minimumCalls: 20, window: { calls: 50 }, halfOpenAfter: '200ms' });
const policy = pipeline(bulkhead({ limit: 32, queue: 256 }), b, r, t);

let timeouts = 0;
let retries = 0;
t.onTimeout(() => timeouts++);
r.onRetry(() => retries++);
b.onStateChange((e) => console.log(`  breaker ${e.from} → ${e.to}: ${e.reason}`));

const started = performance.now();
const results = await Promise.allSettled(Array.from({ length: 200 }, () => policy.execute((ctx) => inventory(ctx.signal))));
const elapsed = performance.now() - started;
const ok = results.filter((x) => x.status === 'fulfilled').length;
const failedCodes = new Map<string, number>();
for (const x of results) {
  if (x.status === 'rejected') {
    const code = (x.reason as { code?: string }).code ?? 'ERROR';
    failedCodes.set(code, (failedCodes.get(code) ?? 0) + 1);
  }
}
console.log('blastwall quickstart: 200 calls to a dependency that fails 30% and hangs 5% of the time');
console.log(`  succeeded: ${ok}/200 in ${elapsed.toFixed(0)}ms (${calls} attempts reached the dependency)`);
console.log(`  retries: ${retries}, attempts cut by the 50ms timeout: ${timeouts}`);
console.log(`  failed after the policy gave up: ${[...failedCodes].map(([c, n]) => `${c}×${n}`).join(', ') || 'none'}`);
console.log(`  breaker now: ${b.state}`);
