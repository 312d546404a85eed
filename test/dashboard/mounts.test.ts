import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/core/fake-clock.js';
import { createWall } from '../../src/wall/wall.js';
import { dashboardFastify, dashboardHandler, dashboardHono } from '../../src/dashboard/index.js';

const TOKEN = 'a-long-operator-token-0123456789';
const act = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, 'x-blastwall-action': '1' };

async function exercise(base: string, wall: ReturnType<typeof createWall>): Promise<void> {
  expect((await fetch(`${base}/ops/`)).status).toBe(200);
  const state = (await (await fetch(`${base}/ops/state.json`)).json()) as { service: string; actions: boolean };
  expect(state).toMatchObject({ service: 'shop', actions: true });
  const ok = await fetch(`${base}/ops/actions/mode`, { method: 'POST', headers: act, body: JSON.stringify({ mode: 'degraded', reason: 'mounted', by: 'ana' }) });
  expect(ok.status).toBe(200);
  expect(wall.mode).toBe('degraded');
  const big = await fetch(`${base}/ops/actions/note`, { method: 'POST', headers: act, body: JSON.stringify({ text: 'x'.repeat(20_000), by: 'ana' }) });
  expect(big.status).toBe(413);
  const forged = await fetch(`${base}/ops/actions/mode`, { method: 'POST', headers: { ...act, 'content-type': 'application/x-www-form-urlencoded' }, body: 'mode=shedding' });
  expect(forged.status).toBe(415);
  expect(wall.mode).toBe('degraded');
}

describe('dashboard mounts', () => {
  it('Fastify: registered under a prefix, the body left to the dashboard', async () => {
    const { default: Fastify } = await import('fastify');
    const wall = createWall({ service: 'shop', clock: new FakeClock(), drift: false });
    const handler = dashboardHandler(wall, { token: TOKEN, prefix: '/ops' });
    const app = Fastify();
    await app.register(dashboardFastify(handler) as never, { prefix: '/ops' });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    try {
      await exercise(base, wall);
    } finally {
      handler.close();
      await app.close();
      await wall.close();
    }
  });

  it('Hono on @hono/node-server', async () => {
    const { Hono } = await import('hono');
    const { serve } = await import('@hono/node-server');
    const wall = createWall({ service: 'shop', clock: new FakeClock(), drift: false });
    const handler = dashboardHandler(wall, { token: TOKEN, prefix: '/ops' });
    const app = new Hono();
    app.all('/ops/*', dashboardHono(handler) as never);
    const server = await new Promise<Server>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s as Server));
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      await exercise(base, wall);
      // outside node-server there is no node:http request to hand over
      const r = dashboardHono(handler)({ env: {} });
      expect(r.status).toBe(501);
    } finally {
      handler.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await wall.close();
    }
  });
});
