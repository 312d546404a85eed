import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BlastwallError } from '../core/errors.js';
import { FakeClock } from '../core/fake-clock.js';
import { createWall, type Wall } from '../wall/wall.js';
import { createFetch } from './fetch.js';
import { DEADLINE_HEADER, OVERLOADED_HEADER, PRIORITY_HEADER, parseDeadlineHeader } from './headers.js';

let server: Server | undefined;
let wall: Wall | undefined;
afterEach(async () => {
  await wall?.close();
  wall = undefined;
  if (server !== undefined) {
    const s = server;
    server = undefined;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

/** A server answering every request with `answer`, recording the requests it saw. */
async function upstream(answer: (req: IncomingMessage) => { status: number; headers?: Record<string, string> }) {
  const seen: IncomingMessage[] = [];
  server = createServer((req, res) => {
    seen.push(req);
    const a = answer(req);
    res.writeHead(a.status, a.headers ?? {}).end('x');
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, seen };
}

describe('deadline header parsing', () => {
  it('accepts plain non-negative milliseconds and refuses anything else', () => {
    expect(parseDeadlineHeader(undefined)).toBeUndefined();
    expect(parseDeadlineHeader('250')).toBe(250);
    expect(parseDeadlineHeader(' 12.5 ')).toBe(12.5);
    expect(parseDeadlineHeader('0')).toBe(0);
    for (const bad of ['-1', '1e3', 'abc', '', '99999999999', 'Infinity', 'NaN']) expect(parseDeadlineHeader(bad)).toBeNull();
    expect(parseDeadlineHeader(['5', '6'])).toBeNull();
  });
});

describe('blastwall fetch', () => {
  it('sends the remaining deadline and the priority of the current operation', async () => {
    const up = await upstream(() => ({ status: 200 }));
    const clock = new FakeClock();
    wall = createWall({ service: 'f', clock });
    const op = wall.operation('checkout', { priority: 'critical', deadline: '2s' });
    const f = createFetch({ clock });
    await op.run(async () => {
      await clock.advance(500);
      const r = await f(up.url);
      await r.text();
    });
    expect(up.seen[0]!.headers[DEADLINE_HEADER]).toBe('1500');
    expect(up.seen[0]!.headers[PRIORITY_HEADER]).toBe('critical');
    // outside an operation: no deadline header
    await (await f(up.url)).text();
    expect(up.seen[1]!.headers[DEADLINE_HEADER]).toBeUndefined();
  });

  it('does not send a request when no time is left', async () => {
    const up = await upstream(() => ({ status: 200 }));
    const clock = new FakeClock();
    wall = createWall({ service: 'f', clock });
    const op = wall.operation('late', { deadline: '100ms' });
    const f = createFetch({ clock });
    const err = await op
      .run(async () => {
        await clock.advance(100);
        return f(up.url);
      })
      .catch((e: unknown) => e);
    expect((err as BlastwallError).code).toBe('DEADLINE_EXCEEDED');
    expect(up.seen).toHaveLength(0);
  });

  it('turns an overloaded answer into a non-retryable error: the retry policy above makes one attempt', async () => {
    const up = await upstream(() => ({ status: 503, headers: { [OVERLOADED_HEADER]: '1', 'retry-after': '2' } }));
    wall = createWall({ service: 'f' });
    const dep = wall.dependency('up', { retry: { attempts: 3, backoff: { kind: 'constant', base: 0 } }, breaker: false });
    const f = createFetch();
    const err = await dep.call(() => f(up.url)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BlastwallError);
    expect((err as BlastwallError).retryable).toBe(false);
    expect((err as BlastwallError).retryAfterMs).toBe(2000);
    expect(up.seen).toHaveLength(1);
  });

  it('leaves a plain 5xx retryable, so the same retry policy tries again', async () => {
    const up = await upstream(() => ({ status: 503 }));
    wall = createWall({ service: 'f' });
    const dep = wall.dependency('up', { retry: { attempts: 3, backoff: { kind: 'constant', base: 0 }, budget: false }, breaker: false });
    const f = createFetch();
    const err = await dep.call(() => f(up.url)).catch((e: unknown) => e);
    expect((err as BlastwallError).code).toBe('DEPENDENCY_FAILED');
    expect(up.seen).toHaveLength(3);
  });

  it('rejects unknown options at construction', () => {
    expect(() => createFetch({ retries: 2 } as never)).toThrow(/fetch/);
  });
});
