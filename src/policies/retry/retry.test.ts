import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BlastwallError } from '../../core/errors.js';
import { FakeClock, flushMicrotasks } from '../../core/fake-clock.js';
import { constant, exponential, retry, retryBudget } from './index.js';

function seeded(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('schedules', () => {
  it('constant waits the same every time', () => {
    const step = constant('250ms')();
    expect([1, 2, 3].map(step)).toEqual([250, 250, 250]);
  });

  it('exponential without jitter doubles up to the cap', () => {
    const step = exponential({ base: 100, max: 1000, jitter: 'none' })();
    expect([1, 2, 3, 4, 5, 6].map(step)).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('full jitter stays within [0, d], equal jitter within [d/2, d]', () => {
    const full = exponential({ base: 100, max: 10_000, jitter: 'full' })(seeded(1));
    const equal = exponential({ base: 100, max: 10_000, jitter: 'equal' })(seeded(2));
    for (let n = 1; n <= 6; n++) {
      const d = 100 * 2 ** (n - 1);
      const f = full(n);
      const e = equal(n);
      expect(f).toBeGreaterThanOrEqual(0);
      expect(f).toBeLessThanOrEqual(d);
      expect(e).toBeGreaterThanOrEqual(d / 2);
      expect(e).toBeLessThanOrEqual(d);
    }
  });

  it('decorrelated jitter stays within [base, max] and depends on the previous delay', () => {
    const step = exponential({ base: 10, max: 500, jitter: 'decorrelated' })(seeded(3));
    let prev = 10;
    for (let n = 1; n <= 50; n++) {
      const d = step(n);
      expect(d).toBeGreaterThanOrEqual(10);
      expect(d).toBeLessThanOrEqual(Math.min(500, Math.max(10, prev * 3)));
      prev = d;
    }
  });

  it('each call starts a fresh schedule (a value, not shared state)', () => {
    const s = exponential({ base: 10, max: 1000, jitter: 'decorrelated' });
    const a = s(seeded(7));
    const b = s(seeded(7));
    expect([a(1), a(2), a(3)]).toEqual([b(1), b(2), b(3)]);
  });
});

describe('retry', () => {
  it('retries up to `attempts` with the schedule, then throws the last error', async () => {
    const clock = new FakeClock();
    const r = retry({ clock, attempts: 3, backoff: constant(100), budget: false });
    const times: number[] = [];
    const p = r.execute(() => {
      times.push(clock.now());
      return Promise.reject(new Error(`fail ${times.length}`));
    });
    const caught = p.catch((e: Error) => e.message);
    await clock.advance(1000);
    expect(await caught).toBe('fail 3');
    expect(times.map((t) => t - times[0]!)).toEqual([0, 100, 200]);
  });

  it('stops on a non-retryable error and when retryOn says no', async () => {
    const clock = new FakeClock();
    let n = 0;
    const r = retry({ clock, attempts: 5, backoff: 0, budget: false });
    await expect(
      r.execute(() => {
        n++;
        throw new BlastwallError('CIRCUIT_OPEN', 'open');
      }),
    ).rejects.toMatchObject({ code: 'CIRCUIT_OPEN' });
    expect(n).toBe(1);
    n = 0;
    const only = retry({ clock, attempts: 5, backoff: 0, budget: false, retryOn: (e) => (e as Error).message === 'transient' });
    await expect(
      only.execute(() => {
        n++;
        throw new Error(n < 3 ? 'transient' : 'fatal');
      }),
    ).rejects.toThrow('fatal');
    expect(n).toBe(3);
    n = 0;
    await expect(
      r.execute(() => {
        n++;
        throw Object.assign(new Error('overloaded'), { retryable: false });
      }),
    ).rejects.toThrow('overloaded');
    expect(n).toBe(1);
  });

  it('retries on a result that says so, and returns the last result when attempts run out', async () => {
    const clock = new FakeClock();
    let n = 0;
    const r = retry({ clock, attempts: 3, backoff: 0, budget: false, retryOnResult: (v) => (v as { status: number }).status === 503 });
    expect(await r.execute(() => ({ status: ++n < 2 ? 503 : 200 }))).toEqual({ status: 200 });
    n = 0;
    expect(await r.execute(() => ({ status: 503, n: ++n }))).toEqual({ status: 503, n: 3 });
  });

  it('honours a retry-after hint longer than the backoff', async () => {
    const clock = new FakeClock();
    const times: number[] = [];
    const r = retry({ clock, attempts: 2, backoff: constant(10), budget: false });
    const p = r
      .execute(() => {
        times.push(clock.now());
        if (times.length === 1) throw Object.assign(new Error('429'), { retryAfterMs: 750 });
        return 'ok';
      })
      .then((v) => v);
    await clock.advance(749);
    expect(times).toHaveLength(1);
    await clock.advance(1);
    expect(await p).toBe('ok');
    expect(times[1]! - times[0]!).toBe(750);
  });

  it('gives up when the next attempt would start after maxElapsed', async () => {
    const clock = new FakeClock();
    let n = 0;
    const r = retry({ clock, attempts: 10, backoff: constant(400), maxElapsed: '1s', budget: false });
    const p = r
      .execute(() => {
        n++;
        throw new Error('x');
      })
      .catch(() => undefined);
    await clock.advance(5000);
    await p;
    expect(n).toBe(3); // t=0, 400, 800; the next would start at 1200
  });

  it('a wait between attempts is abortable and leaves no timer behind', async () => {
    const clock = new FakeClock();
    const r = retry({ clock, attempts: 3, backoff: constant(10_000), budget: false });
    const ac = new AbortController();
    const p = r.execute(() => Promise.reject(new Error('x')), ac.signal);
    await flushMicrotasks();
    expect(clock.pendingTimers()).toBe(1);
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: 'ABORTED' });
    await flushMicrotasks();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('a refused retry becomes RETRY_BUDGET_EXHAUSTED with the last error as cause', async () => {
    const clock = new FakeClock();
    const budget = retryBudget({ clock, ratio: 0, minPerSecond: 0.1, window: '10s' }); // 1 retry per 10s
    const r = retry({ clock, attempts: 3, backoff: 0, budget });
    const first = await r.execute(() => Promise.reject(new Error('a'))).catch((e: BlastwallError) => e);
    expect(first).toMatchObject({ code: 'RETRY_BUDGET_EXHAUSTED' }); // one retry allowed, the second refused
    expect((first.cause as Error).message).toBe('a');
    expect(budget.snapshot()).toMatchObject({ requests: 1, retries: 1 });
  });

  it('the per-second floor is a floor, not an addition: at 200 requests/s the ratio alone bounds retries (≤ 1.1 attempts per request)', async () => {
    const clock = new FakeClock();
    const budget = retryBudget({ clock }); // defaults: ratio 0.1, floor 10/s, window 10s
    const r = retry({ clock, attempts: 3, backoff: 0, budget });
    let calls = 0;
    for (let i = 0; i < 4000; i++) {
      clock.set(clock.now() + 5); // 200 requests per second for 20 s, every one failing
      await r
        .execute(() => {
          calls++;
          return Promise.reject(new Error('down'));
        })
        .catch(() => undefined);
    }
    // retries ≤ 10% of requests (+1: the floor lets the first window's retries run ahead of its requests by one)
    expect(calls - 4000).toBeLessThanOrEqual(0.1 * 4000 + 1);
    expect(calls - 4000).toBeGreaterThan(0.1 * 4000 - 5); // the budget is used
    // the additive rule (floor + ratio) allowed 100 more retries per window: 1.15 attempts per request
    const snap = budget.snapshot();
    expect(snap.requests).toBeGreaterThan(1000); // enough traffic for the ratio to govern
    expect(snap.allowed).toBe(Math.floor(0.1 * snap.requests)); // 10% of the requests in the window, not 100 more
    // a quiet service (1 request per second) still gets the floor
    const quiet = retryBudget({ clock });
    expect(quiet.snapshot().allowed).toBe(100);
  });

  it('over any 10 s of steady failures, traffic not aligned with the window and retries after a backoff, retries stay within the ratio', async () => {
    const clock = new FakeClock();
    const budget = retryBudget({ clock }); // defaults: ratio 0.1, floor 10/s, window 10s
    const r = retry({ clock, attempts: 3, backoff: { base: '7ms', max: '7ms', jitter: 'none' }, budget });
    const attemptsAt: number[] = [];
    const requestsAt: number[] = [];
    const start = clock.now() + 1234; // traffic not aligned with the window's buckets
    clock.set(start);
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < 6000; i++) {
      requestsAt.push(clock.now());
      pending.push(
        r
          .execute(() => {
            attemptsAt.push(clock.now());
            return Promise.reject(new Error('down'));
          })
          .catch(() => undefined),
      );
      await clock.advance(5); // 200 requests per second for 30 s, every one failing
    }
    await clock.advance(100);
    await Promise.all(pending);
    let worst = 0;
    for (let from = start + 10_000; from + 10_000 <= start + 30_000; from += 1300) {
      const inside = (t: number) => t >= from && t < from + 10_000;
      worst = Math.max(worst, attemptsAt.filter(inside).length / requestsAt.filter(inside).length);
    }
    expect(worst).toBeGreaterThan(1.09); // the budget is used
    expect(worst).toBeLessThanOrEqual(1.1 + 0.005); // the edges of a 10 s stretch: a few retries either way
  });

  it('under a 100% failure stream retries never exceed the budget (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          ratio: fc.double({ min: 0, max: 0.5, noNaN: true }),
          minPerSecond: fc.integer({ min: 0, max: 5 }),
          attempts: fc.integer({ min: 2, max: 6 }),
          gaps: fc.array(fc.integer({ min: 0, max: 500 }), { minLength: 20, maxLength: 200 }),
        }),
        async ({ ratio, minPerSecond, attempts, gaps }) => {
          const clock = new FakeClock();
          const budget = retryBudget({ clock, ratio, minPerSecond, window: '10s' });
          const r = retry({ clock, attempts, backoff: 0, budget });
          let calls = 0;
          let requests = 0;
          const start = clock.now();
          for (const gap of gaps) {
            clock.set(clock.now() + gap);
            requests++;
            await r
              .execute(() => {
                calls++;
                return Promise.reject(new Error('down'));
              })
              .catch(() => undefined);
          }
          const retries = calls - requests;
          // over any run, the windows it spans allow at most this many retries
          const windows = Math.floor((clock.now() - start) / 10_000) + 1;
          return retries <= windows * minPerSecond * 10 + ratio * requests + 1e-9;
        },
      ),
      { numRuns: 100 },
    );
  });
});
