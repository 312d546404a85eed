import { untilTurns } from '../support/turns.js';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/core/fake-clock.js';
import { createWall, type Wall } from '../../src/wall/wall.js';
import { dashboardHandler } from '../../src/dashboard/index.js';
import type { TimelineEntryInput } from '../../src/timeline/index.js';

const TOKEN = 'a-long-operator-token-0123456789';

interface Fixture {
  wall: Wall;
  clock: FakeClock;
  entries: TimelineEntryInput[];
  notes: string[];
  port: number;
  server: Server;
  handler: ReturnType<typeof dashboardHandler>;
}

let fx: Fixture | undefined;

async function start(token: string | null = TOKEN): Promise<Fixture> {
  const clock = new FakeClock(1_700_000_000_000);
  const entries: TimelineEntryInput[] = [];
  const notes: string[] = [];
  const wall = createWall({ service: 'shop', clock, drift: false, timeline: { record: (e) => void entries.push(e) } });
  wall.dependency('payments', { criticality: 'core', owner: 'team-pay', runbook: 'docs/runbooks/payments.md' });
  wall.operation('checkout', { capability: 'customers can pay' });
  wall.feature('recs-panel', { cost: 'expensive', owner: 'growth', expires: '2099-01-01' });
  const timeline = { query: () => [], note: (text: string, author?: string) => void notes.push(`${author}: ${text}`) };
  const handler = dashboardHandler(wall, { ...(token !== null ? { token } : {}), timeline, interval: '1s' });
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  fx = { wall, clock, entries, notes, port: (server.address() as AddressInfo).port, server, handler };
  return fx;
}

afterEach(async () => {
  if (fx === undefined) return;
  fx.handler.close();
  fx.server.closeAllConnections();
  await new Promise<void>((r) => fx!.server.close(() => r()));
  await fx.wall.close();
  fx = undefined;
});

