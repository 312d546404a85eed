import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.js';
import { startDashboardServer } from '../../src/cli/dashboard.js';
import { createTimeline } from '../../src/timeline/index.js';

const dir = mkdtempSync(join(tmpdir(), 'bw-dash-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capture(): { out: string[]; err: string[]; io: { out: (s: string) => void; err: (s: string) => void } } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (s) => void out.push(s), err: (s) => void err.push(s) } };
}

describe('blastwall dashboard', () => {
  it('a timeline file that does not exist: a clear message, exit 2, nothing created', async () => {
    const c = capture();
    const path = join(dir, 'missing.db');
    expect(await run(['dashboard', '--db', path], c.io)).toBe(2);
    expect(c.err.join('\n')).toContain(`no timeline at ${path}`);
    const { existsSync } = await import('node:fs');
    expect(existsSync(path)).toBe(false);
  });

  it('bad usage: exit 2 with the usage', async () => {
    for (const argv of [['dashboard'], ['dashboard', '--db', 'a', '--url', 'http://x'], ['dashboard', '--url', 'ftp://x'], ['dashboard', '--db', 'a', '--port', '99999'], ['dashboard', '--pg', 'mysql://x'], ['dashboard', '--db', 'a', '--schema', 'x'], ['dashboard', '--db', 'a', '--pg', 'postgres://x']]) {
      const c = capture();
      expect(await run(argv, c.io)).toBe(2);
      expect(c.err.join('\n')).toContain('Usage: blastwall dashboard');
    }
  });

  it('serves a read-only view of a timeline file on 127.0.0.1, and refuses actions', async () => {
    const path = join(dir, 'timeline.db');
    const t = createTimeline({ path, service: 'shop' });
    t.record({ kind: 'health', severity: 'critical', title: 'payments healthy → unavailable: 100% failing', dependency: 'payments', data: { from: 'healthy', to: 'unavailable', reason: '100% failing', criticality: 'core', owner: 'team-pay' } });
    t.record({ kind: 'incident', severity: 'critical', title: 'incident declared', data: { lead: 'ana', title: 'payments down' } });
    t.note('looking at it', 'bo');
    t.close();
    const server = await startDashboardServer({ db: path, host: '127.0.0.1', port: 0 });
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const state = (await (await fetch(`${server.url}state.json`)).json()) as { source: string; actions: boolean; incident: { lead: string }; dependencies: { name: string; state: string; owner: string }[]; timeline: unknown[] };
      expect(state).toMatchObject({ source: 'timeline', actions: false, incident: { lead: 'ana' } });
      expect(state.dependencies).toEqual([expect.objectContaining({ name: 'payments', state: 'unavailable', owner: 'team-pay' })]);
      expect(state.timeline).toHaveLength(3);
      const r = await fetch(`${server.url}actions/note`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-blastwall-action': '1', authorization: 'Bearer whatever-token-000000' }, body: '{"text":"x","by":"y"}' });
      expect(r.status).toBe(403);
      expect((await fetch(server.url)).status).toBe(200);
    } finally {
      await server.close();
    }
    const again = createTimeline({ path, service: 'shop' });
    expect(again.query({}).length).toBe(3); // nothing written by the dashboard
    again.close();
  });

  it('--url shows another dashboard read-only', async () => {
    const path = join(dir, 'timeline2.db');
    const t = createTimeline({ path, service: 'shop' });
    t.note('hello', 'bo');
    t.close();
    const upstream = await startDashboardServer({ db: path, host: '127.0.0.1', port: 0 });
    const view = await startDashboardServer({ url: upstream.url, host: '127.0.0.1', port: 0 });
    try {
      const state = (await (await fetch(`${view.url}state.json`)).json()) as { source: string; timeline: { title: string }[] };
      expect(state.source).toBe('url');
      expect(state.timeline.map((e) => e.title)).toEqual(['hello']);
    } finally {
      await view.close();
      await upstream.close();
    }
  });
});
