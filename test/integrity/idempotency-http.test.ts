/**
 * One test per requirement of draft-ietf-httpapi-idempotency-key-header, over real HTTP on 127.0.0.1,
 * then the same contract through Express, Fastify and Hono.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/core/fake-clock.js';
import { BlastwallError } from '../../src/core/errors.js';
import {
  expressIdempotency,
  honoIdempotency,
  idempotentNode,
  installFastifyIdempotency,
  parseIdempotencyKey,
  REPLAYED_HEADER,
} from '../../src/integrity/http.js';
import { createIdempotency, type Idempotency } from '../../src/integrity/idempotency.js';
import type { Work } from '../../src/integrity/work.js';
import { MemoryStore } from '../../src/stores/memory/index.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function listen(server: Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

interface Setup {
  url: string;
  store: MemoryStore;
  clock: FakeClock;
  idem: Idempotency;
  calls: () => number;
  /** Set to hold the next handler until released. */
  hold: { promise?: Promise<void> | undefined; started?: () => void };
  status: { next: number[] };
}

/** The caller a request acts for: here, its bearer token (as a real service would resolve its account). */
const byAuthorization = (req: { header(name: string): string | undefined }): string => req.header('authorization') ?? 'anonymous';

async function nodeSetup(): Promise<Setup> {
  const store = new MemoryStore();
  const clock = new FakeClock();
  const idem = createIdempotency({ store, clock, lease: '10s', ttl: '1h' });
  let calls = 0;
  const hold: Setup['hold'] = {};
  const status: Setup['status'] = { next: [] };
  const handler = idempotentNode({ idempotency: idem, scope: byAuthorization }, async (_req, { body, work }) => {
    calls++;
    hold.started?.();
    if (hold.promise !== undefined) await hold.promise;
    const s = status.next.shift() ?? 201;
    const order = JSON.parse(body.toString()) as { amount: number };
    if (s < 300) work!.effect('payments', `p${calls}`, order);
    return { status: s, headers: { 'content-type': 'application/json', location: `/payments/p${calls}`, 'x-not-stored': 'y' }, body: JSON.stringify({ id: `p${calls}`, status: s }) };
  });
  const url = await listen(createServer(handler));
  return { url, store, clock, idem, calls: () => calls, hold, status };
}

const post = (url: string, key: string | undefined, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(`${url}/payments`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key === undefined ? {} : { 'idempotency-key': key }), ...headers },
    body: JSON.stringify(body),
  });

describe('Idempotency-Key header parsing (Structured Field sf-string)', () => {
  it('accepts quoted strings, with escapes and parameters', () => {
    expect(parseIdempotencyKey('"8e03978e-40d5-43e8-bc93-6894a57f9324"')).toBe('8e03978e-40d5-43e8-bc93-6894a57f9324');
    expect(parseIdempotencyKey('  "a\\"b\\\\c"  ')).toBe('a"b\\c');
    expect(parseIdempotencyKey('"k";v=1')).toBe('k');
    expect(parseIdempotencyKey(undefined)).toBeUndefined();
  });
  it.each([['abc'], ['"unterminated'], ['"bad\\escape"'], ['""'], ['"é"'], ['"a", "b"'], ['"a" trailing'], [`"${'x'.repeat(256)}"`]])(
    'rejects %s',
    (v) => expect(parseIdempotencyKey(v)).toBeNull(),
  );
  it('rejects several header lines', () => expect(parseIdempotencyKey(['"a"', '"b"'])).toBeNull());
});

