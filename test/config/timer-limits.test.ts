/**
 * Issue 17, finding 7: setTimeout fires any delay past 2^31−1 ms (about 24.8 days) after 1 ms. Options
 * that arm timers are bounded at declaration (CONFIG_INVALID naming the field), and the real clock re-arms a
 * longer timer (a far deadline) in steps instead of letting it fire at once. vitest's fake timers reproduce
 * Node's overflow, so these tests see the 1 ms firing that production would see, without sleeping.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BlastwallError, bulkhead, circuitBreaker, realClock, retry, timeout } from '../../src/index.js';
import { invokeUserFn, startCall } from '../../src/core/policy.js';
import { MAX_TIMER_MS } from '../../src/core/validate.js';

const DAY = 86_400_000;

function configErrorOf(build: () => unknown): BlastwallError {
  try {
    build();
  } catch (e) {
    expect(e).toBeInstanceOf(BlastwallError);
    expect((e as BlastwallError).code).toBe('CONFIG_INVALID');
    return e as BlastwallError;
  }
  throw new Error('expected CONFIG_INVALID, but it built');
}

describe('durations that arm a timer are bounded at 2^31−1 ms', () => {
  it.each([
    ['timeout', () => timeout('30d')],
    ['timeout', () => timeout(1e308)],
    ['concurrency.queueTimeout', () => bulkhead({ limit: 1, queueTimeout: '30d' })],
    ['retry.backoff.max', () => retry({ backoff: { max: '30d' } })],
    ['retry.backoff', () => retry({ backoff: '25d' })],
  ])('%s', (field, build) => {
    const e = configErrorOf(build);
    expect(e.message).toContain(`\`${field}\``);
    expect(e.message).toContain('2147483647ms');
  });

  it('accepts the limit itself, and durations that arm no timer may be longer', () => {
    expect(timeout(MAX_TIMER_MS).ms).toBe(MAX_TIMER_MS);
    expect(circuitBreaker({ halfOpenAfter: '30d' })).toBeDefined();
  });

  it('refuses durations that overflow to Infinity', () => {
    expect(configErrorOf(() => timeout(`${'9'.repeat(400)}d` as never)).message).toContain('`timeout`');
  });
});

describe('the real clock and timers past the limit', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a 30-day timer fires once, after 30 days, not after 1 ms', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    let fired = 0;
    realClock.setTimer(() => fired++, 30 * DAY);
    vi.advanceTimersByTime(1000);
    expect(fired).toBe(0);
    vi.advanceTimersByTime(30 * DAY - 1000 - 1);
    expect(fired).toBe(0);
    vi.advanceTimersByTime(1);
    expect(fired).toBe(1);
    vi.advanceTimersByTime(60 * DAY);
    expect(fired).toBe(1);
  });

  it('a long timer can be cleared and unref’d', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    let fired = 0;
    const h = realClock.setTimer(() => fired++, 40 * DAY);
    realClock.refTimer!(h, false);
    vi.advanceTimersByTime(30 * DAY);
    realClock.clearTimer(h);
    vi.advanceTimersByTime(30 * DAY);
    expect(fired).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a call queued for a bulkhead slot with a 30-day deadline waits for the slot, not 1 ms', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const bh = bulkhead({ limit: 1, queue: 1 });
    let release!: () => void;
    const holder = bh.execute(() => new Promise<void>((r) => (release = r)));
    const link = (ctx: Parameters<typeof invokeUserFn>[0]) => bh.run(ctx, invokeUserFn);
    let outcome = 'pending';
    const queued = startCall(realClock, link, () => 'ran', undefined, (ctx) => {
      ctx.deadline = realClock.now() + 30 * DAY;
    });
    queued.then(
      (v) => (outcome = String(v)),
      (e: unknown) => (outcome = (e as BlastwallError).code),
    );
    await vi.advanceTimersByTimeAsync(20);
    expect(outcome).toBe('pending');
    await vi.advanceTimersByTimeAsync(DAY);
    expect(outcome).toBe('pending');
    release();
    await holder;
    await vi.advanceTimersByTimeAsync(0);
    expect(outcome).toBe('ran');
  });
});
