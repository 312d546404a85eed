/**
 * Issue 17 findings 5, 6 and 10 for the idempotency HTTP layer, over real HTTP on 127.0.0.1.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { serve } from '@hono/node-server';
import express from 'express';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/core/fake-clock.js';
import { parseJson } from '../../src/http/json.js';
import { expressIdempotency, honoIdempotency, IdempotentHttp, idempotentNode, REPLAYED_HEADER } from '../../src/integrity/http.js';
import { createIdempotency, type Idempotency } from '../../src/integrity/idempotency.js';
import type { Work } from '../../src/integrity/work.js';
import { MemoryStore } from '../../src/stores/memory/index.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise((r) => {
          s.closeAllConnections();
          s.close(r);
        }),
    ),
  );
});

async function listen(server: Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const idem = (): Idempotency => createIdempotency({ store: new MemoryStore(), clock: new FakeClock(), lease: '10s', ttl: '1h' });
const key = (k: string): Record<string, string> => ({ 'idempotency-key': `"${k}"`, 'content-type': 'application/json' });
const deep = (n: number): string => '['.repeat(n) + ']'.repeat(n);

/** A request body produced lazily, 1 MiB a pull, counting what the client was asked for. */
function lazyBody(totalMiB: number): { stream: ReadableStream<Uint8Array>; pulled: () => number } {
  let pulled = 0;
  const chunk = new Uint8Array(1024 * 1024).fill(0x61);
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      if (pulled >= totalMiB * chunk.length) return c.close();
      pulled += chunk.length;
      c.enqueue(chunk);
    },
  });
  return { stream, pulled: () => pulled };
}

describe('finding 5: bodies over maxBodyBytes', () => {
  it('honoIdempotency answers 413 while streaming, without reading the whole body', async () => {
    const app = new Hono<{ Variables: { idempotency: Work } }>();
    let runs = 0;
    app.use('/payments', honoIdempotency({ idempotency: idem(), scope: 'global', maxBodyBytes: 64 * 1024 }) as never);
    app.post('/payments', (c) => {
      runs++;
      return c.json({ ok: true }, 201);
    });
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
    await new Promise<void>((r) => (server.listening ? r() : server.once('listening', () => r())));
    servers.push(server);
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const body = lazyBody(256);
    const r = await fetch(`${url}/payments`, { method: 'POST', headers: key('big'), body: body.stream, duplex: 'half' } as RequestInit);
    expect(r.status).toBe(413);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await r.json()).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
    // 256 MiB offered; the server stopped after the limit (what was pulled is socket buffers, not the body)
    expect(body.pulled()).toBeLessThan(32 * 1024 * 1024);
    expect(runs).toBe(0);
  });

  it('idempotentNode writes the 413 before closing: the client sees 413, not a reset', async () => {
    const url = await listen(createServer(idempotentNode({ idempotency: idem(), scope: 'global', maxBodyBytes: 64 * 1024 }, () => ({ status: 201, headers: {}, body: '' }))));
    const r = await fetch(`${url}/payments`, { method: 'POST', headers: key('big'), body: Buffer.alloc(8 * 1024 * 1024, 0x61) });
    expect(r.status).toBe(413);
    expect(r.headers.get('connection')).toBe('close');
    expect(await r.json()).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE', type: 'urn:blastwall:error:payload-too-large' });
    // the same over a raw socket that keeps writing
    const port = Number(new URL(url).port);
    const head = await new Promise<string>((resolve) => {
      const s = connect(port, '127.0.0.1');
      let got = '';
      s.on('data', (d: Buffer) => (got += d.toString('latin1')));
      s.on('error', () => undefined);
      s.on('close', () => resolve(got));
      s.write(`POST /payments HTTP/1.1\r\nHost: x\r\nIdempotency-Key: "raw"\r\nContent-Length: ${16 * 1024 * 1024}\r\n\r\n`);
      s.write(Buffer.alloc(16 * 1024 * 1024, 0x62));
    });
    expect(head).toMatch(/^HTTP\/1\.1 413 /);
  });
});

describe('finding 6: no internal text in idempotency answers', () => {
  it('a handler that throws gets a generic 500 problem; the detail goes to onError with the request id', async () => {
    const logged: { err: unknown; requestId: string }[] = [];
    const handler = idempotentNode({ idempotency: idem(), scope: 'global', onError: (err, info) => logged.push({ err, requestId: info.requestId }) }, () => {
      throw new Error('password=hunter2 rejected by db.internal');
    });
    const url = await listen(createServer(handler));
    const r = await fetch(`${url}/payments`, { method: 'POST', headers: key('k'), body: '{}' });
    const text = await r.text();
    expect(r.status).toBe(500);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(text).not.toMatch(/hunter2|internal error/);
    const body = JSON.parse(text) as { code: string; requestId: string; title: string };
    expect(body).toMatchObject({ code: 'INTERNAL', title: 'Internal error', status: 500 });
    expect(logged.map((l) => [(l.err as Error).message, l.requestId])).toEqual([['password=hunter2 rejected by db.internal', body.requestId]]);
  });

  it('a store that fails answers 503 problem+json STORE_UNAVAILABLE without its error text', async () => {
    const store = new MemoryStore();
    store.claim = () => Promise.reject(new Error('ECONNREFUSED redis://:s3cret@cache:6379'));
    const i = createIdempotency({ store, clock: new FakeClock() });
    const url = await listen(createServer(idempotentNode({ idempotency: i, scope: 'global', onError: () => undefined }, () => ({ status: 201, headers: {}, body: '' }))));
    const r = await fetch(`${url}/payments`, { method: 'POST', headers: key('k'), body: '{}' });
    const text = await r.text();
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('1');
    expect(text).not.toMatch(/s3cret|ECONNREFUSED/);
    expect(JSON.parse(text)).toMatchObject({ code: 'STORE_UNAVAILABLE', status: 503 });
  });
});

