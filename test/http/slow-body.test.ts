/**
 * Issue 17, finding 4: slow request bodies must not hold admission. 24 connections trickle a body one byte
 * at a time over real sockets on 127.0.0.1 while critical requests keep being admitted and answered; when
 * the route's deadline (on the wall's fake clock) passes, each slow upload is answered 408 and closed.
 */
import { untilTurns } from '../support/turns.js';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/core/fake-clock.js';
import { createWall, type Wall } from '../../src/wall/wall.js';
import { ADAPTERS, type Route, type Served } from './harness.js';

const SLOW = 24;
const LIMIT = 4;

interface Trickler {
  socket: Socket;
  received: string;
  closed: Promise<void>;
}

/** Opens a connection that sends a request head and then one body byte per tick, never finishing. */
function slowUpload(port: number): Trickler {
  const socket = connect(port, '127.0.0.1');
  const t: Trickler = { socket, received: '', closed: new Promise((resolve) => socket.once('close', () => resolve())) };
  socket.on('data', (d: Buffer) => (t.received += d.toString('latin1')));
  socket.on('error', () => undefined);
  socket.write('POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 10000\r\n\r\n');
  return t;
}

const until = (cond: () => boolean, what: string): Promise<void> => untilTurns(cond, what);

describe.each(ADAPTERS)('slow request bodies on %s', (_name, adapter) => {
  let wall: Wall | undefined;
  let served: Served | undefined;
  let ticker: ReturnType<typeof setInterval> | undefined;
  const slow: Trickler[] = [];

  afterEach(async () => {
    clearInterval(ticker);
    for (const t of slow.splice(0)) t.socket.destroy();
    await served?.close();
    served?.guard.close();
    await wall?.close();
    served = undefined;
    wall = undefined;
  });

  it('do not hold admission slots: critical requests are admitted while 24 uploads trickle, and the uploads get 408 at the deadline', async () => {
    const clock = new FakeClock();
    wall = createWall({ service: 'slow-body', clock });
    let uploads = 0;
    const routes: Route[] = [
      { method: 'POST', path: '/upload', spec: { operation: 'upload', priority: 'critical', deadline: '2s' }, fn: () => ++uploads },
      { method: 'GET', path: '/critical', spec: { operation: 'critical', priority: 'critical' }, fn: () => ({ ok: true }) },
    ];
    served = await adapter(wall, routes, { admission: { limit: LIMIT, queue: 0, clock }, eventLoopDelay: false });
    let requests = 0;
    served.server.on('request', () => requests++);
    for (let i = 0; i < SLOW; i++) slow.push(slowUpload(served.port));
    await until(() => requests >= SLOW, 'every slow upload to reach the server');
    // one byte per connection every 10 ms of real time, at most 200 bytes each (bounded)
    let ticks = 0;
    ticker = setInterval(() => {
      if (++ticks > 200) return clearInterval(ticker);
      for (const t of slow) if (!t.socket.destroyed) t.socket.write('x');
    }, 10);
    await until(() => ticks >= 5, 'a few bytes to trickle');

    for (let i = 0; i < 8; i++) {
      const r = await fetch(`${served.url}/critical`);
      expect(r.status).toBe(200);
      expect(await r.json()).toEqual({ ok: true });
    }
    const burst = await Promise.all(Array.from({ length: LIMIT }, () => fetch(`${served!.url}/critical`)));
    expect(burst.map((r) => r.status)).toEqual(Array(LIMIT).fill(200));
    await Promise.all(burst.map((r) => r.text()));
    expect(served.guard.admission!.snapshot().inflight).toBe(0);
    expect(slow.every((t) => t.received === '')).toBe(true);

    // the route deadline (2 s on the wall's clock) bounds how long a body may take
    await clock.advance(2_000);
    await Promise.all(slow.map((t) => t.closed));
    for (const t of slow) expect(t.received).toMatch(/^HTTP\/1\.1 408 /);
    expect(uploads).toBe(0);
    expect(served.guard.admission!.snapshot().inflight).toBe(0);
  }, 20_000);
});