describe('idempotency over node:http, per draft requirement', () => {
  it('400 with problem+json when the key is missing on a route that requires it', async () => {
    const s = await nodeSetup();
    const r = await post(s.url, undefined, { amount: 5 });
    expect(r.status).toBe(400);
    expect(r.headers.get('content-type')).toBe('application/problem+json');
    expect(await r.json()).toMatchObject({ status: 400, type: 'urn:blastwall:idempotency:missing-key' });
    expect(s.calls()).toBe(0);
  });

  it('400 for a malformed header (not an sf-string)', async () => {
    const s = await nodeSetup();
    const r = await post(s.url, 'not-quoted', { amount: 5 });
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({ type: 'urn:blastwall:idempotency:malformed-key' });
    expect(s.calls()).toBe(0);
  });

  it('first request runs; a retry after completion replays status, stored headers and body, marked as a replay', async () => {
    const s = await nodeSetup();
    const a = await post(s.url, '"k1"', { amount: 5 });
    const b = await post(s.url, '"k1"', { amount: 5 });
    expect(a.status).toBe(201);
    expect(a.headers.get(REPLAYED_HEADER)).toBeNull();
    expect(a.headers.get('x-not-stored')).toBe('y');
    expect(b.status).toBe(201);
    expect(b.headers.get(REPLAYED_HEADER)).toBe('true');
    expect(b.headers.get('location')).toBe('/payments/p1');
    expect(b.headers.get('x-not-stored')).toBeNull();
    expect(await b.text()).toBe(await a.text());
    expect(s.calls()).toBe(1);
    expect(await s.store.effects('payments')).toHaveLength(1);
  });

  it('a stored client error (4xx) is replayed too, without running again', async () => {
    const s = await nodeSetup();
    s.status.next = [402];
    const a = await post(s.url, '"declined"', { amount: 5 });
    const b = await post(s.url, '"declined"', { amount: 5 });
    expect([a.status, b.status]).toEqual([402, 402]);
    expect(b.headers.get(REPLAYED_HEADER)).toBe('true');
    expect(s.calls()).toBe(1);
  });

  it('a 5xx is not stored: nothing committed, the retry runs again', async () => {
    const s = await nodeSetup();
    s.status.next = [500];
    expect((await post(s.url, '"flaky"', { amount: 5 })).status).toBe(500);
    expect(await s.store.effects('payments')).toHaveLength(0);
    const b = await post(s.url, '"flaky"', { amount: 5 });
    expect(b.status).toBe(201);
    expect(b.headers.get(REPLAYED_HEADER)).toBeNull();
    expect(s.calls()).toBe(2);
  });

  it('422 with problem+json when the key is reused with a different payload', async () => {
    const s = await nodeSetup();
    await post(s.url, '"k2"', { amount: 5 });
    const r = await post(s.url, '"k2"', { amount: 6 });
    expect(r.status).toBe(422);
    expect(r.headers.get('content-type')).toBe('application/problem+json');
    expect(await r.json()).toMatchObject({ status: 422, type: 'urn:blastwall:idempotency:key-reused' });
    expect(s.calls()).toBe(1);
  });

  it('409 with Retry-After while the first request is still in flight', async () => {
    const s = await nodeSetup();
    let release!: () => void;
    s.hold.promise = new Promise<void>((r) => (release = r));
    const started = new Promise<void>((r) => (s.hold.started = r));
    const first = post(s.url, '"k3"', { amount: 5 });
    await started;
    const second = await post(s.url, '"k3"', { amount: 5 });
    expect(second.status).toBe(409);
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await second.json()).toMatchObject({ type: 'urn:blastwall:idempotency:in-flight' });
    release();
    expect((await first).status).toBe(201);
    expect(s.calls()).toBe(1);
  });

  it('records expire after the ttl: the key then runs as new', async () => {
    const s = await nodeSetup();
    await post(s.url, '"k4"', { amount: 5 });
    await s.clock.advance(3_600_000 - 1);
    expect((await post(s.url, '"k4"', { amount: 5 })).headers.get(REPLAYED_HEADER)).toBe('true');
    await s.clock.advance(1);
    const r = await post(s.url, '"k4"', { amount: 5 });
    expect(r.headers.get(REPLAYED_HEADER)).toBeNull();
    expect(s.calls()).toBe(2);
  });

  it('keys are scoped by caller identity', async () => {
    const s = await nodeSetup();
    const a = await post(s.url, '"same"', { amount: 5 }, { authorization: 'Bearer alice' });
    const b = await post(s.url, '"same"', { amount: 7 }, { authorization: 'Bearer bob' });
    const a2 = await post(s.url, '"same"', { amount: 5 }, { authorization: 'Bearer alice' });
    expect([a.status, b.status, a2.status]).toEqual([201, 201, 201]);
    expect(a2.headers.get(REPLAYED_HEADER)).toBe('true');
    expect(s.calls()).toBe(2);
  });

  it('a crashed execution blocks its key only until its lease runs out', async () => {
    const s = await nodeSetup();
    // a process claimed the key (same identity and fingerprint) and died
    const key = '"crashed"';
    let release!: () => void;
    s.hold.promise = new Promise<void>((r) => (release = r));
    const started = new Promise<void>((r) => (s.hold.started = r));
    const dying = post(s.url, key, { amount: 5 });
    await started;
    s.hold.promise = undefined;
    // the first execution stops renewing (its process is gone): freeze its heartbeat by making renew fail
    const renew = s.store.renew.bind(s.store);
    s.store.renew = () => Promise.resolve(false);
    await s.clock.advance(9_999);
    expect((await post(s.url, key, { amount: 5 })).status).toBe(409);
    await s.clock.advance(1);
    s.store.renew = renew;
    const r = await post(s.url, key, { amount: 5 });
    expect(r.status).toBe(201);
    release();
    // the stalled first execution lost its lease: it commits nothing and answers 409
    const late = await dying;
    expect(late.status).toBe(409);
    expect(await late.json()).toMatchObject({ type: 'urn:blastwall:idempotency:lease-lost' });
    expect((await s.store.effects('payments')).length).toBe(1);
  });

  it('the lease is renewed while a slow handler runs, so a long execution keeps its key', async () => {
    const s = await nodeSetup();
    let release!: () => void;
    s.hold.promise = new Promise<void>((r) => (release = r));
    const started = new Promise<void>((r) => (s.hold.started = r));
    const slow = post(s.url, '"slow"', { amount: 5 });
    await started;
    for (let i = 0; i < 6; i++) await s.clock.advance(3_400); // 20 s > lease of 10 s
    expect((await post(s.url, '"slow"', { amount: 5 })).status).toBe(409);
    release();
    expect((await slow).status).toBe(201);
    expect(s.clock.pendingTimers()).toBe(0);
  });
});