describe('finding 10: idempotency edge cases', () => {
  it('refuses to start without an explicit scope (CONFIG_INVALID naming `scope`) unless scope is "global"', () => {
    const i = idem();
    expect(() => new IdempotentHttp({ idempotency: i } as never)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringMatching(/`scope`/) }));
    expect(() => idempotentNode({ idempotency: i } as never, () => ({ status: 200, headers: {}, body: '' }))).toThrow(/`scope`/);
    expect(() => new IdempotentHttp({ idempotency: i, scope: 42 as never })).toThrow(/Expected `scope` to be .*got `42`/);
    expect(() => new IdempotentHttp({ idempotency: i, scope: 'global' })).not.toThrow();
    // the rest of the options are checked at set-up too, with the field named
    expect(() => new IdempotentHttp({ idempotency: i, identity: () => 'x' } as never)).toThrow(/`identity`.*renamed `scope`/);
    expect(() => new IdempotentHttp({ idempotency: i, scope: 'global', required: 'yes' as never })).toThrow(/`required`/);
    expect(() => new IdempotentHttp({ idempotency: i, scope: 'global', replayHeaders: 'etag' as never })).toThrow(/`replayHeaders`/);
    expect(() => new IdempotentHttp({ idempotency: i, scope: 'global', maxBodyBytes: -1 })).toThrow(/`maxBodyBytes`/);
    expect(() => new IdempotentHttp({ idempotency: i, scope: 'global', scoep: 'x' } as never)).toThrow(/scoep/);
  });

  it('cookie-authenticated and anonymous callers do not share a scope', async () => {
    let runs = 0;
    const scope = (req: { header(n: string): string | undefined }): string => /session=(\w+)/.exec(req.header('cookie') ?? '')?.[1] ?? 'anonymous';
    const url = await listen(
      createServer(
        idempotentNode({ idempotency: idem(), scope }, () => {
          runs++;
          return { status: 201, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ run: runs }) };
        }),
      ),
    );
    const send = (headers: Record<string, string>): Promise<Response> => fetch(`${url}/payments`, { method: 'POST', headers: { ...key('same'), ...headers }, body: '{}' });
    const alice = await send({ cookie: 'session=alice' });
    const anon = await send({});
    const alice2 = await send({ cookie: 'session=alice' });
    expect(await alice.json()).toEqual({ run: 1 });
    expect(anon.headers.get(REPLAYED_HEADER)).toBeNull();
    expect(await anon.json()).toEqual({ run: 2 });
    expect(alice2.headers.get(REPLAYED_HEADER)).toBe('true');
    expect(runs).toBe(2);
  });

  it('a handler that throws before finishing releases its key at once; too-deep JSON is a 400, not a 5xx', async () => {
    const http = new IdempotentHttp({ idempotency: idem(), scope: 'global', onError: () => undefined });
    let runs = 0;
    let crash = false;
    const handle = (body: string) =>
      http.handle({ method: 'POST', path: '/payments', header: (n) => (n === 'idempotency-key' ? '"deep"' : undefined), body }, () => {
        runs++;
        const payload = parseJson(body);
        if (crash) throw new RangeError('Maximum call stack size exceeded');
        return { status: 201, headers: {}, body: JSON.stringify(payload) };
      });
    const tooDeep = await handle(deep(100_000));
    expect(tooDeep.status).toBe(400);
    expect(JSON.parse(tooDeep.body)).toMatchObject({ code: 'JSON_TOO_DEEP', status: 400 });
    // the key is free again at once (not in flight for maxRun): the next request with it runs
    crash = true;
    const bug = await handle('[1]');
    expect(bug.status).toBe(500);
    expect(bug.body).not.toMatch(/Maximum call stack/);
    crash = false;
    const ok = await handle('[1]');
    expect(ok.status).toBe(201);
    expect(runs).toBe(3);
  });

  it('expressIdempotency: a 100k-deep JSON body is a 400 problem, and the key is not left in flight', async () => {
    let runs = 0;
    const app = express();
    app.use(express.json({ limit: '1mb' }));
    app.post('/payments', expressIdempotency({ idempotency: idem(), scope: 'global' }), (_req, res) => {
      runs++;
      res.status(201).json({ ok: true });
    });
    const url = await listen(createServer(app));
    const r = await fetch(`${url}/payments`, { method: 'POST', headers: key('deep'), body: deep(100_000) });
    const text = await r.text();
    expect(r.status).toBe(400);
    expect(text).not.toMatch(/RangeError|call stack/);
    expect(JSON.parse(text)).toMatchObject({ code: 'JSON_TOO_DEEP' });
    const ok = await fetch(`${url}/payments`, { method: 'POST', headers: key('deep'), body: '{"amount":5}' });
    expect(ok.status).toBe(201);
    expect(runs).toBe(1);
  });

  it('parseJson bounds depth and names malformed input', () => {
    expect(parseJson('{"a":[1,{"b":2}]}')).toEqual({ a: [1, { b: 2 }] });
    expect(() => parseJson(deep(101))).toThrow(expect.objectContaining({ status: 400, code: 'JSON_TOO_DEEP' }));
    expect(parseJson(deep(100))).toBeInstanceOf(Array);
    expect(() => parseJson('{"a":')).toThrow(expect.objectContaining({ status: 400, code: 'INVALID_JSON' }));
    // brackets inside strings do not count
    expect(parseJson(JSON.stringify({ s: '['.repeat(500) }))).toEqual({ s: '['.repeat(500) });
  });
});
