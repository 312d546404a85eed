/**
 * node:http adapter and the admission queue: a request whose client left while it waited for admission
 * does not run its handler (its work would be thrown away) and gives its slot back.
 */
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { nodeHandler } from '../../src/http/node.js';
import { createWall } from '../../src/wall/wall.js';
import { untilTurns } from '../support/turns.js';

describe('node adapter: a queued request whose client left', () => {
  it('does not run its handler, and frees its admission slot', async () => {
    const wall = createWall({ service: 'gone' });
    const ran: string[] = [];
    let releaseFirst!: () => void;
    const held = new Promise<void>((r) => (releaseFirst = r));
    const listener = nodeHandler(
      wall,
      async (req, res) => {
        ran.push(req.url ?? '');
        if (req.url === '/first') await held;
        res.end('ok');
      },
      { eventLoopDelay: false, admission: { limit: 1 }, routes: { 'GET /first': { priority: 'critical' }, 'GET /second': { priority: 'critical' } } },
    );
    const server = createServer(listener);
    let closed = 0;
    server.on('connection', (s) => s.on('close', () => closed++));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const get = (path: string) => {
      const req = request({ host: '127.0.0.1', port, path, agent: false });
      const done = new Promise<number | 'error'>((resolve) => {
        req.on('response', (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', () => resolve('error'));
      });
      req.end();
      return { req, done };
    };
    const admission = listener.guard.admission!;
    const first = get('/first');
    await untilTurns(() => ran.length === 1, 'the first handler runs and holds the only slot');
    const second = get('/second');
    await untilTurns(() => admission.snapshot().queued === 1, 'the second request waits for the slot');
    second.req.destroy();
    expect(await second.done).toBe('error');
    await untilTurns(() => closed === 1, 'the server sees the second client leave');
    releaseFirst();
    expect(await first.done).toBe(200);
    await untilTurns(() => admission.snapshot().inflight === 0 && admission.snapshot().queued === 0, 'every slot given back');
    expect(ran).toEqual(['/first']);
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    listener.guard.close();
    await wall.close();
  });
});
