/**
 * Must-show 3 of issue 14: three shop instances, each its own process, share one PostgreSQL timeline.
 * The fleet view shows each instance's state and one merged timeline with entries from all three; an
 * instance killed with SIGKILL (no goodbye, no flush) shows as gone within its heartbeat timeout; one shut
 * down with SIGTERM shows as stopped.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, expect, it, vi } from 'vitest';
import { run } from '../../src/cli/main.js';
import { type FleetInstance, fleetState } from '../../src/timeline/index.js';
import { queryFleetTimeline } from '../../src/timeline/postgres.js';
import { PG_URL, pgAvailable } from '../support/services.js';

const up = await pgAvailable();
const schema = `bw_fleet_${randomBytes(5).toString('hex')}`;
const pool = up ? new pg.Pool({ connectionString: PG_URL, max: 2 }) : undefined;
const children: ChildProcess[] = [];
const EVERY_MS = 250;
const TIMEOUT_MS = 2000;

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', r)))));
  await pool?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool?.end();
});

/** Starts one instance and resolves once its first timeline entry is in PostgreSQL. */
function startInstance(instance: string, fault: 'none' | 'payments' | 'read-only'): Promise<ChildProcess> {
  const fixture = fileURLToPath(new URL('./fixtures/fleet-instance.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    env: { ...process.env, FLEET_PG_URL: PG_URL, FLEET_SCHEMA: schema, FLEET_INSTANCE: instance, FLEET_FAULT: fault, FLEET_EVERY_MS: String(EVERY_MS), FLEET_TIMEOUT_MS: String(TIMEOUT_MS) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`instance ${instance}: no "ready" in 30s: ${out}`)), 30_000);
    child.stdout.on('data', () => {
      if (out.includes('ready')) {
        clearTimeout(t);
        resolve(child);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`instance ${instance} exited with ${code}: ${out}`));
    });
  });
}

const byId = (fleet: FleetInstance[]): Record<string, FleetInstance> => Object.fromEntries(fleet.map((i) => [i.instance, i]));

it.skipIf(!up)('three shop processes share one timeline; the fleet view shows each state, and a SIGKILLed one as gone within its heartbeat timeout', { timeout: 90_000 }, async () => {
  const [a, , c] = await Promise.all([startInstance('shop-a', 'none'), startInstance('shop-b', 'payments'), startInstance('shop-c', 'read-only')]);

  // each instance's state, as its own heartbeat told it: b's payments failing, c in the mode its operator set
  await vi.waitFor(
    async () => {
      const f = byId(await fleetState({ pool: pool!, schema }));
      expect(Object.keys(f).sort()).toEqual(['shop-a', 'shop-b', 'shop-c']);
      expect(f['shop-a']).toMatchObject({ service: 'shop', status: 'ok', mode: 'normal', gone: false, dependencies: { payments: 'healthy' } });
      expect(f['shop-b']!.dependencies.payments).not.toBe('healthy');
      expect(f['shop-b']!.status).not.toBe('ok');
      expect(f['shop-c']).toMatchObject({ mode: 'read-only', gone: false });
      for (const i of Object.values(f)) expect(i.heartbeatTimeoutMs).toBe(TIMEOUT_MS);
    },
    { timeout: 20_000, interval: 200 },
  );

  // one merged timeline: entries of all three, ordered by time, each tagged with its instance
  const merged = await queryFleetTimeline(pool!, schema);
  expect(new Set(merged.map((e) => e.instance))).toEqual(new Set(['shop-a', 'shop-b', 'shop-c']));
  expect(merged.filter((e) => e.kind === 'note').map((e) => e.title).sort()).toEqual(['shop-a started', 'shop-b started', 'shop-c started']);
  expect(merged.some((e) => e.instance === 'shop-b' && e.dependency === 'payments' && (e.kind === 'health' || e.kind === 'breaker'))).toBe(true);
  expect(merged.some((e) => e.instance === 'shop-c' && e.kind === 'mode')).toBe(true);
  expect(merged.map((e) => e.at)).toEqual([...merged.map((e) => e.at)].sort((x, y) => x - y));

  // the CLI shows the same picture
  const lines: string[] = [];
  expect(await run(['timeline', '--url', PG_URL, '--schema', schema, '--fleet'], { out: (s) => lines.push(s), err: (s) => lines.push(s) })).toBe(0);
  const text = lines.join('\n');
  for (const id of ['shop-a', 'shop-b', 'shop-c']) expect(text).toMatch(new RegExp(`^${id}\\s+shop\\s+\\S+\\s+\\S+\\s+up\\b`, 'm'));
  expect(text).toMatch(/shop-c\s+.*read-only/);
  expect(text).toContain('shop-b started');

  // SIGKILL: no flush, no last heartbeat; the database's clock ages its row past the timeout
  a.kill('SIGKILL');
  const killedAt = Date.now();
  let goneAfter = 0;
  await vi.waitFor(
    async () => {
      const f = byId(await fleetState({ pool: pool!, schema }));
      expect(f['shop-a']).toMatchObject({ gone: true, stopped: false });
      goneAfter = Date.now() - killedAt;
      expect(f['shop-b']!.gone).toBe(false);
      expect(f['shop-c']!.gone).toBe(false);
    },
    { timeout: TIMEOUT_MS + 5000, interval: 100 },
  );
  // within its heartbeat timeout, give or take one poll and one query
  expect(goneAfter).toBeLessThanOrEqual(TIMEOUT_MS + 500);
  // and not before its last heartbeat aged past the timeout: it was alive up to the kill
  expect(goneAfter).toBeGreaterThanOrEqual(TIMEOUT_MS / 2);

  const after: string[] = [];
  await run(['timeline', '--url', PG_URL, '--schema', schema, '--fleet'], { out: (s) => after.push(s), err: (s) => after.push(s) });
  expect(after.join('\n')).toMatch(/^shop-a\s+shop\s+.*\bgone\b/m);
  // its entries stay in the merged timeline
  expect((await queryFleetTimeline(pool!, schema, { instance: 'shop-a' })).length).toBeGreaterThan(0);

  // an instance that shuts down (SIGTERM: stop the heartbeat, close the wall) is told apart from the crashed one
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  expect(await exited).toBe(0);
  const f = byId(await fleetState({ pool: pool!, schema }));
  expect(f['shop-c']).toMatchObject({ gone: true, stopped: true });
  expect(f['shop-a']).toMatchObject({ gone: true, stopped: false });
  expect(f['shop-b']).toMatchObject({ gone: false, stopped: false });
});
