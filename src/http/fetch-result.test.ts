/**
 * Issue 17, finding 12 (the `createFetch` half): answers that are failures — 5xx and 429 — throw a retryable
 * `DEPENDENCY_FAILED` carrying the status and the `Retry-After` hint; other answers (4xx included) are
 * returned as they are. A retry policy above waits at least the hinted time.
 */
import { describe, expect, it } from 'vitest';
import { BlastwallError } from '../core/errors.js';
import { FakeClock } from '../core/fake-clock.js';
import { failingResponse, parseRetryAfter } from '../core/result.js';
import { retry } from '../policies/retry/index.js';
import { createFetch } from './fetch.js';

function answering(...answers: (() => Response)[]) {
  const calls: number[] = [];
  let i = 0;
  return {
    calls,
    fetch: ((..._args: unknown[]) => {
      calls.push(i);
      const a = answers[Math.min(i++, answers.length - 1)]!;
      return Promise.resolve(a());
    }) as typeof fetch,
  };
}

const status = (s: number, headers: Record<string, string> = {}) => () => new Response(s === 204 ? null : 'body', { status: s, headers });

describe('Retry-After parsing', () => {
  const now = Date.parse('Sun, 29 Nov 2026 12:00:00 GMT');
  it.each([
    ['3', 3000],
    [' 0 ', 0],
    ['Sun, 29 Nov 2026 12:00:05 GMT', 5000],
    ['Sun, 29 Nov 2026 11:00:00 GMT', 0],
    ['99999999999', 2 ** 31 - 1],
  ])('%s → %s ms', (value, ms) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });
  it.each(['', '-1', '1.5', 'soon', '3s', 'Tomorrow'])('%s is malformed', (value) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });
});

describe('the default result classifier', () => {
  it('fails 5xx and 429 responses and nothing else', () => {
    for (const s of [500, 502, 503, 504, 599, 429]) expect(failingResponse(new Response(null, { status: s }))).toBe(true);
    for (const s of [200, 201, 204, 301, 400, 401, 403, 404, 409, 422]) expect(failingResponse(new Response(null, { status: s }))).toBe(false);
    expect(failingResponse({ status: 503, headers: new Map() })).toBe(false); // not a Response
    expect(failingResponse(503)).toBe(false);
  });
});

describe('createFetch and failing answers', () => {
  it('throws a retryable DEPENDENCY_FAILED with the status for a 503, and cancels its body', async () => {
    let cancelled = false;
    const body = new ReadableStream({ pull: (c) => c.enqueue(new TextEncoder().encode('busy')), cancel: () => void (cancelled = true) });
    const res = new Response(body, { status: 503 });
    const f = createFetch({ fetch: (() => Promise.resolve(res)) as typeof fetch, clock: new FakeClock() });
    const err = (await f('http://127.0.0.1/x').catch((e: unknown) => e)) as BlastwallError;
    expect(err).toBeInstanceOf(BlastwallError);
    expect(err.code).toBe('DEPENDENCY_FAILED');
    expect(err.retryable).toBe(true);
    expect(err.details?.status).toBe(503);
    await Promise.resolve();
    expect(cancelled).toBe(true);
  });

  it('throws for a 429 with its Retry-After (seconds or an HTTP date) as retryAfterMs', async () => {
    const clock = new FakeClock(Date.parse('Sun, 29 Nov 2026 12:00:00 GMT'));
    const secs = createFetch({ fetch: answering(status(429, { 'retry-after': '7' })).fetch, clock });
    expect(((await secs('http://127.0.0.1/').catch((e: unknown) => e)) as BlastwallError).retryAfterMs).toBe(7000);
    const date = createFetch({ fetch: answering(status(503, { 'retry-after': 'Sun, 29 Nov 2026 12:00:02 GMT' })).fetch, clock });
    expect(((await date('http://127.0.0.1/').catch((e: unknown) => e)) as BlastwallError).retryAfterMs).toBe(2000);
  });

  it('returns 4xx other than 429 as they are (the dependency works; the request was refused)', async () => {
    for (const s of [400, 401, 404, 409]) {
      const f = createFetch({ fetch: answering(status(s)).fetch, clock: new FakeClock() });
      expect((await f('http://127.0.0.1/')).status).toBe(s);
    }
  });

  it('a retry policy above waits at least Retry-After before the next attempt', async () => {
    const clock = new FakeClock();
    const up = answering(status(429, { 'retry-after': '2' }), status(200));
    const f = createFetch({ fetch: up.fetch, clock });
    const started: number[] = [];
    const r = retry({ clock, attempts: 3, backoff: 10, budget: false });
    const p = r.execute(() => {
      started.push(clock.now());
      return f('http://127.0.0.1/');
    });
    await clock.advance(1999);
    expect(started).toHaveLength(1);
    await clock.advance(1);
    expect(((await p) as Response).status).toBe(200);
    expect(started[1]! - started[0]!).toBe(2000);
  });

  it('failOnResult: false returns every answer; a custom one decides (and a throwing one is CALLBACK_FAILED)', async () => {
    const off = createFetch({ fetch: answering(status(503)).fetch, failOnResult: false });
    expect((await off('http://127.0.0.1/')).status).toBe(503);
    const strict = createFetch({ fetch: answering(status(404)).fetch, failOnResult: (res) => res.status >= 400 });
    expect(((await strict('http://127.0.0.1/').catch((e: unknown) => e)) as BlastwallError).details?.status).toBe(404);
    const broken = createFetch({
      fetch: answering(status(200)).fetch,
      failOnResult: () => {
        throw new Error('bug');
      },
    });
    expect(((await broken('http://127.0.0.1/').catch((e: unknown) => e)) as BlastwallError).code).toBe('CALLBACK_FAILED');
    expect(() => createFetch({ failOnResult: 'yes' as never })).toThrow(/`fetch.failOnResult`/);
  });
});
