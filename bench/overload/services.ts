/**
 * The services under test, in their own process (forked by run.ts; the load comes from another process).
 * Receives a ServicesConfig over IPC, answers `{ ready, ports }`, and on `stop` answers its counters.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bulkhead, BulkheadRejectedError, circuitBreaker, ConsecutiveBreaker, ExponentialBackoff, handleAll, retry, wrap } from 'cockatiel';
import { BlastwallError } from '../../src/core/errors.js';
import { realClock } from '../../src/core/clock.js';
import { currentOperation } from '../../src/wall/context.js';
import { createWall, type Wall } from '../../src/wall/wall.js';
import { createFetch } from '../../src/http/fetch.js';
import { nodeHandler } from '../../src/http/node.js';
import { type HttpGuardOptions } from '../../src/http/guard.js';
import { type Arm, PRIOS, Resource, type ServicesConfig } from './common.js';

const servers: Server[] = [];
const walls: Wall[] = [];
const closers: (() => void)[] = [];
const counts = { organic: 0, deepest: 0 };

function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<number> {
  const server = createServer(handler);
  server.keepAliveTimeout = 30_000;
  servers.push(server);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function send(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(status === 200 ? 'ok' : 'error');
}

const ROUTES: NonNullable<HttpGuardOptions['routes']> = Object.fromEntries(PRIOS.map((p) => [`GET /work/${p}`, { operation: p, priority: p }]));

/** The fixed-capacity service: `/work/<priority>` uses the resource once. */
async function workService(arm: Arm, resource: Resource): Promise<number> {
  if (arm === 'none') {
    return listen((_req, res) => {
      void resource.use().then(() => send(res, 200));
    });
  }
  if (arm === 'peer') {
    // the usual peer setup: a bulkhead sized to the resource with a bounded queue; excess refused with 503
    const bh = bulkhead(resource.slots, 50);
    return listen((_req, res) => {
      bh.execute(() => resource.use()).then(
        () => send(res, 200),
        (e: unknown) => send(res, e instanceof BulkheadRejectedError ? 503 : 500),
      );
    });
  }
  const wall = createWall({ service: 'work' });
  walls.push(wall);
  const handler = nodeHandler(
    wall,
    async (_req, res) => {
      const op = currentOperation();
      // work whose deadline passes while it waits for the resource is not started
      const startBy = op === undefined || !Number.isFinite(op.deadline) ? Number.POSITIVE_INFINITY : Date.now() + (op.deadline - realClock.now());
      if (!(await resource.use(startBy))) throw new BlastwallError('DEADLINE_EXCEEDED', 'deadline passed while queued');
      send(res, 200);
    },
    { routes: ROUTES, admission: {}, eventLoopDelay: process.env.OVERLOAD_NO_LOOP_DELAY !== '1' },
  );
  closers.push(() => handler.guard.close());
  return listen(handler);
}

/** The always-failing dependency at the bottom of the failing and chain scenarios. */
function failingService(): Promise<number> {
  return listen((_req, res) => {
    counts.deepest++;
    send(res, 500);
  });
}

/** A service that calls `next` once per request, retrying its own way. */
async function proxyService(arm: Arm, name: string, next: string, organic: boolean, breaker = true): Promise<number> {
  const count = () => {
    if (organic) counts.organic++;
  };
  const callOnce = async (f: typeof fetch = fetch) => {
    const r = await f(next, { signal: AbortSignal.timeout(2000) });
    await r.arrayBuffer();
    if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
  };
  if (arm === 'none') {
    // naive: three attempts, no backoff, no budget
    return listen((_req, res) => {
      count();
      void (async () => {
        for (let i = 0; i < 3; i++) {
          try {
            await callOnce();
            return send(res, 200);
          } catch {
            /* try again */
          }
        }
        send(res, 502);
      })();
    });
  }
  if (arm === 'peer') {
    // cockatiel: retry (3 attempts, exponential backoff) around a consecutive-failure breaker
    const policy = wrap(
      retry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff({ initialDelay: 10, maxDelay: 200 }) }),
      circuitBreaker(handleAll, { halfOpenAfter: 5000, breaker: new ConsecutiveBreaker(5) }),
    );
    return listen((_req, res) => {
      count();
      policy.execute(() => callOnce()).then(
        () => send(res, 200),
        () => send(res, 502),
      );
    });
  }
  const wall = createWall({ service: name });
  walls.push(wall);
  // per-attempt timeout 1 s: a retry starts only when a whole attempt fits before the caller's deadline
  const dep = wall.dependency('next', { timeout: '1s', retry: { attempts: 3 }, ...(breaker ? {} : { breaker: false }) });
  const bwFetch = createFetch();
  const handler = nodeHandler(
    wall,
    async (_req, res) => {
      count();
      await dep.call(async () => {
        const r = await bwFetch(next);
        await r.arrayBuffer();
      });
      send(res, 200);
    },
    { eventLoopDelay: false, admission: {} },
  );
  closers.push(() => handler.guard.close());
  return listen(handler);
}

async function start(cfg: ServicesConfig): Promise<Record<string, number>> {
  const resource = new Resource(cfg.slots, cfg.workMs);
  if (cfg.trigger !== undefined) {
    const { at, durationMs, factor } = cfg.trigger;
    const t1 = setTimeout(() => (resource.factor = factor), Math.max(0, at - Date.now()));
    const t2 = setTimeout(() => (resource.factor = 1), Math.max(0, at + durationMs - Date.now()));
    closers.push(() => {
      clearTimeout(t1);
      clearTimeout(t2);
    });
  }
  closers.push(() => Object.assign(counts, { served: resource.served, skipped: resource.skipped }));
  switch (cfg.scenario) {
    case 'capacity':
    case 'overload':
    case 'metastable':
      return { entry: await workService(cfg.arm, resource) };
    case 'failing': {
      const d = await failingService();
      return { entry: await proxyService(cfg.arm, 'a', `http://127.0.0.1:${d}/`, true, cfg.breaker) };
    }
    case 'chain': {
      const d = await failingService();
      const c = await proxyService(cfg.arm, 'c', `http://127.0.0.1:${d}/`, false, cfg.breaker);
      const b = await proxyService(cfg.arm, 'b', `http://127.0.0.1:${c}/`, false, cfg.breaker);
      return { entry: await proxyService(cfg.arm, 'a', `http://127.0.0.1:${b}/`, true, cfg.breaker) };
    }
  }
}

process.on('message', (msg: { type: 'start'; config: ServicesConfig } | { type: 'stop' }) => {
  if (msg.type === 'start') {
    void start(msg.config).then((ports) => process.send?.({ type: 'ready', ports }));
    return;
  }
  for (const c of closers) c();
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
  void Promise.all(walls.map((w) => w.close())).then(() => {
    process.send?.({ type: 'stats', counts }, () => process.exit(0));
  });
});
