import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.js';
import { nodeHandler } from '../../src/http/index.js';
import { createWall } from '../../src/index.js';

describe('blastwall audit --url: a running service serves its topology', () => {
  it('serves blastwall.topology/v1 only when enabled, and the audit reads it', async () => {
    const wall = createWall({ service: 'orders', drift: false });
    const db = wall.dependency('db', { timeout: false, owner: 'data-team' });
    const list = wall.operation('list', { priority: 'critical', deadline: '1s' });
    await list.run(() => db.call(() => 'rows'));
    const on = createServer(nodeHandler(wall, (_req, res) => res.end('ok'), { topologyPath: '/blastwall/topology', admission: false }));
    const off = createServer(nodeHandler(wall, (_req, res) => res.end('ok'), { admission: false }));
    await Promise.all([on, off].map((s) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))));
    const url = (s: typeof on) => `http://127.0.0.1:${(s.address() as AddressInfo).port}/blastwall/topology`;
    try {
      const res = await fetch(url(on));
      expect(res.status).toBe(200);
      const doc = (await res.json()) as { schema: string; dependencies: { name: string; owner?: string; source?: { file: string } }[] };
      expect(doc.schema).toBe('blastwall.topology/v1');
      expect(doc.dependencies[0]).toMatchObject({ name: 'db', owner: 'data-team' });
      expect(doc.dependencies[0]?.source?.file).toMatch(/url\.test\.ts$/);
      // off by default: the path is an ordinary route (the handler answers), not the topology
      expect(await (await fetch(url(off))).text()).toBe('ok');

      const out: string[] = [];
      const err: string[] = [];
      const code = await run(['audit', '--url', url(on), '--format', 'json'], { out: (s) => out.push(s), err: (s) => err.push(s) });
      expect(err).toEqual([]);
      expect(code).toBe(0);
      const audit = JSON.parse(out.join('\n')) as { findings: { ruleId: string }[] };
      expect(audit.findings.map((f) => f.ruleId)).toContain('BW001'); // core dependency without a timeout
    } finally {
      await Promise.all([on, off].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      await wall.close();
    }
  });
});
