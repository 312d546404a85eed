/**
 * Issue 17, finding 1 through `wall.dependency`: a user callback of a dependency (the breaker's
 * `isFailure`, a `halfOpenAfter` schedule, `payload.measure`, the `validate` schema, `failOnResult`, an
 * optional dependency's fallback, `retry.retryOn`) that throws settles the call with `CALLBACK_FAILED`
 * (cause: what it threw), frees the concurrency slot, keeps breaker and health valid, and leaves no
 * unhandled rejection. Fake clock: a call that would hang is seen still pending after time moved on.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlastwallError } from '../../src/core/errors.js';
import { type Wall, createWall } from '../../src/wall/index.js';
import { FakeClock } from '../../src/testing/index.js';
import { captureWarnings } from '../support/warnings.js';

type Settled = { status: 'fulfilled'; value: unknown } | { status: 'rejected'; error: unknown } | { status: 'pending' };

async function settle(clock: FakeClock, p: Promise<unknown>, ms = 1000): Promise<Settled> {
  let out: Settled = { status: 'pending' };
  p.then(
    (value) => (out = { status: 'fulfilled', value }),
    (error: unknown) => (out = { status: 'rejected', error }),
  );
  await clock.advance(ms);
  return out;
}

function callbackFailed(s: Settled, callback: string, cause: unknown): BlastwallError {
  expect(s.status).toBe('rejected');
  const e = (s as { error: BlastwallError }).error;
  expect(e).toBeInstanceOf(BlastwallError);
  expect(e.code).toBe('CALLBACK_FAILED');
  expect(e.dependency).toBe('pay');
  expect(e.details?.callback).toBe(callback);
  expect(e.cause).toBe(cause);
  return e;
}

const bug = new TypeError("Cannot read properties of undefined (reading 'status')");
const throwsBug = () => {
  throw bug;
};
const netError = () => Promise.reject(new TypeError('fetch failed'));

let wall: Wall | undefined;
const unhandled: unknown[] = [];
const onUnhandled = (e: unknown) => unhandled.push(e);
beforeEach(() => {
  unhandled.length = 0;
  process.on('unhandledRejection', onUnhandled);
});
afterEach(async () => {
  await wall?.close();
  wall = undefined;
  await new Promise((r) => setImmediate(r));
  process.off('unhandledRejection', onUnhandled);
  expect(unhandled).toEqual([]);
});

describe('wall.dependency contains its callbacks', () => {
  it('a throwing breaker.isFailure: CALLBACK_FAILED, the slot is released, the breaker still counts the failure', async () => {
    const clock = new FakeClock();
    wall = createWall({ service: 's', clock });
    const pay = wall.dependency('pay', {
      concurrency: { limit: 1 },
      breaker: { isFailure: throwsBug, minimumCalls: 2, window: { calls: 2 } },
      retry: { attempts: 2, backoff: 10, budget: false },
      timeout: '1s',
    });
    callbackFailed(await settle(clock, pay.call(netError)), 'breaker.isFailure', bug);
    expect(pay.bulkhead!.stats().active).toBe(0);
    // not BULKHEAD_FULL: the slot came back
    expect(await settle(clock, pay.call(() => 'ok'))).toEqual({ status: 'fulfilled', value: 'ok' });
    callbackFailed(await settle(clock, pay.call(netError)), 'breaker.isFailure', bug);
    expect(pay.breaker!.state).toBe('open');
    expect(pay.totals().calls).toBe(3);
  });

  it('a halfOpenAfter schedule answering NaN: the breaker half-opens after the default 5s', async () => {
    const clock = new FakeClock();
    wall = createWall({ service: 's', clock });
    const pay = wall.dependency('pay', { breaker: { halfOpenAfter: () => Number.NaN, minimumCalls: 1, window: { calls: 1 } } });
    const captured = captureWarnings();
    await settle(clock, pay.call(netError), 1);
    captured.restore();
    expect(captured.warnings).toEqual([expect.stringMatching(/`breaker\.halfOpenAfter` callback failed: returned NaN.*opening for 5000ms/)]);
    expect(pay.breaker!.state).toBe('open');
    await clock.advance(5000);
    expect(await settle(clock, pay.call(() => 'probe'))).toEqual({ status: 'fulfilled', value: 'probe' });
    expect(pay.breaker!.state).toBe('closed');
  });

  it('a throwing payload.measure (request or response): CALLBACK_FAILED, recorded, never a synchronous throw', async () => {
    const clock = new FakeClock();
    wall = createWall({ service: 's', clock });
    const pay = wall.dependency('pay', { payload: { maxRequestBytes: 10, maxResponseBytes: 10, measure: throwsBug } });
    let p: Promise<unknown> | undefined;
    expect(() => (p = pay.call(() => 'v', { request: 'r' }))).not.toThrow();
    callbackFailed(await settle(clock, p!), 'pay.payload.measure', bug);
    callbackFailed(await settle(clock, pay.call(() => 'v')), 'pay.payload.measure', bug);
    expect(pay.totals().calls).toBe(2);
  });

  it('a validate schema that throws, rejects or answers garbage: CALLBACK_FAILED, never a raw Error', async () => {
    const clock = new FakeClock();
    wall = createWall({ service: 's', clock });
    const schema = (validate: (v: unknown) => unknown) => ({ '~standard': { version: 1 as const, vendor: 'test', validate } }) as never;
    const cases: [string, (v: unknown) => unknown, unknown][] = [
      ['throws', throwsBug, bug],
      ['rejects', () => Promise.reject(bug), bug],
    ];
    for (const [name, validate, cause] of cases) {
      const dep = wall.dependency(`pay${name}`, { validate: schema(validate) });
      const s = await settle(clock, dep.call(() => ({ id: 1 })));
      expect(s.status, name).toBe('rejected');
      const e = (s as { error: BlastwallError }).error;
      expect(e.code, name).toBe('CALLBACK_FAILED');
      expect(e.details?.callback).toBe(`pay${name}.validate`);
      expect(e.cause).toBe(cause);
    }
    const garbage = wall.dependency('paygarbage', { validate: schema(() => null) });
    const s = await settle(clock, garbage.call(() => 1));
    expect(((s as { error: BlastwallError }).error).code).toBe('CALLBACK_FAILED');
  });

  it('a throwing failOnResult: CALLBACK_FAILED', async () => {
    const clock = new FakeClock();
    wall = createWall({ service: 's', clock });
    const pay = wall.dependency('pay', { failOnResult: throwsBug, retry: { attempts: 3, backoff: 10, budget: false } });
    callbackFailed(await settle(clock, pay.call(() => 'v')), 'pay.failOnResult', bug);
  });

  it('a throwing retry.retryOn: CALLBACK_FAILED', async () => {
    const clock = new FakeClock();
    wall = createWall({ service: 's', clock });
    const pay = wall.dependency('pay', { retry: { attempts: 3, backoff: 10, budget: false, retryOn: throwsBug } });
    callbackFailed(await settle(clock, pay.call(netError)), 'retry.retryOn', bug);
  });

  it("an optional dependency's fallback that throws: call rejects with CALLBACK_FAILED, attempt says ok: false", async () => {
    const clock = new FakeClock();
    wall = createWall({ service: 's', clock });
    const pay = wall.dependency('pay', { criticality: 'optional', fallback: throwsBug });
    const e = callbackFailed(await settle(clock, pay.call(netError)), 'pay.fallback', bug);
    expect((e.details?.error as BlastwallError).code).toBe('DEPENDENCY_FAILED');
    const outcome = await pay.attempt(netError);
    expect(outcome.ok).toBe(false);
    expect(outcome.error?.code).toBe('CALLBACK_FAILED');
  });
});
