/**
 * The fault admin route on a real node:http server (127.0.0.1): 404 when faults are off, 401 without the
 * bearer token, and with it inject / list / stop / clear, with field-named errors for bad input.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createWall, type Wall } from '../../src/index.js';
import { FakeClock, faultsHandler } from '../../src/testing/index.js';
import { tokenMatches } from '../../src/http/faults-route.js';
import { createHash } from 'node:crypto';

const TOKEN = 'drill-token-0123456789';
const opened: { server: Server; wall: Wall }[] = [];
afterEach(async () => {
  for (const o of opened.splice(0)) {
    await new Promise((r) => o.server.close(r));
    await o.wall.close();
  }
});

async function serve(faults: boolean): Promise<{ url: string; wall: Wall }> {
  const wall = createWall({ service: 'admin', clock: new FakeClock(), faults });
  wall.dependency('payments', {});
  const handler = faultsHandler(wall, { token: TOKEN });
  const server = createServer((req, res) =>
    handler(req, res, () => {
      res.writeHead(200);
      res.end('app');
    }),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  opened.push({ server, wall });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, wall };
}

const auth = { authorization: `Bearer ${TOKEN}` };

describe('the fault admin route', () => {
  it('does not exist when faults are off (404), and other paths pass through', async () => {
    const { url } = await serve(false);
    expect((await fetch(`${url}/_blastwall/faults`, { headers: auth })).status).toBe(404);
    expect((await fetch(`${url}/_blastwall/faults`, { method: 'POST', headers: auth, body: '{}' })).status).toBe(404);
    expect(await (await fetch(`${url}/checkout`)).text()).toBe('app');
  });

  it('refuses without the token or with a wrong one (401), and injects nothing', async () => {
    const { url, wall } = await serve(true);
    const body = JSON.stringify({ dependency: 'payments', fault: { kind: 'error' } });
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: TOKEN }, { authorization: `Basic ${TOKEN}` }]) {
      const res = await fetch(`${url}/_blastwall/faults`, { method: 'POST', headers, body });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
    expect(wall.faults.active()).toEqual([]);
  });

  it('with the token: inject, list, stop one, clear all; bad input is a 400 naming the field', async () => {
    const { url, wall } = await serve(true);
    const post = (b: unknown) => fetch(`${url}/_blastwall/faults`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(b) });
    const created = await post({ dependency: 'payments', fault: { kind: 'latency', delay: '200ms' }, options: { for: '30s', rate: 0.5 } });
    expect(created.status).toBe(201);
    const a = (await created.json()) as { id: number; description: string; rate: number };
    expect(a).toMatchObject({ description: 'latency 200ms', rate: 0.5 });
    expect((await post({ dependency: 'payments', fault: { kind: 'error', status: 503, retryAfter: '2s' } })).status).toBe(201);
    const list = (await (await fetch(`${url}/_blastwall/faults`, { headers: auth })).json()) as { active: unknown[] };
    expect(list.active).toHaveLength(2);
    expect((await fetch(`${url}/_blastwall/faults/${a.id}`, { method: 'DELETE', headers: auth })).status).toBe(200);
    expect((await fetch(`${url}/_blastwall/faults/${a.id}`, { method: 'DELETE', headers: auth })).status).toBe(404);
    expect(await (await fetch(`${url}/_blastwall/faults`, { method: 'DELETE', headers: auth })).json()).toEqual({ cleared: 1 });
    expect(wall.faults.active()).toEqual([]);

    const bad = await post({ dependency: 'payments', fault: { kind: 'latency', delay: -5 } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/^Expected `fault\.delay` to be a duration ≥ 0ms/);
    const unknown = await post({ dependency: 'ledger', fault: { kind: 'hang' } });
    expect(((await unknown.json()) as { message: string }).message).toBe('Expected `dependency` to be the name of a declared dependency, got `"ledger"` (string)');
    const notJson = await fetch(`${url}/_blastwall/faults`, { method: 'POST', headers: auth, body: '{nope' });
    expect(notJson.status).toBe(400);
    const huge = await fetch(`${url}/_blastwall/faults`, { method: 'POST', headers: auth, body: 'x'.repeat(20_000) });
    expect(huge.status).toBe(413);
    expect(wall.faults.active()).toEqual([]);
  });

  it('needs a real secret, compared in constant time', () => {
    const wall = createWall({ service: 'x', clock: new FakeClock(), faults: true });
    expect(() => faultsHandler(wall, { token: 'short' })).toThrow(/^Expected `token` to be a secret of at least 16 characters/);
    const expected = createHash('sha256').update(TOKEN).digest();
    expect(tokenMatches(TOKEN, expected)).toBe(true);
    expect(tokenMatches(`${TOKEN}x`, expected)).toBe(false);
    expect(tokenMatches(undefined, expected)).toBe(false);
    void wall.close();
  });
});
