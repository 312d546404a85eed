/**
 * Issue 17, finding 12: with the README's own pattern `payments.call((ctx) => fetch(url, …))`, an answer
 * that is a failure (5xx, 429) must be one for retry, breaker and health; `Retry-After` is the least wait
 * before the next attempt, within the deadline; other 4xx are answers (the dependency works).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BlastwallError } from '../../src/core/errors.js';
import { type Wall, createWall } from '../../src/wall/index.js';
import { FakeClock } from '../../src/testing/index.js';

let wall: Wall | undefined;
afterEach(async () => {
  await wall?.close();
  wall = undefined;
});

const answer = (status: number, headers: Record<string, string> = {}) => new Response(status === 204 ? null : `status ${status}`, { status, headers });

async function run<T>(clock: FakeClock, p: Promise<T>, ms = 1000): Promise<T | BlastwallError> {
  let out: T | BlastwallError | undefined;
  let done = false;
  p.then(
    (v) => ((out = v), (done = true)),
    (e: BlastwallError) => ((out = e), (done = true)),
  );
  await clock.advance(ms);
  expect(done).toBe(true);
  return out!;
}

describe('a dependency classifies results', () => {
  it('a 503 Response is retried, then fails with DEPENDENCY_FAILED (status 503), and health sees failures', async () => {
    const clock = new FakeClock();
    wall = createWall({ service: 's', clock });
    const pay = wall.dependency('pay', { retry: { attempts: 3, backoff: 10, budget: false }, breaker: false, health: { minimumCalls: 5 } });
    let attempts = 0;
    const call = () =>
      pay.call(() => {
        attempts++;
        return answer(503);
      });
    const err = (await run(clock, call())) as BlastwallError;
    expect(err).toBeInstanceOf(BlastwallError);
    expect(err.code).toBe('DEPENDENCY_FAILED');
    expect(err.details?.status).toBe(503);
    expect(attempts).toBe(3);
    for (let i = 0; i < 9; i++) await run(clock, call(), 100);
    expect(pay.totals().failures).toBe(10);
    expect(pay.totals().successes).toBe(0);
    await clock.advance(2000); // a health evaluation
    expect(wall.health().dependencies.pay!.state).not.toBe('healthy');
  });

  it('500 answers open the breaker', async () => {
    const clock = new FakeClock();
    wall = createWall({ service: 's', clock });
    const pay = wall.dependency('pay', { breaker: { minimumCalls: 4, window: { calls: 4 } } });
    for (let i = 0; i < 4; i++) await run(clock, pay.call(() => answer(500)), 10);
    expect(pay.breaker!.state).toBe('open');
    expect(((await run(clock, pay.call(() => answer(200)), 10)) as BlastwallError).code).toBe('CIRCUIT_OPEN');
  });

  it('a 429 with Retry-After: 2 makes the next attempt wait 2s (longer than the backoff)', async () => {
    const clock = new FakeClock();
    wall = createWall({ service: 's', clock });
    const pay = wall.dependency('pay', { retry: { attempts: 2, backoff: 10, budget: false }, breaker: false });
    const starts: number[] = [];
    const p = pay.call(() => {
      starts.push(clock.now());
      return starts.length === 1 ? answer(429, { 'retry-after': '2' }) : answer(200);
    });
    const res = (await run(clock, p, 5000)) as Response;
    expect(res.status).toBe(200);
    expect(starts[1]! - starts[0]!).toBe(2000);
  });

  it('a Retry-After beyond the deadline gives up at once (the last answer, not retryable) instead of waiting', async () => {
    const clock = new FakeClock();
    wall = createWall({ service: 's', clock });
    const pay = wall.dependency('pay', { retry: { attempts: 3, backoff: 10, budget: false }, breaker: false, timeout: '1s' });
    const op = wall.operation('checkout', { deadline: '3s' });
    let attempts = 0;
    const p = op.run(() =>
      pay.call(() => {
        attempts++;
        return answer(503, { 'retry-after': '60' });
      }),
    );
    const err = (await run(clock, p, 10)) as BlastwallError; // settled within 10ms: no 60s wait
    expect(err.code).toBe('DEPENDENCY_FAILED');
    expect(err.details?.status).toBe(503);
    expect(err.retryAfterMs).toBe(60_000);
    expect(err.retryable).toBe(false);
    expect(attempts).toBe(1);
  });

  it('4xx other than 429 are answers: returned, counted as successes, no retry', async () => {
    const clock = new FakeClock();
    wall = createWall({ service: 's', clock });
    const pay = wall.dependency('pay', { retry: { attempts: 3, backoff: 10, budget: false } });
    for (const s of [400, 401, 404, 409, 422]) {
      let attempts = 0;
      const res = (await run(
        clock,
        pay.call(() => {
          attempts++;
          return answer(s);
        }),
        10,
      )) as Response;
      expect(res.status).toBe(s);
      expect(attempts).toBe(1);
    }
    expect(pay.totals().successes).toBe(5);
  });

  it('failOnResult: false returns a 503 as a value; a custom classifier decides for any result', async () => {
    const clock = new FakeClock();
    wall = createWall({ service: 's', clock });
    const raw = wall.dependency('raw', { failOnResult: false });
    expect(((await run(clock, raw.call(() => answer(503)), 10)) as Response).status).toBe(503);
    const rows = wall.dependency('rows', { failOnResult: (r) => Array.isArray(r) && r.length === 0 });
    const err = (await run(clock, rows.call(() => []), 10)) as BlastwallError;
    expect(err.code).toBe('DEPENDENCY_FAILED');
    expect(((await run(clock, rows.call(() => [1]), 10)) as number[])[0]).toBe(1);
    expect(() => wall!.dependency('bad', { failOnResult: 'yes' as never })).toThrow(/`bad\.failOnResult`/);
  });
});
