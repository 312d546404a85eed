import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { realClock } from '../core/clock.js';
import { BlastwallError } from '../core/errors.js';
import { currentOperation } from '../wall/context.js';
import { createWall, type Wall } from '../wall/wall.js';
import { expressErrorHandler, expressMiddleware } from './express.js';
import { installFastify } from './fastify.js';
import { type HttpGuard, type HttpGuardOptions } from './guard.js';
import { DEADLINE_HEADER, OVERLOADED_HEADER, PRIORITY_HEADER } from './headers.js';
import { honoMiddleware } from './hono.js';
import { nodeHandler } from './node.js';

interface Harness {
  url: string;
  guard: HttpGuard;
  /** How many times a handler actually started. */
  started: () => number;
  /** Lets every held `/slow` request finish. */
  releaseSlow: () => void;
  /** Resolves once `n` requests are being held in `/slow`. */
  slowHeld: (n: number) => Promise<void>;
  close: () => Promise<void>;
}

const OPTIONS: HttpGuardOptions = {
  admission: { limit: 1, queue: 0 },
  eventLoopDelay: false,
  routes: {
    'GET /slow': { operation: 'slow', priority: 'critical' },
    'GET /echo/:id': { operation: 'echo', priority: 'sheddable', deadline: '5s' },
    'GET /fail': { operation: 'fail', priority: 'critical' },
  },
};

/** What the handlers share in every framework. */
function handlers() {
  let count = 0;
  let release!: () => void;
  let gate = new Promise<void>((r) => (release = r));
  let held = 0;
  const waiters: { n: number; resolve: () => void }[] = [];
  return {
    started: () => count,
    releaseSlow: () => release(),
    slowHeld: (n: number) => new Promise<void>((resolve) => (held >= n ? resolve() : waiters.push({ n, resolve }))),
    async slow(): Promise<string> {
      count++;
      held++;
      for (const w of waiters.filter((x) => held >= x.n)) w.resolve();
      await gate;
      gate = new Promise<void>((r) => (release = r));
      return 'done';
    },
    echo(): Record<string, unknown> {
      count++;
      const op = currentOperation();
      return { operation: op?.operation, priority: op?.priority, remaining: op === undefined ? null : op.deadline - realClock.now() };
    },
    fail(): never {
      count++;
      throw new BlastwallError('RETRY_BUDGET_EXHAUSTED', 'downstream budget gone');
    },
  };
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}
function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

async function nodeHarness(wall: Wall): Promise<Harness> {
  const h = handlers();
  const listener = nodeHandler(
    wall,
    async (req, res) => {
      const path = (req.url ?? '/').split('?')[0]!;
      let body: unknown;
      if (path === '/slow') body = await h.slow();
      else if (path.startsWith('/echo/')) body = h.echo();
      else if (path === '/fail') body = h.fail();
      else {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    },
    OPTIONS,
  );
  const server = createServer(listener);
  const url = await listen(server);
  return { url, guard: listener.guard, started: h.started, releaseSlow: h.releaseSlow, slowHeld: h.slowHeld, close: () => closeServer(server) };
}

async function expressHarness(wall: Wall): Promise<Harness> {
  const h = handlers();
  const app = express();
  const mw = expressMiddleware(wall, OPTIONS);
  app.use(mw);
  app.get('/slow', async (_req, res) => {
    res.json(await h.slow());
  });
  app.get('/echo/:id', (_req, res) => {
    res.json(h.echo());
  });
  app.get('/fail', () => h.fail());
  app.use(expressErrorHandler());
  const server = createServer(app);
  const url = await listen(server);
  return { url, guard: mw.guard, started: h.started, releaseSlow: h.releaseSlow, slowHeld: h.slowHeld, close: () => closeServer(server) };
}

async function fastifyHarness(wall: Wall): Promise<Harness> {
  const h = handlers();
  const app = Fastify();
  // the guard has no `routes` here: the operations come from each route's own config
  const { routes: _routes, ...rest } = OPTIONS;
  const guard = installFastify(app, wall, rest);
  app.get('/slow', { config: { blastwall: { operation: 'slow', priority: 'critical' } } }, async () => h.slow());
  app.get('/echo/:id', { config: { blastwall: { operation: 'echo', priority: 'sheddable', deadline: '5s' } } }, async () => h.echo());
  app.get('/fail', { config: { blastwall: { operation: 'fail', priority: 'critical' } } }, async () => h.fail());
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    guard,
    started: h.started,
    releaseSlow: h.releaseSlow,
    slowHeld: h.slowHeld,
    close: async () => {
      app.server.closeAllConnections();
      await app.close();
    },
  };
}

async function honoHarness(wall: Wall): Promise<Harness> {
  const h = handlers();
  const app = new Hono();
  // Hono logs a handler's error with console.error before blastwall answers it; the tests read errors from the answer
  app.onError((_err, c) => c.text('', 500));
  const mw = honoMiddleware(wall, OPTIONS);
  app.use('*', mw);
  app.get('/slow', async (c) => c.json(await h.slow()));
  app.get('/echo/:id', (c) => c.json(h.echo()));
  app.get('/fail', () => h.fail());
  const server = await new Promise<Server>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s as Server));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, guard: mw.guard, started: h.started, releaseSlow: h.releaseSlow, slowHeld: h.slowHeld, close: () => closeServer(server) };
}

