/**
 * Issue 17, finding 1: every user callback a policy runs is contained. A callback that throws (or answers
 * nonsense) settles the call with `CALLBACK_FAILED` (cause: what it threw), releases every slot and leaves
 * the policy's state valid; nothing hangs and no rejection goes unhandled. Time is a fake clock: a call that
 * would hang is detected as still pending after the clock has moved on.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BlastwallError } from '../core/errors.js';
import { FakeClock } from '../core/fake-clock.js';
import { type Policy, pipeline } from '../core/policy.js';
import { FusedPipeline } from './fused.js'; // registers the fused pipeline with `pipeline`
import { cache } from './cache/index.js';
import { circuitBreaker } from './circuit-breaker/index.js';
import { bulkhead } from './concurrency/index.js';
import { fallback } from './fallback/index.js';
import { retry } from './retry/index.js';
import { throttle } from './throttle/index.js';
import { timeout } from './timeout/index.js';

type Settled = { status: 'fulfilled'; value: unknown } | { status: 'rejected'; error: unknown } | { status: 'pending' };

/** Runs `p` while the fake clock moves `ms`; says how it ended, or that it is still pending. */
async function settle(clock: FakeClock, p: Promise<unknown>, ms = 60_000): Promise<Settled> {
  let out: Settled = { status: 'pending' };
  p.then(
    (value) => (out = { status: 'fulfilled', value }),
    (error: unknown) => (out = { status: 'rejected', error }),
  );
  await clock.advance(ms);
  return out;
}

function expectCallbackFailed(s: Settled, callback: string, cause: unknown): BlastwallError {
  expect(s.status).toBe('rejected');
  const err = (s as { error: unknown }).error as BlastwallError;
  expect(err).toBeInstanceOf(BlastwallError);
  expect(err.code).toBe('CALLBACK_FAILED');
  expect(err.details?.callback).toBe(callback);
  expect(err.cause).toBe(cause);
  expect(err.retryable).toBe(false);
  return err;
}

const unhandled: unknown[] = [];
const onUnhandled = (e: unknown) => unhandled.push(e);
const warnings: string[] = [];
beforeEach(() => {
  unhandled.length = 0;
  warnings.length = 0;
  process.on('unhandledRejection', onUnhandled);
  // the warnings these broken callbacks cause are expected: kept here, not printed among the test output
  vi.spyOn(process, 'emitWarning').mockImplementation((w: string | Error) => void warnings.push(String(w)));
});
afterEach(async () => {
  await new Promise((r) => setImmediate(r));
  vi.restoreAllMocks();
  process.off('unhandledRejection', onUnhandled);
  expect(unhandled).toEqual([]);
});

const netError = () => Promise.reject(new TypeError('fetch failed'));
const bug = new TypeError("Cannot read properties of undefined (reading 'status')");
const throwsBug = () => {
  throw bug;
};

describe('a throwing breaker.isFailure', () => {
  // the repro: isFailure = e => e.response.status >= 500 meets a network error
  const stacks: [string, (clock: FakeClock) => { p: Policy; slots: () => number }][] = [
    [
      'fused pipeline(bulkhead, breaker, retry, timeout)',
      (clock) => {
        const bh = bulkhead({ limit: 1, clock });
        const p = pipeline(bh, circuitBreaker({ clock, isFailure: throwsBug }), retry({ clock, attempts: 2, backoff: 10 }), timeout('1s', { clock }));
        return { p, slots: () => bh.stats().active };
      },
    ],
    [
      'fused pipeline(bulkhead, breaker)',
      (clock) => {
        const bh = bulkhead({ limit: 1, clock });
        return { p: pipeline(bh, circuitBreaker({ clock, isFailure: throwsBug })), slots: () => bh.stats().active };
      },
    ],
    [
      'linked pipeline(bulkhead, fallback, breaker)',
      (clock) => {
        const bh = bulkhead({ limit: 1, clock });
        const p = pipeline(bh, fallback('fb', { clock, handles: (e) => !(e instanceof BlastwallError) }), circuitBreaker({ clock, isFailure: throwsBug }));
        return { p, slots: () => bh.stats().active };
      },
    ],
  ];

  it.each(stacks)('%s: the call settles with CALLBACK_FAILED and the slot comes back', async (_name, build) => {
    const clock = new FakeClock();
    const { p, slots } = build(clock);
    expect(p instanceof FusedPipeline).toBe(_name.startsWith('fused'));
    const s = await settle(clock, p.execute(netError));
    expectCallbackFailed(s, 'breaker.isFailure', bug);
    expect(slots()).toBe(0);
    // the next call is admitted (no BULKHEAD_FULL) and succeeds
    expect(await settle(clock, p.execute(() => 'ok'))).toEqual({ status: 'fulfilled', value: 'ok' });
  });

  it('counts as a failure, so a dependency failing this way still opens the breaker', async () => {
    const clock = new FakeClock();
    const b = circuitBreaker({ clock, isFailure: throwsBug, minimumCalls: 3, window: { calls: 3 } });
    for (let i = 0; i < 3; i++) await settle(clock, b.execute(netError), 1);
    expect(b.state).toBe('open');
  });
});

