/**
 * A drill against a running service by URL (127.0.0.1): the load over HTTP, the faults through the service's
 * admin route with its bearer token, health polled from its health path. Real sockets, so the real clock
 * (about 3 s).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { createWall, sleep, realClock, type Wall } from '../../src/index.js';
import { defineDrill, fault, faultsHandler, operation, runDrill, status } from '../../src/testing/index.js';

const TOKEN = 'url-drill-token-0123456789';
let server: Server;
let wall: Wall;
let url = '';

afterAll(async () => {
  await new Promise((r) => server.close(r));
  await wall.close();
});

async function start(): Promise<void> {
  wall = createWall({ service: 'url-app', faults: true, healthInterval: '100ms', drift: false });
  const payments = wall.dependency('payments', { timeout: '100ms', retry: false, breaker: false, health: { window: '1s', minimumCalls: 3, minDwellMs: 0 } });
  const faults = faultsHandler(wall, { token: TOKEN });
  server = createServer((req, res) => {
    if (faults(req, res)) return;
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(wall.health()));
      return;
    }
    if (req.url === '/pay') {
      payments.call((ctx) => sleep(realClock, 2, ctx.signal)).then(
        () => {
          res.writeHead(200);
          res.end('ok');
        },
        () => {
          res.writeHead(503);
          res.end('payments failed');
        },
      );
      return;
    }
    res.writeHead(200);
    res.end('page');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('a drill against a URL', () => {
  it('sends the load over HTTP, injects through the admin route, reads health from the health path', async () => {
    await start();
    const drill = defineDrill({
      name: 'url payments down',
      target: { url, token: TOKEN, operations: { pay: { method: 'POST', path: '/pay' }, page: { path: '/' } } },
      load: { duration: '3s', warmup: '200ms', operations: { pay: { rate: 20 }, page: { rate: 10 } } },
      faults: [{ dependency: 'payments', fault: fault.error('boom'), at: '1s', for: '1s' }],
      invariants: [
        operation('page').successRate.atLeast(0.99),
        operation('pay').during('faults').successRate.atMost(0.2),
        operation('pay').successRate.atLeast(0.5),
        // health is judged every 100 ms over a 1 s window: on a loaded machine the judgement can land just past 1 s
        status.reaches('unavailable', { within: '2s' }),
      ],
    });
    const r = await runDrill(drill);
    r.timeline.close();
    const by = Object.fromEntries(r.invariants.map((i) => [i.name, i]));
    expect(r.invariants.filter((i) => !i.pass).map((i) => `${i.name}: ${i.observed}`)).toEqual([]);
    expect(by["operation('pay').during('faults').successRate <= 0.200"]!.observed).toMatch(/failed: HTTP_503×\d+/);
    expect(wall.faults.active()).toEqual([]); // the runner cleared what it injected
  }, 30_000);

  it('refuses a target whose admin route does not answer to the token, before any load', async () => {
    const drill = defineDrill({
      name: 'url wrong token',
      target: { url, token: 'not-the-token-0123456789', operations: { page: { path: '/' } } },
      load: { duration: '1s', operations: { page: { rate: 10 } } },
      faults: [],
      invariants: [operation('page').successRate.atLeast(0.99)],
    });
    await expect(runDrill(drill)).rejects.toThrow(/fault admin route .* answered 401: is it enabled \(faults on\) and is the token right\?/);
  });
});
