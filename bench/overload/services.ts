/**
 * The services under test, in their own process (forked by run.ts; the load comes from another process).
 * Receives a ServicesConfig over IPC, answers `{ ready, ports }`, and on `stop` answers its counters and
 * the CPU share and refusals it measured every 100 ms.
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
import { createRequire } from 'node:module';
import underPressure from '@fastify/under-pressure';
import Fastify from 'fastify';
import { type Arm, PRIOS, Resource, SENT_HEADER, type ServiceStats, type ServicesConfig } from './common.js';

const require = createRequire(import.meta.url);
// overload-protection is CommonJS without types
const overloadProtection = require('overload-protection') as (framework: 'http', opts: Record<string, unknown>) => (req: IncomingMessage, res: ServerResponse) => boolean;

const servers: Server[] = [];
const walls: Wall[] = [];
const closers: (() => void | Promise<void>)[] = [];
const counts: { organic: number; deepest: number; inbound: Record<string, number> } = { organic: 0, deepest: 0, inbound: {} };
/** Per 100 ms bucket: CPU share, refusals, critical refusals. */
const buckets = { cpu: [] as number[], refused: [] as number[], criticalRefused: [] as number[] };
let refusedNow = 0;
let criticalRefusedNow = 0;
let levelChanges: (() => number) | undefined;

/** Phase samples (ms) by `<phase> <critical|sheddable>`; see ServiceStats.phases. */
const phaseSamples = new Map<string, number[]>();
const wallNow = () => performance.timeOrigin + performance.now();
function phase(name: string, url: string | undefined, ms: number): void {
  const key = `${name} ${isCritical(url) ? 'critical' : 'sheddable'}`;
  let xs = phaseSamples.get(key);
  if (xs === undefined) phaseSamples.set(key, (xs = []));
  xs.push(ms);
}
const HANDLER_AT = Symbol('handlerAt');

/** Times each request's phases: wire (send → listener), gate (listener → handler), work (handler → finish). */
function timed(handler: (req: IncomingMessage, res: ServerResponse) => void): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const at = wallNow();
    const sent = Number(req.headers[SENT_HEADER]);
    if (Number.isFinite(sent)) phase('wire', req.url, at - sent);
    res.once('finish', () => {
      if (res.statusCode !== 200) return;
      const h = (req as unknown as Record<symbol, number | undefined>)[HANDLER_AT];
      const end = wallNow();
      if (h !== undefined) {
        phase('gate', req.url, h - at);
        phase('work', req.url, end - h);
      } else phase('serve', req.url, end - at);
    });
    const t = performance.now();
    handler(req, res);
    // a refusal answered synchronously: its whole cost on the loop (routing, admission, the answer, the write)
    if (res.headersSent && res.statusCode === 503) phase('refuse-sync', req.url, performance.now() - t);
  };
}

function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<number> {
  // the phase timings cost every request a few microseconds: only when asked for (OVERLOAD_PHASES=1)
  const server = createServer(process.env.OVERLOAD_PHASES === '1' ? timed(handler) : handler);
  server.keepAliveTimeout = 30_000;
  servers.push(server);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function send(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(status === 200 ? 'ok' : 'error');
}

const ROUTES: NonNullable<HttpGuardOptions['routes']> = Object.fromEntries(PRIOS.map((p) => [`GET /work/${p}`, { operation: p, priority: p }]));
const isCritical = (url: string | undefined) => url !== undefined && (url.endsWith('/critical') || url.endsWith('/critical-plus'));

/** Counts a refusal (answered 503 by the protection) for the CPU-while-refusing figures. */
function refused(url: string | undefined): void {
  refusedNow++;
  if (isCritical(url)) criticalRefusedNow++;
}

/** 5 ms (or `cpuMs`) of CPU on the event loop, the way a JSON-heavy or templating handler spends it. */
function burn(ms: number): void {
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) x += Math.sqrt(x + 1);
  if (x < 0) console.log(x);
}

/** One request's work: the slot resource (async waiting) or CPU on the loop. */
function work(cfg: ServicesConfig, resource: Resource, startBy = Number.POSITIVE_INFINITY): Promise<boolean> {
  if (cfg.service === 'slot') return resource.use(startBy);
  burn(cfg.cpuMs);
  return Promise.resolve(true);
}