describe('breaker.halfOpenAfter as a schedule', () => {
  for (const [name, schedule] of [
    ['returns NaN', () => Number.NaN],
    ['returns a negative number', () => -5],
    ['throws', throwsBug],
  ] as const) {
    it(`${name}: the breaker still half-opens (after the default 5s) instead of staying open for ever`, async () => {
      const clock = new FakeClock();
      const b = circuitBreaker({ clock, halfOpenAfter: schedule, minimumCalls: 1, window: { calls: 1 } });
      const first = await settle(clock, b.execute(netError), 1);
      expect((first as { error: unknown }).error).toBeInstanceOf(TypeError); // the call's own error, untouched
      expect(b.state).toBe('open');
      await clock.advance(5000);
      expect(b.state).toBe('half-open');
      expect(await settle(clock, b.execute(() => 'probe'))).toEqual({ status: 'fulfilled', value: 'probe' });
      expect(b.state).toBe('closed');
    });
  }
});

describe('retry callbacks', () => {
  it('a throwing retryOn settles with CALLBACK_FAILED', async () => {
    const clock = new FakeClock();
    const s = await settle(clock, retry({ clock, retryOn: throwsBug, backoff: 10 }).execute(netError));
    expectCallbackFailed(s, 'retry.retryOn', bug);
  });

  it('a throwing retryOnResult settles with CALLBACK_FAILED, also behind a bulkhead (slot released)', async () => {
    const clock = new FakeClock();
    const bh = bulkhead({ limit: 1, clock });
    const p = pipeline(bh, retry({ clock, retryOnResult: throwsBug, backoff: 10 }), timeout('1s', { clock }));
    expectCallbackFailed(await settle(clock, p.execute(() => 'v')), 'retry.retryOnResult', bug);
    expect(bh.stats().active).toBe(0);
  });

  it('a throwing random (jitter source) settles with CALLBACK_FAILED; one answering NaN waits 0ms', async () => {
    const clock = new FakeClock();
    expectCallbackFailed(await settle(clock, retry({ clock, random: throwsBug }).execute(netError)), 'retry.random', bug);
    let n = 0;
    const nan = retry({ clock, random: () => Number.NaN, attempts: 3 });
    const s = await settle(
      clock,
      nan.execute(() => (++n < 3 ? netError() : 'third')),
      1,
    );
    expect(s).toEqual({ status: 'fulfilled', value: 'third' });
  });

  it('a backoff schedule function that throws settles with CALLBACK_FAILED', async () => {
    const clock = new FakeClock();
    expectCallbackFailed(await settle(clock, retry({ clock, backoff: () => throwsBug }).execute(netError)), 'retry.backoff', bug);
  });

  it('an onRetry listener that throws does not disturb the call', async () => {
    const clock = new FakeClock();
    const r = retry({ clock, backoff: 10 });
    r.onRetry(throwsBug);
    let n = 0;
    expect(await settle(clock, r.execute(() => (++n < 2 ? netError() : 'second')))).toEqual({ status: 'fulfilled', value: 'second' });
    await new Promise((res) => setImmediate(res));
    expect(warnings).toHaveLength(1); // reported once, as a process warning
    expect(warnings[0]).toMatch(/listener threw/);
  });
});

describe('fallback callbacks', () => {
  it('a throwing fallback function settles with CALLBACK_FAILED (the call error in details.error)', async () => {
    const clock = new FakeClock();
    const original = new Error('down');
    const s = await settle(clock, fallback(throwsBug, { clock }).execute(() => Promise.reject(original)));
    expect(expectCallbackFailed(s, 'fallback', bug).details?.error).toBe(original);
  });

  it('a rejecting async fallback function settles with CALLBACK_FAILED', async () => {
    const clock = new FakeClock();
    const s = await settle(clock, fallback(() => Promise.reject(bug), { clock }).execute(netError));
    expectCallbackFailed(s, 'fallback', bug);
  });

  it('a throwing handles settles with CALLBACK_FAILED', async () => {
    const clock = new FakeClock();
    expectCallbackFailed(await settle(clock, fallback('x', { clock, handles: throwsBug }).execute(netError)), 'fallback.handles', bug);
  });
});

describe('throttle callbacks', () => {
  it('a throwing isRejection settles with CALLBACK_FAILED', async () => {
    const clock = new FakeClock();
    expectCallbackFailed(await settle(clock, throttle({ clock, isRejection: throwsBug }).execute(netError)), 'throttle.isRejection', bug);
  });

  it('a throwing random settles with CALLBACK_FAILED (a rejected promise, not a synchronous throw)', async () => {
    const clock = new FakeClock();
    const t = throttle({ clock, random: throwsBug, k: 1 });
    for (let i = 0; i < 5; i++) await settle(clock, t.execute(netError), 1); // p > 0: random is consulted
    let p: Promise<unknown> | undefined;
    expect(() => (p = t.execute(() => 'ok'))).not.toThrow();
    expectCallbackFailed(await settle(clock, p!), 'throttle.random', bug);
  });
});

describe('cache callbacks and its shared store', () => {
  it('a throwing sizeOf fails the load with CALLBACK_FAILED; the next load is not stuck behind it', async () => {
    const clock = new FakeClock();
    const c = cache({ clock, stale: '1m', maxBytes: 1000, sizeOf: throwsBug });
    expectCallbackFailed(await settle(clock, c.get('k', () => Promise.resolve('v'))), 'cache.sizeOf', bug);
    expect(c.stats().entries).toBe(0);
  });

  it('a shared store whose get throws synchronously or answers garbage is a miss', async () => {
    const clock = new FakeClock();
    for (const get of [throwsBug, () => Promise.resolve({ storedAt: 'yesterday' }), () => Promise.resolve(null)]) {
      const c = cache({ clock, fresh: '1m', stale: '2m', shared: { get: get as never, set: throwsBug as never } });
      const s = await settle(clock, c.get('k', () => Promise.resolve('live')), 1);
      expect(s).toEqual({ status: 'fulfilled', value: { value: 'live', source: 'live', ageMs: 0, stale: false } });
    }
  });
});