function post(port: number, path: string, body: string | Buffer, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-length': String(Buffer.byteLength(body)), ...headers } }, (res) => {
      let data = '';
      res.on('data', (c: Buffer) => (data += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const good = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, 'x-blastwall-action': '1' };

describe('dashboard actions are guarded', () => {
  it('an action with the token, the header and a JSON body is applied and recorded with who and why', async () => {
    const f = await start();
    const r = await post(f.port, '/actions/mode', JSON.stringify({ mode: 'degraded', reason: 'payments flapping', by: 'ana' }), good);
    expect(r.status).toBe(200);
    expect(f.wall.mode).toBe('degraded');
    expect(f.entries.at(-1)).toMatchObject({ kind: 'mode', title: expect.stringContaining('payments flapping (by ana)') });
    const n = await post(f.port, '/actions/note', JSON.stringify({ text: 'rolled back v42', by: 'ana' }), good);
    expect(n.status).toBe(200);
    expect(f.notes).toEqual(['ana: rolled back v42']);
    const i = await post(f.port, '/actions/incident', JSON.stringify({ title: 'checkout failing', lead: 'bo', by: 'ana' }), good);
    expect(i.status).toBe(200);
    expect(f.wall.incident).toMatchObject({ lead: 'bo' });
    const ft = await post(f.port, '/actions/feature', JSON.stringify({ feature: 'recs-panel', state: 'off', reason: 'save capacity', by: 'ana' }), good);
    expect(ft.status).toBe(200);
    expect(f.wall.enabled('recs-panel')).toBe(false);
  });

  const refusals: [string, Record<string, string>, string, number][] = [
    ['no token', { 'content-type': 'application/json', 'x-blastwall-action': '1' }, '', 401],
    ['a tampered token', { ...good, authorization: `Bearer ${TOKEN.slice(0, -1)}x` }, '', 401],
    ['a token with a suffix', { ...good, authorization: `Bearer ${TOKEN}0` }, '', 401],
    ['no action header (a plain cross-site fetch)', { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, '', 403],
    ['a cross-site Sec-Fetch-Site', { ...good, 'sec-fetch-site': 'cross-site' }, '', 403],
    ['a foreign Origin', { ...good, origin: 'http://evil.example' }, '', 403],
    ['an opaque Origin', { ...good, origin: 'null' }, '', 403],
    ['a form post', { ...good, 'content-type': 'application/x-www-form-urlencoded' }, '', 415],
    ['a multipart post', { ...good, 'content-type': 'multipart/form-data; boundary=x' }, '', 415],
  ];
  for (const [what, headers, , status] of refusals) {
    it(`${what} → ${status}, nothing written`, async () => {
      const f = await start();
      const before = f.entries.length;
      const r = await post(f.port, '/actions/mode', JSON.stringify({ mode: 'shedding', reason: 'x', by: 'mallory' }), headers);
      expect(r.status).toBe(status);
      expect(JSON.parse(r.body)).toMatchObject({ status });
      expect(f.wall.mode).toBe('normal');
      expect(f.entries.length).toBe(before);
    });
  }

  it('an oversized note → 413, nothing written', async () => {
    const f = await start();
    const r = await post(f.port, '/actions/note', JSON.stringify({ text: 'x'.repeat(50_000), by: 'ana' }), good);
    expect(r.status).toBe(413);
    expect(f.notes).toEqual([]);
  });

  it('invalid fields → 400 naming the field, nothing applied', async () => {
    const f = await start();
    for (const body of [{ mode: 'panic', reason: 'x', by: 'a' }, { mode: 'degraded', reason: '', by: 'a' }, { mode: 'degraded', reason: 'x' }, [1, 2], 'nope']) {
      const r = await post(f.port, '/actions/mode', JSON.stringify(body), good);
      expect(r.status).toBe(400);
    }
    expect((await post(f.port, '/actions/mode', '{not json', good)).status).toBe(400);
    expect((await post(f.port, '/actions/feature', JSON.stringify({ feature: 'nope', state: 'off', reason: 'x', by: 'a' }), good)).status).toBe(400);
    expect((await post(f.port, '/actions/launch-missiles', JSON.stringify({ by: 'a' }), good)).status).toBe(404);
    expect(f.wall.mode).toBe('normal');
    expect(f.entries.filter((e) => e.kind === 'mode')).toEqual([]);
  });

  it('without a token the dashboard is read-only: the state says so and every action is refused', async () => {
    const f = await start(null);
    const r = await post(f.port, '/actions/mode', JSON.stringify({ mode: 'shedding', reason: 'x', by: 'a' }), good);
    expect(r.status).toBe(403);
    const state = (await (await fetch(`http://127.0.0.1:${f.port}/state.json`)).json()) as { actions: boolean; impact: { capabilities: { name: string }[] } };
    expect(state.actions).toBe(false);
    expect(state.impact.capabilities[0]!.name).toBe('customers can pay');
    expect(f.wall.mode).toBe('normal');
  });

  it('a short token is refused at construction', () => {
    const wall = createWall({ service: 's', clock: new FakeClock() });
    expect(() => dashboardHandler(wall, { token: 'short' })).toThrow(/`token`.*16 characters/);
    void wall.close();
  });
});

describe('dashboard events', () => {
  it('watches the wall only while a client is connected', async () => {
    const f = await start();
    const idleTimers = f.clock.pendingTimers();
    const controller = new AbortController();
    const res = await fetch(`http://127.0.0.1:${f.port}/events`, { signal: controller.signal });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    await untilTurns(() => f.handler.watchers() === 1, 'the handler to see the client');
    expect(f.handler.watchers()).toBe(1);
    await f.clock.advance(0); // the first push
    let text = '';
    while (!text.includes('event: state')) text += new TextDecoder().decode((await reader.read()).value);
    // a wall event while watched is pushed
    f.wall.setMode('degraded', { reason: 'watch me', until: undefined as never });
    await f.clock.advance(60);
    while (!text.includes('watch me')) text += new TextDecoder().decode((await reader.read()).value);
    expect(f.clock.pendingTimers()).toBeGreaterThan(idleTimers);
    controller.abort();
    await untilTurns(() => f.handler.watchers() === 0, 'the handler to see the client leave');
    expect(f.handler.watchers()).toBe(0);
    expect(f.clock.pendingTimers()).toBe(idleTimers); // no timer left behind: nothing runs when nobody watches
  });

  it('serves the page, uPlot from its package, and nothing outside the dashboard folder', async () => {
    const f = await start();
    const base = `http://127.0.0.1:${f.port}`;
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await page.text()).toContain('<main>');
    expect((await fetch(`${base}/vendor/uPlot.esm.js`)).status).toBe(200);
    expect((await fetch(`${base}/..%2fpackage.json`)).status).toBe(404);
    expect((await fetch(`${base}/../package.json`)).status).toBe(404);
    expect((await fetch(`${base}/state.json`, { method: 'DELETE' })).status).toBe(405);
  });
});

describe('dashboard mounts', () => {
  it('works as Express middleware under a path, actions included', async () => {
    const { default: express } = await import('express');
    const clock = new FakeClock(1_700_000_000_000);
    const wall = createWall({ service: 'shop', clock, drift: false });
    const handler = dashboardHandler(wall, { token: TOKEN });
    const app = express();
    app.use('/ops/dashboard', handler);
    const server = createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const redirect = await fetch(`${base}/ops/dashboard`, { redirect: 'manual' });
      expect(redirect.status).toBe(308);
      expect(redirect.headers.get('location')).toBe('/ops/dashboard/');
      expect((await fetch(`${base}/ops/dashboard/`)).status).toBe(200);
      expect(((await (await fetch(`${base}/ops/dashboard/state.json`)).json()) as { service: string }).service).toBe('shop');
      const r = await post((server.address() as AddressInfo).port, '/ops/dashboard/actions/mode', JSON.stringify({ mode: 'degraded', reason: 'by express', by: 'ana' }), good);
      expect(r.status).toBe(200);
      expect(wall.mode).toBe('degraded');
    } finally {
      handler.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await wall.close();
    }
  });

  it('works under a prefix in a plain node:http server', async () => {
    const clock = new FakeClock(1_700_000_000_000);
    const wall = createWall({ service: 'shop', clock, drift: false });
    const handler = dashboardHandler(wall, { prefix: '/ops/' });
    const server = createServer(handler);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      expect((await fetch(`${base}/ops`, { redirect: 'manual' })).headers.get('location')).toBe('/ops/');
      expect((await fetch(`${base}/ops/state.json`)).status).toBe(200);
      expect((await fetch(`${base}/state.json`)).status).toBe(404);
    } finally {
      handler.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await wall.close();
    }
  });
});