/** The fixed-capacity service: `/work/<priority>` uses the resource once, behind the arm's protection. */
async function workService(cfg: ServicesConfig, resource: Resource): Promise<number> {
  const arm = cfg.arm;
  if (arm === 'none') {
    return listen((_req, res) => {
      void work(cfg, resource).then(() => send(res, 200));
    });
  }
  if (arm === 'cockatiel') {
    // the usual cockatiel setup: a bulkhead sized to the slots with a bounded queue; excess refused with 503
    const bh = bulkhead(cfg.slots, 50);
    return listen((req, res) => {
      bh.execute(() => work(cfg, resource)).then(
        () => send(res, 200),
        (e: unknown) => {
          if (e instanceof BulkheadRejectedError) refused(req.url);
          send(res, e instanceof BulkheadRejectedError ? 503 : 500);
        },
      );
    });
  }
  if (arm === 'overload-protection') {
    // defaults: event-loop delay sampled every 5 ms, shed above 42 ms; no notion of priority
    const protect = overloadProtection('http', { production: true, clientRetrySecs: 1 });
    return listen((req, res) => {
      if (protect(req, res)) return refused(req.url);
      void work(cfg, resource).then(() => send(res, 200));
    });
  }
  if (arm === 'under-pressure') {
    // Fastify + @fastify/under-pressure judged every 100 ms on event-loop delay (> 100 ms) and utilisation
    // (> 0.98 over the last interval); critical routes are exempt (their pressure handler lets them through)
    const app = Fastify({ logger: false, keepAliveTimeout: 30_000 });
    await app.register(underPressure, {
      maxEventLoopDelay: 100,
      maxEventLoopUtilization: 0.98,
      sampleInterval: 100,
      eventLoopUtilizationMode: 'interval',
      retryAfter: 1,
      pressureHandler: (req, reply) => {
        refused(req.url);
        void reply.code(503).header('retry-after', '1').send('overloaded');
      },
    } as Parameters<typeof underPressure>[1]);
    for (const p of PRIOS) {
      const exempt = p === 'critical' || p === 'critical-plus';
      app.get(`/work/${p}`, exempt ? { config: { pressureHandler: () => undefined } } : {}, async () => {
        await work(cfg, resource);
        return 'ok';
      });
    }
    if (process.env.OVERLOAD_PHASES === '1') {
      // the same timings around Fastify's own request listener
      const server = app.server;
      const [listener] = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
      server.removeAllListeners('request');
      server.on('request', timed(listener!));
    }
    await app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => app.close());
    return (app.server.address() as AddressInfo).port;
  }
  const wall = createWall({ service: 'work' });
  walls.push(wall);
  const handler = nodeHandler(
    wall,
    async (req, res) => {
      if (process.env.OVERLOAD_PHASES === '1') (req as unknown as Record<symbol, number>)[HANDLER_AT] = wallNow();
      const op = currentOperation();
      // work whose deadline passes while it waits for the resource is not started
      const startBy = op === undefined || !Number.isFinite(op.deadline) ? Number.POSITIVE_INFINITY : Date.now() + (op.deadline - realClock.now());
      if (!(await work(cfg, resource, startBy))) throw new BlastwallError('DEADLINE_EXCEEDED', 'deadline passed while queued');
      send(res, 200);
    },
    { routes: ROUTES, admission: {} },
  );
  const admission = handler.guard.admission!;
  levelChanges = () => admission.snapshot().levelChanges;
  if (process.env.OVERLOAD_TRACE === '1') {
    // diagnostics: the controller's view every 100 ms, on stderr
    const t = setInterval(() => console.error(JSON.stringify(admission.snapshot())), 100);
    closers.push(() => clearInterval(t));
  }
  closers.push(() => handler.guard.close());
  return listen((req, res) => {
    res.once('finish', () => {
      if (res.statusCode === 503) refused(req.url);
    });
    handler(req, res);
  });
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
    counts.inbound[name] = (counts.inbound[name] ?? 0) + 1;
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
  if (arm === 'cockatiel') {
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
  closers.push(() => {
    Object.assign(counts, { served: resource.served, skipped: resource.skipped });
  });
  switch (cfg.scenario) {
    case 'capacity':
    case 'overload':
    case 'metastable':
      return { entry: await workService(cfg, resource) };
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

/** Samples the process's CPU share and the refusals every 100 ms while serving. */
function startBuckets(): void {
  let last = process.cpuUsage();
  let at = performance.now();
  const t = setInterval(() => {
    const now = performance.now();
    const u = process.cpuUsage(last);
    last = process.cpuUsage();
    buckets.cpu.push((u.user + u.system) / 1000 / Math.max(1, now - at));
    at = now;
    buckets.refused.push(refusedNow);
    buckets.criticalRefused.push(criticalRefusedNow);
    refusedNow = criticalRefusedNow = 0;
  }, 100);
  closers.push(() => clearInterval(t));
}

/** The counts when the warm-up ended (`mark`): the failing and chain scenarios report what came after. */
let marked: ServiceStats['counts'] | undefined;

process.on('message', (msg: { type: 'start'; config: ServicesConfig } | { type: 'stop' } | { type: 'mark' }) => {
  if (msg.type === 'mark') {
    marked = { ...counts, inbound: { ...counts.inbound } };
    return;
  }
  if (msg.type === 'start') {
    void start(msg.config).then((ports) => {
      startBuckets();
      process.send?.({ type: 'ready', ports });
    });
    return;
  }
  const flips = levelChanges?.();
  void Promise.all(closers.map(async (c) => c()))
    .then(() => {
      for (const s of servers) {
        s.closeAllConnections();
        s.close();
      }
      return Promise.all(walls.map((w) => w.close()));
    })
    .then(() => {
      const phases: NonNullable<ServiceStats['phases']> = {};
      for (const [k, xs] of phaseSamples) {
        xs.sort((a, b) => a - b);
        phases[k] = { n: xs.length, mean: xs.reduce((a, b) => a + b, 0) / xs.length, p99: xs[Math.floor(xs.length * 0.99)]! };
      }
      const stats: ServiceStats = { counts, ...buckets, phases, ...(flips === undefined ? {} : { levelChanges: flips }), ...(marked === undefined ? {} : { marked }) };
      process.send?.({ type: 'stats', stats }, () => process.exit(0));
    });
});
