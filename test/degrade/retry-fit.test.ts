import { describe, expect, it } from 'vitest';
import { type BlastwallError, createWall } from '../../src/index.js';
import { FakeClock } from '../../src/testing/index.js';

/** A dependency answering HTTP 500 after `ms` (fake clock). */
function failingAfter(clock: FakeClock, ms: number, starts: number[]) {
  return () => {
    starts.push(clock.now());
    return new Promise((_, reject) => clock.setTimer(() => reject(Object.assign(new Error('HTTP 500 from inventory'), { status: 500 })), ms));
  };
}

async function settle<T>(p: Promise<T>): Promise<{ value?: T; error?: BlastwallError }> {
  return p.then(
    (value) => ({ value }),
    (error: BlastwallError) => ({ error }),
  );
}

describe('retry fit: an attempt is estimated from what was observed, and a retry that does not fit fails with the dependency’s own error', () => {
  it('a dependency failing fast with 500 under a 1 s deadline is retried within the budget (default timeout 10 s); the caller gets its error', async () => {
    const clock = new FakeClock();
    const wall = createWall({ service: 'shop', clock });
    // defaults everywhere else: timeout 10 s, retry budget ratio 0.1 with 10 retries/s floor
    const dep = wall.dependency('inventory', { retry: { attempts: 3 } });
    const op = wall.operation('checkout', { deadline: '1s', priority: 'critical' });
    const starts: number[] = [];
    const t0 = clock.now();
    const p = settle(op.run(() => dep.call(failingAfter(clock, 2, starts))));
    await clock.advance(1500);
    const r = await p;
    expect(starts.length).toBe(3); // the whole 10 s timeout is an upper bound, not the estimate: 2 ms attempts fit
    expect(starts.at(-1)! - t0).toBeLessThan(1000);
    expect(r.error?.code).toBe('DEPENDENCY_FAILED');
    expect(r.error?.dependency).toBe('inventory');
    expect((r.error?.cause as Error).message).toBe('HTTP 500 from inventory');
    await wall.close();
  });

  it('when the next attempt does not fit, the caller gets DEPENDENCY_FAILED with the cause, not retryable — not a 504 for the deadline', async () => {
    const clock = new FakeClock();
    const wall = createWall({ service: 'shop', clock });
    const dep = wall.dependency('inventory', { timeout: '2s', retry: { attempts: 5, backoff: 0 } });
    const op = wall.operation('checkout', { deadline: '1s' });
    const starts: number[] = [];
    const t0 = clock.now();
    let endedAt = Number.NaN;
    const p = settle(op.run(() => dep.call(failingAfter(clock, 400, starts)))).then((r) => ((endedAt = clock.now()), r));
    await clock.advance(1500);
    const r = await p;
    // 0–400, 400–800; a third would need 400 ms (what this call's attempts took) with 200 ms left
    expect(starts.map((s) => s - t0)).toEqual([0, 400]);
    expect(endedAt - t0).toBe(800);
    expect(r.error).toMatchObject({ code: 'DEPENDENCY_FAILED', dependency: 'inventory', retryable: false });
    expect((r.error?.cause as Error).message).toBe('HTTP 500 from inventory');
    expect(r.error?.details?.retry).toMatch(/attempt 3 not started: 200ms left/);
    await wall.close();
  });

  it('once latencies are observed (failures included), their p99 is the estimate a retry must fit; before that, the call’s own attempt', async () => {
    const run = async (teach: boolean) => {
      const clock = new FakeClock();
      const wall = createWall({ service: 'shop', clock, healthInterval: '1s' });
      // failures marked final are not retried: each teaching call is one 300 ms attempt that failed
      const dep = wall.dependency('inventory', { timeout: '2s', retry: { attempts: 3, backoff: 0, budget: false, retryOn: (e) => !(e as { final?: boolean }).final } });
      if (teach) {
        for (let i = 0; i < 10; i++) {
          const p = settle(dep.call(() => new Promise((_, reject) => clock.setTimer(() => reject(Object.assign(new Error('HTTP 500'), { final: true })), 300))));
          await clock.advance(300);
          await p;
        }
        await clock.advance(1000); // one health evaluation reads the observed latencies
      }
      const op = wall.operation('checkout', { deadline: '250ms' });
      const starts: number[] = [];
      const p = settle(op.run(() => dep.call(failingAfter(clock, 10, starts))));
      await clock.advance(1000);
      const r = await p;
      await wall.close();
      return { attempts: starts.length, error: r.error };
    };
    // no evidence: the first attempt took 10 ms, so retries fit in 250 ms
    const fresh = await run(false);
    expect(fresh.attempts).toBe(3);
    expect(fresh.error?.code).toBe('DEPENDENCY_FAILED');
    // evidence: attempts take ~300 ms (failures included), so no retry fits in the 240 ms left
    const taught = await run(true);
    expect(taught.attempts).toBe(1);
    expect(taught.error).toMatchObject({ code: 'DEPENDENCY_FAILED', retryable: false });
    const needed = Number(/(\d+)ms attempt needed/.exec(String(taught.error?.details?.retry))?.[1]);
    expect(needed).toBeGreaterThanOrEqual(280);
    expect(needed).toBeLessThanOrEqual(320);
  });
});
