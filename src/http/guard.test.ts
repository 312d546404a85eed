import { describe, expect, it } from 'vitest';
import { BlastwallError } from '../core/errors.js';
import { FakeClock } from '../core/fake-clock.js';
import { createWall } from '../wall/wall.js';
import { HttpGuard } from './guard.js';
import { OVERLOADED_HEADER } from './headers.js';
import { errorResponse } from './problem.js';

const wallOf = () => createWall({ service: 'g', clock: new FakeClock() });

describe('HttpGuard configuration', () => {
  it('rejects unknown options, bad route keys and bad route specs at construction', async () => {
    const wall = wallOf();
    expect(() => new HttpGuard(wall, { nope: 1 } as never)).toThrow(/Unknown option `http.nope`/);
    expect(() => new HttpGuard(wall, { routes: 'GET /x' } as never)).toThrow(/http\.routes/);
    expect(() => new HttpGuard(wall, { routes: { 'get x': {} } })).toThrow(/routes\['get x'\]/);
    expect(() => new HttpGuard(wall, { routes: { 'GET /x': { priority: 'urgent' as never } } })).toThrow(/priority/);
    expect(() => new HttpGuard(wall, { routes: { 'GET /x': { deadline: 'soon' as never } } })).toThrow(/deadline/);
    expect(() => new HttpGuard(wall, { healthPath: 'healthz' })).toThrow(/healthPath/);
    expect(() => new HttpGuard(wall, { maxBodyBytes: -1 })).toThrow(/Expected `http.maxBodyBytes` to be an integer ≥ 0, got `-1`/);
    expect(() => new HttpGuard(wall, { bodyTimeout: 'soon' as never })).toThrow(/`http.bodyTimeout`/);
    expect(() => new HttpGuard(wall, { onError: 5 as never })).toThrow(/`http.onError` to be a function/);
    expect(() => new HttpGuard(wall, { routes: { 'POST /x': { maxBodyBytes: 1.5 } } })).toThrow(/routes\['POST \/x'\]\.maxBodyBytes/);
    await wall.close();
  });

  it('matches routes with parameters and declares one operation per route', async () => {
    const wall = wallOf();
    const g = new HttpGuard(wall, { admission: false, eventLoopDelay: false, routes: { 'GET /users/:id': { priority: 'critical' }, '/any': { operation: 'any' } } });
    expect(g.match('GET', '/users/42')?.key).toBe('GET /users/:id');
    expect(g.match('POST', '/users/42')).toBeUndefined();
    expect(g.match('GET', '/users/42/orders')).toBeUndefined();
    expect(g.match('DELETE', '/any')?.spec.operation).toBe('any');
    expect(wall.operations().map((o) => o.name).sort()).toEqual(['GET /users/:id', 'any', 'http']);
    const e = await g.enter({ method: 'GET', path: '/users/7', header: () => undefined });
    expect(e.kind).toBe('admit');
    if (e.kind === 'admit') {
      expect(e.admitted.operation.name).toBe('GET /users/:id');
      expect(e.admitted.priority).toBe('critical');
      expect(await e.admitted.run(() => 5)).toBe(5);
      await expect(e.admitted.run(() => 6)).rejects.toThrow(/twice/);
    }
    g.close();
    await wall.close();
  });
});

describe('errorResponse', () => {
  const quiet = { onError: () => undefined };
  it('maps codes to statuses and sets the don\'t-retry header for final answers only', () => {
    const shed = errorResponse(new BlastwallError('SHED', 'x', { retryAfterMs: 2500 }), quiet);
    expect([shed.status, shed.headers['retry-after'], shed.headers[OVERLOADED_HEADER]]).toEqual([503, '3', '1']);
    const late = errorResponse(new BlastwallError('DEADLINE_EXCEEDED', 'x'), quiet);
    expect([late.status, late.headers[OVERLOADED_HEADER]]).toEqual([504, '1']);
    // a retryable failure that did not come out of a dependency: callers may retry
    const plain = errorResponse(new BlastwallError('TIMEOUT', 'x'), quiet);
    expect([plain.status, plain.headers[OVERLOADED_HEADER]]).toEqual([504, undefined]);
    // out of a wall dependency: this layer already retried
    const dep = errorResponse(new BlastwallError('DEPENDENCY_FAILED', 'x', { dependency: 'db' }), quiet);
    expect([dep.status, dep.headers[OVERLOADED_HEADER]]).toEqual([503, '1']);
    const other = errorResponse(new Error('boom'), { ...quiet, requestId: 'r1' });
    expect([other.status, other.headers[OVERLOADED_HEADER], JSON.parse(other.body)]).toEqual([
      500,
      undefined,
      { type: 'urn:blastwall:error:internal', title: 'Internal error', status: 500, code: 'INTERNAL', requestId: 'r1' },
    ]);
    // a misconfiguration met while serving is the server's fault, not the client's
    expect(errorResponse(new BlastwallError('CONFIG_INVALID', 'Expected `x`…'), quiet).status).toBe(500);
    // a store that is down: 503, retryable (no don't-retry header)
    const store = errorResponse(new BlastwallError('STORE_UNAVAILABLE', 'x'), quiet);
    expect([store.status, store.headers[OVERLOADED_HEADER]]).toEqual([503, undefined]);
    // a framework's client error keeps its status; its text only when marked `expose` (http-errors)
    const parse = errorResponse(Object.assign(new SyntaxError('Unexpected token } in JSON'), { status: 400, expose: true }), quiet);
    expect([parse.status, JSON.parse(parse.body).code, JSON.parse(parse.body).detail]).toEqual([400, 'BAD_REQUEST', 'Unexpected token } in JSON']);
    const hidden = errorResponse(Object.assign(new Error('internal path /srv/app'), { statusCode: 404 }), quiet);
    expect([hidden.status, JSON.parse(hidden.body).detail]).toEqual([404, undefined]);
  });

  it('reports 5xx answers to onError with the request id, and survives a reporter that throws', () => {
    const seen: unknown[] = [];
    const r = errorResponse(new Error('db password rejected'), { requestId: 'abc', onError: (err, info) => seen.push([(err as Error).message, info.requestId, info.code]) });
    expect(r.body).not.toContain('password');
    expect(seen).toEqual([['db password rejected', 'abc', 'INTERNAL']]);
    const thrown = errorResponse(new Error('x'), {
      onError: () => {
        throw new Error('logger down');
      },
    });
    expect(thrown.status).toBe(500);
  });
});