const FRAMEWORKS: [string, (wall: Wall) => Promise<Harness>][] = [
  ['node:http', nodeHarness],
  ['express', expressHarness],
  ['fastify', fastifyHarness],
  ['hono', honoHarness],
];

describe.each(FRAMEWORKS)('%s adapter', (_name, make) => {
  let wall: Wall | undefined;
  let harness: Harness | undefined;
  afterEach(async () => {
    harness?.releaseSlow();
    await harness?.close();
    harness?.guard.close();
    await wall?.close();
    harness = undefined;
    wall = undefined;
  });

  async function start(): Promise<Harness> {
    wall = createWall({ service: 'http-test', telemetry: { prometheus: true } });
    harness = await make(wall);
    return harness;
  }

  it('answers /healthz with the wall health and /metrics with Prometheus text', async () => {
    const h = await start();
    const health = await fetch(`${h.url}/healthz`);
    expect(health.status).toBe(200);
    const body = (await health.json()) as { service: string; status: string; admission: { limit: number } };
    expect(body.service).toBe('http-test');
    expect(body.status).toBe('ok');
    expect(body.admission.limit).toBe(1);
    const metrics = await fetch(`${h.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(await metrics.text()).toMatch(/^# (HELP|TYPE) blastwall_/m);
    expect(h.started()).toBe(0);
  });

  it('answers /healthz with 503 when the service is unavailable', async () => {
    const h = await start();
    vi.spyOn(wall!, 'health').mockReturnValue({ service: 'http-test', status: 'unavailable', mode: 'normal', at: 0, dependencies: {} } as unknown as ReturnType<Wall['health']>);
    const health = await fetch(`${h.url}/healthz`);
    expect(health.status).toBe(503);
    expect(((await health.json()) as { status: string }).status).toBe('unavailable');
  });

  it('runs the route as its operation, with the caller deadline capping the route deadline', async () => {
    const h = await start();
    const r = await fetch(`${h.url}/echo/7`, { headers: { [DEADLINE_HEADER]: '800' } });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { operation: string; priority: string; remaining: number };
    expect(body.operation).toBe('echo');
    expect(body.remaining).toBeGreaterThan(0);
    expect(body.remaining).toBeLessThanOrEqual(800);
    // without the header, the route's own 5s deadline applies
    const r2 = (await (await fetch(`${h.url}/echo/8`)).json()) as { remaining: number };
    expect(r2.remaining).toBeGreaterThan(800);
    expect(r2.remaining).toBeLessThanOrEqual(5000);
  });

  it('does not start work whose deadline is gone, and rejects a malformed deadline header', async () => {
    const h = await start();
    const gone = await fetch(`${h.url}/echo/1`, { headers: { [DEADLINE_HEADER]: '0' } });
    expect(gone.status).toBe(504);
    expect(gone.headers.get(OVERLOADED_HEADER)).toBe('1');
    await gone.text();
    const bad = await fetch(`${h.url}/echo/1`, { headers: { [DEADLINE_HEADER]: '-5' } });
    expect(bad.status).toBe(400);
    await bad.text();
    expect(h.started()).toBe(0);
  });

  it('sheds at once with 503, Retry-After and the don\'t-retry header when over the limit', async () => {
    const h = await start();
    const slow = fetch(`${h.url}/slow`);
    await h.slowHeld(1);
    const t0 = Date.now();
    const shed = await fetch(`${h.url}/echo/1`);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(shed.status).toBe(503);
    expect(shed.headers.get('retry-after')).toBe('1');
    expect(shed.headers.get(OVERLOADED_HEADER)).toBe('1');
    expect(shed.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(((await shed.json()) as { code: string }).code).toBe('SHED');
    h.releaseSlow();
    expect((await slow).status).toBe(200);
    // the slot is free again
    const ok = await fetch(`${h.url}/echo/2`);
    expect(ok.status).toBe(200);
    await ok.text();
    expect(h.started()).toBe(2);
  });

  it('answers a non-retryable error from the handler with 503 and the don\'t-retry header', async () => {
    const h = await start();
    const r = await fetch(`${h.url}/fail`);
    expect(r.status).toBe(503);
    expect(r.headers.get(OVERLOADED_HEADER)).toBe('1');
    expect(((await r.json()) as { code: string }).code).toBe('RETRY_BUDGET_EXHAUSTED');
  });
});

describe('priority header', () => {
  it('is ignored unless trusted, and then decides the admission class', async () => {
    for (const trust of [false, true]) {
      const wall = createWall({ service: 'prio' });
      const seen: string[] = [];
      const listener = nodeHandler(
        wall,
        (_req, res) => {
          res.end();
        },
        { eventLoopDelay: false, trustPriorityHeader: trust, admission: { limit: 5 } },
      );
      const admit = vi.spyOn(listener.guard.admission!, 'admitNow');
      const server = createServer(listener);
      const url = await listen(server);
      const r = await fetch(url + '/x', { headers: { [PRIORITY_HEADER]: 'critical-plus' } });
      await r.text();
      seen.push(...admit.mock.calls.map((c) => c[0]));
      const bad = await fetch(url + '/x', { headers: { [PRIORITY_HEADER]: 'urgent' } });
      await bad.text();
      expect(bad.status).toBe(trust ? 400 : 200);
      expect(seen).toEqual([trust ? 'critical-plus' : 'sheddable-plus']);
      await closeServer(server);
      listener.guard.close();
      await wall.close();
    }
  });
});
