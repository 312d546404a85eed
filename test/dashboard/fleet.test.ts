/**
 * `blastwall dashboard --pg`: the fleet in a real PostgreSQL — every instance's heartbeat, the merged timeline
 * with each entry's instance, and an instance whose heartbeats stop shown as gone within its timeout.
 */
import { untilAsync } from '../support/turns.js';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { startDashboardServer } from '../../src/cli/dashboard.js';
import { createTimeline, publishHeartbeat } from '../../src/timeline/index.js';
import { createWall } from '../../src/wall/wall.js';
import { PG_URL, pgAvailable } from '../support/services.js';

const up = await pgAvailable();
const schema = `bw_dash_${randomBytes(5).toString('hex')}`;

afterAll(async () => {
  if (!up) return;
  const pool = new pg.Pool({ connectionString: PG_URL, max: 1 });
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool.end();
});

interface FleetView {
  fleet: { instance: string; status: string; gone: boolean; dependencies: Record<string, string> }[] | null;
  timeline: { title: string; instance?: string }[];
}

it.skipIf(!up)('shows every instance of the fleet, the merged timeline, and an instance gone within its heartbeat timeout', { timeout: 30_000 }, async () => {
  const instances = ['shop-x', 'shop-y'].map((instance) => {
    const timeline = createTimeline({ url: PG_URL, schema, service: 'shop', instance, flushEvery: '50ms' });
    const wall = createWall({ service: 'shop', timeline, drift: false });
    wall.dependency('payments', { criticality: 'core' });
    const stop = publishHeartbeat(wall, { url: PG_URL, schema, instance, every: '100ms', timeout: '600ms' });
    timeline.note(`hello from ${instance}`, 'test');
    return { instance, timeline, wall, stop };
  });
  const server = await startDashboardServer({ pg: PG_URL, schema, host: '127.0.0.1', port: 0 });
  const read = async (): Promise<FleetView> => (await (await fetch(`${server.url}state.json`)).json()) as FleetView;
  // heartbeats and the gone judgement run on real time in PostgreSQL: each look is one real request
  const until = (ok: (s: FleetView) => boolean): Promise<FleetView> => untilAsync(read, ok, 'the fleet view to change', 20_000);
  try {
    const s = await until((v) => (v.fleet?.length ?? 0) === 2 && v.timeline.length >= 2);
    expect(s.fleet!.map((i) => [i.instance, i.gone, i.dependencies.payments])).toEqual([
      ['shop-x', false, 'healthy'],
      ['shop-y', false, 'healthy'],
    ]);
    expect(s.timeline.map((e) => [e.instance, e.title]).sort()).toEqual([
      ['shop-x', 'hello from shop-x'],
      ['shop-y', 'hello from shop-y'],
    ]);
    // shop-y stops beating: gone within its 600 ms timeout (read at most a few polls later)
    const stoppedAt = Date.now();
    await instances[1]!.stop();
    const gone = await until((v) => v.fleet?.find((i) => i.instance === 'shop-y')?.gone === true);
    expect(gone.fleet!.find((i) => i.instance === 'shop-y')!.gone).toBe(true);
    expect(gone.fleet!.find((i) => i.instance === 'shop-x')!.gone).toBe(false);
    expect(Date.now() - stoppedAt).toBeLessThan(5000);
  } finally {
    await server.close();
    for (const i of instances) {
      await i.stop();
      await i.wall.close();
      await i.timeline.close();
    }
  }
});