describe('function form for jobs and message handlers', () => {
  it('runs once, replays the value, and refuses a different payload or a concurrent run', async () => {
    const store = new MemoryStore();
    const idem = createIdempotency({ store, clock: new FakeClock() });
    let runs = 0;
    const job = (w: Work) => {
      runs++;
      w.effect('emails', 'welcome:42', { to: 'a@example.com' });
      return { sent: true };
    };
    expect(await idem.execute({ key: 'welcome:42', payload: { user: 42 } }, job)).toEqual({ replayed: false, value: { sent: true } });
    expect(await idem.execute({ key: 'welcome:42', payload: { user: 42 } }, job)).toEqual({ replayed: true, value: { sent: true } });
    await expect(idem.execute({ key: 'welcome:42', payload: { user: 43 } }, job)).rejects.toMatchObject({ code: 'CONFLICT', details: { reason: 'mismatch' } });
    let release!: () => void;
    const slow = idem.execute({ key: 'slow' }, () => new Promise<number>((r) => (release = () => r(1))));
    await new Promise((r) => setImmediate(r));
    const err = await idem.execute({ key: 'slow' }, () => 2).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BlastwallError);
    expect(err).toMatchObject({ code: 'CONFLICT', retryable: true, details: { reason: 'in-flight' } });
    release();
    expect((await slow).value).toBe(1);
    expect(runs).toBe(1);
    expect(await store.effects('emails')).toHaveLength(1);
  });

  it('a job that throws releases its key and commits nothing', async () => {
    const store = new MemoryStore();
    const idem = createIdempotency({ store, clock: new FakeClock() });
    await expect(
      idem.execute({ key: 'k' }, (w) => {
        w.effect('c', 'x', 1);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await store.effects('c')).toEqual([]);
    expect((await idem.execute({ key: 'k' }, () => 'ok')).value).toBe('ok');
  });

  it('a hung handler stops renewing after maxRun: its key frees one lease later and no timer is left', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const idem = createIdempotency({ store, clock, lease: '10s', maxRun: '1m' });
    void idem.execute({ key: 'hung' }, () => new Promise<never>(() => undefined)).catch(() => undefined);
    await clock.advance(0);
    await clock.advance(60_000);
    await expect(idem.execute({ key: 'hung' }, () => 1)).rejects.toMatchObject({ details: { reason: 'in-flight' } });
    await clock.advance(10_000);
    expect(clock.pendingTimers()).toBe(0);
    expect(await idem.execute({ key: 'hung' }, () => 2)).toEqual({ replayed: false, value: 2 });
  });

  it('validates its options with the field name', () => {
    expect(() => createIdempotency({ store: {} as never })).toThrow(/Expected `store` to be an IntegrityStore/);
    expect(() => createIdempotency({ store: new MemoryStore(), lease: -5 as never })).toThrow(/Expected `lease` to be a duration/);
    expect(() => createIdempotency({ store: new MemoryStore(), lease: '1m', ttl: '30s' })).toThrow(/Expected `ttl` to be a duration ≥ lease/);
    expect(() => createIdempotency({ store: new MemoryStore(), lease: '1m', maxRun: '10s' })).toThrow(/Expected `maxRun` to be a duration ≥ 60000ms/);
    expect(() => createIdempotency({ store: new MemoryStore(), leese: '1m' } as never)).toThrow(/leese/);
  });
});

