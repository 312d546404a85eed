/**
 * Issue 17, finding 6: clients never see internal error text. Every adapter answers errors with
 * problem+json (type, title, status, code, requestId) and a generic title; the detail goes to `onError`
 * (the log) with the same request id, the error keeping its `cause`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BlastwallError } from '../../src/core/errors.js';
import { FakeClock } from '../../src/core/fake-clock.js';
import { OVERLOADED_HEADER } from '../../src/http/headers.js';
import { createWall, type Wall } from '../../src/wall/wall.js';
import { ADAPTERS, type Route, type Served } from './harness.js';

const SECRET = 'postgres://app:hunter2@db.internal:5432/payments';

interface Logged {
  err: unknown;
  info: { requestId: string; status: number; code: string };
}

describe.each(ADAPTERS)('error answers on %s', (_name, adapter) => {
  let wall: Wall | undefined;
  let served: Served | undefined;
  afterEach(async () => {
    await served?.close();
    served?.guard.close();
    await wall?.close();
    served = undefined;
    wall = undefined;
  });

  async function start(): Promise<{ url: string; logged: Logged[] }> {
    wall = createWall({ service: 'problem', clock: new FakeClock() });
    const db = wall.dependency('db', { criticality: 'core', retry: { attempts: 1 } });
    const routes: Route[] = [
      {
        method: 'GET',
        path: '/dep',
        spec: { operation: 'dep', priority: 'critical' },
        fn: () => db.call(() => Promise.reject(new Error(`connect ECONNREFUSED ${SECRET}`))),
      },
      {
        method: 'GET',
        path: '/bug',
        spec: { operation: 'bug', priority: 'critical' },
        fn: () => {
          throw new TypeError(`cannot read 'rows' of undefined (${SECRET})`);
        },
      },
    ];
    const logged: Logged[] = [];
    served = await adapter(wall, routes, { admission: false, eventLoopDelay: false, onError: (err, info) => logged.push({ err, info }) });
    return { url: served.url, logged };
  }

  it('a failing dependency: 503 problem+json with a stable code, no wrapped text, the detail in the log', async () => {
    const { url, logged } = await start();
    const r = await fetch(`${url}/dep`);
    const text = await r.text();
    expect(r.status).toBe(503);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(text).not.toMatch(/hunter2|ECONNREFUSED|db\.internal/);
    const body = JSON.parse(text) as Record<string, unknown>;
    expect(body).toMatchObject({ type: 'urn:blastwall:error:dependency-failed', status: 503, code: 'DEPENDENCY_FAILED', title: 'A dependency failed' });
    expect(typeof body.requestId).toBe('string');
    // this layer already retried the dependency: the caller above must not retry (retries at one layer)
    expect(r.headers.get(OVERLOADED_HEADER)).toBe('1');
    expect(logged).toHaveLength(1);
    expect(logged[0]!.info.requestId).toBe(body.requestId);
    const err = logged[0]!.err as BlastwallError;
    expect(err).toBeInstanceOf(BlastwallError);
    expect(String((err.cause as Error).message)).toContain('hunter2');
  });

  it('a bug in the handler: 500 problem+json "Internal error", no message, no don\'t-retry header', async () => {
    const { url, logged } = await start();
    const r = await fetch(`${url}/bug`);
    const text = await r.text();
    expect(r.status).toBe(500);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(text).not.toMatch(/hunter2|rows|TypeError/);
    expect(JSON.parse(text)).toMatchObject({ type: 'urn:blastwall:error:internal', title: 'Internal error', status: 500, code: 'INTERNAL' });
    expect(r.headers.get(OVERLOADED_HEADER)).toBeNull();
    expect(logged.map((l) => (l.err as Error).message)).toEqual([expect.stringContaining('hunter2')]);
    // a caller's plain X-Request-Id is the id of the answer and of the report
    const traced = await fetch(`${url}/bug`, { headers: { 'x-request-id': 'req-42.a' } });
    expect(((await traced.json()) as { requestId: string }).requestId).toBe('req-42.a');
    expect(logged[1]!.info.requestId).toBe('req-42.a');
  });
});
