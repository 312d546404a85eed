/**
 * The body is received before admission on every adapter, and handed on intact: handlers, express.text()
 * and Fastify's parser read the same bytes the client sent, empty and chunked bodies included; a body over
 * `maxBodyBytes` is a 413 problem with `Connection: close` that the client reads (not a reset).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/core/fake-clock.js';
import { createWall, type Wall } from '../../src/wall/wall.js';
import { ADAPTERS, type Route, type Served } from './harness.js';

const chunked = (parts: string[]): ReadableStream<Uint8Array> =>
  new ReadableStream({
    start(c) {
      for (const p of parts) c.enqueue(new TextEncoder().encode(p));
      c.close();
    },
  });

describe.each(ADAPTERS)('request bodies on %s', (_name, adapter) => {
  let wall: Wall | undefined;
  let served: Served | undefined;
  afterEach(async () => {
    await served?.close();
    served?.guard.close();
    await wall?.close();
    served = undefined;
    wall = undefined;
  });

  async function start(): Promise<string> {
    wall = createWall({ service: 'bodies', clock: new FakeClock() });
    const routes: Route[] = [{ method: 'POST', path: '/echo', spec: { operation: 'echo', priority: 'critical' }, fn: (body) => ({ length: body.length, head: body.slice(0, 8), tail: body.slice(-8) }) }];
    served = await adapter(wall, routes, { admission: { limit: 2, queue: 0 }, eventLoopDelay: false, maxBodyBytes: 512 * 1024 });
    return served.url;
  }

  it('hands the whole body to the handler: large, empty and chunked', async () => {
    const url = await start();
    const big = `<${'a'.repeat(300_000)}>`;
    const cases: [RequestInit, { length: number; head: string; tail: string }][] = [
      [{ body: big }, { length: big.length, head: big.slice(0, 8), tail: big.slice(-8) }],
      [{ body: '' }, { length: 0, head: '', tail: '' }],
      [{ body: chunked(['abc', 'def']), duplex: 'half' } as RequestInit, { length: 6, head: 'abcdef', tail: 'abcdef' }],
      [{ body: chunked([]), duplex: 'half' } as RequestInit, { length: 0, head: '', tail: '' }],
    ];
    for (const [init, expected] of cases) {
      const r = await fetch(`${url}/echo`, { method: 'POST', headers: { 'content-type': 'text/plain' }, ...init });
      expect(r.status).toBe(200);
      expect(await r.json()).toEqual(expected);
    }
    expect(served!.guard.admission!.snapshot().inflight).toBe(0);
  });

  it('answers a body over maxBodyBytes with a 413 problem the client reads, without taking a slot', async () => {
    const url = await start();
    for (const body of [Buffer.alloc(4 * 1024 * 1024, 0x61), chunked(['x'.repeat(400_000), 'y'.repeat(400_000)])]) {
      const r = await fetch(`${url}/echo`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body, duplex: 'half' } as RequestInit);
      expect(r.status).toBe(413);
      expect(r.headers.get('connection')).toBe('close');
      expect(await r.json()).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', status: 413, type: 'urn:blastwall:error:payload-too-large' });
    }
    expect(served!.guard.admission!.snapshot().inflight).toBe(0);
  });
});
