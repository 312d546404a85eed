/**
 * Issue 20, must-show 4: with breakers off, retry amplification through a chain of three services stays
 * within the retry budget's own bound (≤ 1.1 attempts per organic request at 200 req/s, default ratio 0.1).
 *
 * Each service is a wall whose handler answers errors with the real `errorResponse` of blastwall/http and
 * calls the next service through the real `createFetch`: an error that came out of a wall dependency is
 * answered with the don't-retry header, so only the layer next to the failure retries (retries at one layer
 * only). The HTTP hop is in process (a `fetch` that calls the next service's handler), so the fake clock
 * drives every timer and the counts are exact (answers carry status and headers only: reading a body stream can
 * wait for a macrotask while the fake clock runs ahead).
 */
import { describe, expect, it } from 'vitest';
import { createWall, type Wall } from '../../src/index.js';
import { createFetch, errorResponse } from '../../src/http/index.js';
import { FakeClock } from '../../src/testing/index.js';

type Handler = (req: Request) => Promise<Response>;

/** A service: one operation calling one dependency (the next hop) through the wall, with retries and the default budget, breaker off. */
function service(walls: Wall[], clock: FakeClock, name: string, next: Handler | (() => Promise<Response>), counts: Record<string, number>): Handler {
  const wall = createWall({ service: name, clock, drift: false });
  walls.push(wall);
  const dep = wall.dependency(`${name}-next`, { timeout: '500ms', retry: { attempts: 3 }, breaker: false, concurrency: { limit: 10_000, queue: 0 } });
  const op = wall.operation('handle', { priority: 'critical', deadline: '5s' });
  const fetchNext = createFetch({ clock, fetch: (input, init) => (next as Handler)(new Request(input as string, init)) });
  return async () => {
    counts[name] = (counts[name] ?? 0) + 1;
    try {
      await op.run(() => dep.call(() => fetchNext('http://next.invalid/')));
      return new Response(null, { status: 204 });
    } catch (err) {
      // status and headers as blastwall/http answers them; no body, so no stream is read between fake-clock
      // steps (a body read can wait for a macrotask, and the clock would run ahead of it)
      const r = errorResponse(err);
      return new Response(null, { status: r.status, headers: r.headers });
    }
  };
}

describe('retry amplification through a chain of three services, breakers off (budget and the don’t-retry answer only)', () => {
  it('at 200 organic requests per second the failing dependency sees ≤ 1.1 attempts per request; the upper layers do not retry', async () => {
    const clock = new FakeClock();
    const walls: Wall[] = [];
    const counts: Record<string, number> = {};
    let db = 0;
    const failing: Handler = () => {
      db++;
      return Promise.resolve(new Response(null, { status: 500 })); // fails fast, retryable for the store
    };
    const store = service(walls, clock, 'store', failing, counts);
    const api = service(walls, clock, 'api', store, counts);
    const edge = service(walls, clock, 'edge', api, counts);
    const organic = 2000; // 10 s at 200 per second
    const pending: Promise<Response>[] = [];
    for (let i = 0; i < organic; i++) {
      pending.push(edge(new Request('http://edge.invalid/')));
      await clock.advance(5);
    }
    await clock.advance(10_000);
    const answers = await Promise.all(pending);
    expect(answers.every((r) => r.status >= 500)).toBe(true);
    // the layers above the failure each made one attempt per request: the don't-retry answer stopped them
    expect(counts).toEqual({ edge: organic, api: organic, store: organic });
    // the store retried within its budget: ≤ 10% more (+1 for the first window's floor running ahead)
    expect(db).toBeLessThanOrEqual(organic * 1.1 + 1);
    expect(db).toBeGreaterThan(organic * 1.05); // retries did happen (the budget is used, not bypassed)
    expect(answers[0]!.headers.get('blastwall-overloaded')).toBe('1'); // what told the edge's caller not to retry
    await Promise.all(walls.map((w) => w.close()));
  });
});