describe('express specifics', () => {
  it('a handler that calls writeHead directly is captured and replayed; no body parser → refused, not guessed', async () => {
    const idem = createIdempotency({ store: new MemoryStore(), clock: new FakeClock() });
    let runs = 0;
    const app = express();
    app.post('/raw', express.json(), expressIdempotency({ idempotency: idem, scope: 'global' }), (_req, res) => {
      runs++;
      res.writeHead(202, { 'content-type': 'text/plain', location: '/jobs/1' });
      res.end(`accepted ${runs}`);
    });
    app.post('/nobody', expressIdempotency({ idempotency: idem, scope: 'global' }), (_req, res) => {
      res.status(201).end('ok');
    });
    const url = await listen(createServer(app));
    const send = (path: string) =>
      fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': '"w1"' }, body: '{"a":1}' });
    const a = await send('/raw');
    const b = await send('/raw');
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(await b.text()).toBe('accepted 1');
    expect(b.headers.get('location')).toBe('/jobs/1');
    expect(b.headers.get(REPLAYED_HEADER)).toBe('true');
    const c = await send('/nobody');
    expect(c.status).toBe(500);
    expect(runs).toBe(1);
  });
});

/** Express, Fastify and Hono: the same contract through each adapter. */
type Make = (idem: Idempotency, onRun: () => void) => Promise<string>;
const adapters: [string, Make][] = [
  [
    'express',
    async (idem, onRun) => {
      const app = express();
      app.use(express.json());
      app.post('/payments', expressIdempotency({ idempotency: idem, scope: 'global' }), (req, res) => {
        onRun();
        (req as unknown as { idempotency: Work }).idempotency.effect('payments', String(Math.random()), req.body);
        res.status(201).json({ ok: true, amount: (req.body as { amount: number }).amount });
      });
      return listen(createServer(app));
    },
  ],
  [
    'fastify',
    async (idem, onRun) => {
      const app = Fastify();
      await app.register(async (scope) => {
        installFastifyIdempotency(scope as never, { idempotency: idem, scope: 'global' });
        scope.post('/payments', async (req, reply) => {
          onRun();
          (req as unknown as { idempotency: Work }).idempotency.effect('payments', String(Math.random()), req.body);
          return reply.code(201).send({ ok: true, amount: (req.body as { amount: number }).amount });
        });
      });
      await app.listen({ port: 0, host: '127.0.0.1' });
      servers.push(app.server);
      return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    },
  ],
  [
    'hono',
    async (idem, onRun) => {
      const app = new Hono<{ Variables: { idempotency: Work } }>();
      app.use('/payments', honoIdempotency({ idempotency: idem, scope: 'global' }) as never);
      app.post('/payments', async (c) => {
        onRun();
        const body = (await c.req.json()) as { amount: number };
        c.get('idempotency').effect('payments', String(Math.random()), body);
        return c.json({ ok: true, amount: body.amount }, 201);
      });
      const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
      await new Promise<void>((r) => (server.listening ? r() : server.once('listening', () => r())));
      servers.push(server);
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
  ],
];

describe.each(adapters)('idempotency middleware: %s', (_name, make) => {
  it('runs once, replays, refuses a reused key with another body (422) and a missing key (400)', async () => {
    const store = new MemoryStore();
    const idem = createIdempotency({ store, clock: new FakeClock() });
    let runs = 0;
    const url = await make(idem, () => runs++);
    const a = await post(url, '"a1"', { amount: 5 });
    const b = await post(url, '"a1"', { amount: 5 });
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.headers.get(REPLAYED_HEADER)).toBe('true');
    expect(await b.json()).toEqual({ ok: true, amount: 5 });
    expect((await post(url, '"a1"', { amount: 9 })).status).toBe(422);
    expect((await post(url, undefined, { amount: 5 })).status).toBe(400);
    expect((await post(url, 'bare', { amount: 5 })).status).toBe(400);
    expect(runs).toBe(1);
    expect(await store.effects('payments')).toHaveLength(1);
  });
});