describe('dashboard fleet', () => {
  it('adds every instance to the state; a fleet that cannot be read is null, the rest of the state is served', async () => {
    const clock = new FakeClock(1_700_000_000_000);
    const wall = createWall({ service: 'shop', clock, drift: false });
    let fail = false;
    const member = { instance: 'shop-2', service: 'shop', status: 'degraded', mode: 'normal', dependencies: { payments: 'degraded' }, ageMs: 40_000, gone: true, health: {} };
    const handler = dashboardHandler(wall, { fleet: () => (fail ? Promise.reject(new Error('pg down')) : Promise.resolve([member])) });
    expect(() => dashboardHandler(wall, { fleet: 'postgres://x' as never })).toThrow(/`fleet`/);
    const server = createServer(handler);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/state.json`;
    try {
      const s = (await (await fetch(url)).json()) as { fleet: unknown[] | null; service: string };
      expect(s.fleet).toEqual([{ instance: 'shop-2', service: 'shop', status: 'degraded', mode: 'normal', dependencies: { payments: 'degraded' }, ageMs: 40_000, gone: true }]);
      fail = true;
      const s2 = (await (await fetch(url)).json()) as { fleet: unknown[] | null; service: string };
      expect(s2.fleet).toBeNull();
      expect(s2.service).toBe('shop');
    } finally {
      handler.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await wall.close();
    }
  });
});
