/**
 * The PostgreSQL timeline and the heartbeats, in one process against the real server (a random schema per
 * run, dropped afterwards); the three-process fleet is in fleet.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { run } from '../../src/cli/main.js';
import { FakeClock } from '../../src/core/fake-clock.js';
import { createWall } from '../../src/wall/index.js';
import { PostgresTimeline, Timeline, createTimeline, fleetState, publishHeartbeat } from '../../src/timeline/index.js';
import { loadPg } from '../../src/timeline/postgres.js';
import { untilTurns } from '../support/turns.js';
import { PG_URL, pgAvailable } from '../support/services.js';

const up = await pgAvailable();
const admin = up ? new pg.Pool({ connectionString: PG_URL, max: 2 }) : undefined;
const schemas: string[] = [];
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
  vi.restoreAllMocks();
});
afterAll(async () => {
  for (const s of schemas) await admin?.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  await admin?.end();
});

function freshSchema(): string {
  const schema = `bw_fleet_${randomBytes(5).toString('hex')}`;
  schemas.push(schema);
  return schema;
}

function pgTimeline(options: Partial<ConstructorParameters<typeof PostgresTimeline>[0]> = {}): PostgresTimeline {
  const t = createTimeline({ url: PG_URL, service: 'shop', ...options });
  closers.push(() => t.close());
  return t;
}

/** Nothing listens there: connections are refused at once. */
const DEAD_URL = 'postgres://postgres@127.0.0.1:1/test';

describe('createTimeline', () => {
  it('opens SQLite without a url and PostgreSQL with one', () => {
    const sqlite = createTimeline({ path: ':memory:' });
    expect(sqlite).toBeInstanceOf(Timeline);
    sqlite.close();
    const t = pgTimeline({ url: DEAD_URL, instance: 'a', schema: 'unused' });
    expect(t).toBeInstanceOf(PostgresTimeline);
    expect(t.instance).toBe('a');
  });

  it('refuses bad options with the field named', () => {
    expect(() => createTimeline({ url: 'mysql://x' })).toThrow(/`url`.*postgres:\/\/ URL/);
    expect(() => createTimeline({ url: PG_URL, schema: 'Drop Table' })).toThrow(/`schema`/);
    expect(() => createTimeline({ url: PG_URL, bufferSize: 0 })).toThrow(/`bufferSize`/);
  });

  it('names the missing package when `pg` is not installed', () => {
    const missing = (id: string): never => {
      throw Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
    };
    expect(() => loadPg(missing)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringMatching(/needs the `pg` package.*npm install pg/) as unknown }));
    expect(loadPg().Pool).toBe(pg.Pool);
  });

  it('takes the instance id from BLASTWALL_INSTANCE, else hostname-pid', () => {
    vi.stubEnv('BLASTWALL_INSTANCE', 'from-env');
    expect(pgTimeline({ url: DEAD_URL }).instance).toBe('from-env');
    vi.stubEnv('BLASTWALL_INSTANCE', '');
    expect(pgTimeline({ url: DEAD_URL }).instance).toMatch(new RegExp(`-${process.pid}$`));
    vi.unstubAllEnvs();
  });
});

describe('a dead PostgreSQL', () => {
  it('never blocks or throws on record: entries are buffered, bounded, dropped with a count, and the failure is one warning', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const clock = new FakeClock();
    const t = pgTimeline({ url: DEAD_URL, clock, bufferSize: 3, instance: 'a' });
    const results = [1, 2, 3, 4, 5].map((i) => t.record({ kind: 'note', severity: 'info', title: `n${i}` }));
    expect(results).toEqual([true, true, true, false, false]);
    expect(await t.flush()).toBe(0); // resolves, does not reject
    expect(await t.flush()).toBe(0);
    expect(t.stats()).toMatchObject({ written: 0, dropped: 2, buffered: 3 });
    expect(t.stats().lastError).toMatch(/cannot write the timeline to PostgreSQL/);
    expect(warn.mock.calls.filter(([m]) => String(m).includes('blastwall timeline'))).toHaveLength(1);
    await t.close();
    expect(t.stats()).toMatchObject({ dropped: 5, buffered: 0 });
  });

  it('a wall recording into it keeps answering, and its close() is not broken by the flush', async () => {
    vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const clock = new FakeClock();
    const t = pgTimeline({ url: DEAD_URL, clock, instance: 'a' });
    const wall = createWall({ service: 'shop', clock, timeline: t });
    const dep = wall.dependency('payments', { criticality: 'core', timeout: '50ms' });
    await expect(dep.call(() => Promise.resolve(7))).resolves.toBe(7);
    wall.markDeploy('v2', { by: 'ci' });
    await wall.close();
    await t.close();
  });

  it('a heartbeat to it fails quietly (one warning) and stops cleanly', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const clock = new FakeClock();
    const wall = createWall({ service: 'shop', clock });
    // a real pool to the dead server, counting the attempts that failed, so the test waits for each beat's
    // failure itself (event-loop turns) instead of sleeping
    const real = new pg.Pool({ connectionString: DEAD_URL });
    let failed = 0;
    const counted = <T>(p: Promise<T>): Promise<T> =>
      p.catch((e: unknown) => {
        failed++;
        throw e;
      });
    const pool = {
      query: (text: string, values?: unknown[]) => counted(real.query(text, values)),
      connect: () => counted(real.connect()),
      end: () => real.end(),
      on: (event: 'error', listener: (err: Error) => void) => real.on(event, listener),
    };
    const stop = publishHeartbeat(wall, { pool, every: '1s', instance: 'a' });
    await untilTurns(() => failed >= 1, 'the first heartbeat to fail');
    for (let i = 2; i <= 4; i++) {
      await clock.advance(1000);
      await untilTurns(() => failed >= i, `heartbeat ${i} to fail`);
    }
    await stop();
    await real.end();
    expect(clock.pendingTimers()).toBe(0);
    expect(warn.mock.calls.filter(([m]) => String(m).includes('blastwall heartbeat'))).toHaveLength(1);
    await wall.close();
  });
});

describe.skipIf(!up)('against PostgreSQL', () => {
  it('two instances write one table; query() answers the merged timeline ordered by time, each entry tagged', async () => {
    const schema = freshSchema();
    const clock = new FakeClock(1_000_000);
    const a = pgTimeline({ schema, clock, instance: 'a', flushEvery: '100ms' });
    const b = pgTimeline({ schema, clock, instance: 'b' });
    a.record({ kind: 'note', severity: 'info', title: 'a1', at: 1000 });
    b.record({ kind: 'health', severity: 'warning', title: 'b1', dependency: 'payments', at: 1500, data: { to: 'degraded' } });
    a.record({ kind: 'note', severity: 'info', title: 'a2', at: 2000 });
    b.mark('deploy', 'b2');
    // a's entries are written by its timer (the fake clock's), not by a query
    await clock.advance(100);
    expect(await a.flush()).toBe(0);
    expect(a.stats()).toMatchObject({ written: 2, buffered: 0 });
    const all = await b.query();
    expect(all.map((e) => [e.title, e.instance, e.service])).toEqual([
      ['a1', 'a', 'shop'],
      ['b1', 'b', 'shop'],
      ['a2', 'a', 'shop'],
      ['b2', 'b', 'shop'],
    ]);
    expect(all[1]!.data).toEqual({ to: 'degraded' });
    expect((await a.query({ instance: 'b', kind: 'health' })).map((e) => e.title)).toEqual(['b1']);
    expect((await a.query({ from: 1500, to: 2000 })).map((e) => e.title)).toEqual(['b1', 'a2']);
  });

  it('refuses a malformed entry at record(), so it can never poison a batch', async () => {
    const schema = freshSchema();
    const t = pgTimeline({ schema, instance: 'a' });
    expect(() => t.record({ kind: 'note', severity: 'loud' as 'info', title: 'x' })).toThrow(/entry.severity/);
    expect(() => t.record({ kind: 'note', severity: 'info', title: 'x', data: { n: 1n } })).toThrow(/JSON-serialisable/);
    t.note('kept', 'ana');
    expect((await t.query()).map((e) => [e.title, e.data])).toEqual([['kept', { author: 'ana' }]]);
  });

  it('heartbeats upsert one row per instance with the wall health; an instance past its timeout is gone', async () => {
    const schema = freshSchema();
    const clock = new FakeClock();
    const wall = createWall({ service: 'shop', clock });
    wall.dependency('payments', { criticality: 'core' });
    const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });
    closers.push(() => pool.end());
    const stop = publishHeartbeat(wall, { pool, schema, every: '1s', timeout: '1s', instance: 'a' });
    closers.push(stop);
    const seen = async () => (await fleetState({ pool, schema })).find((i) => i.instance === 'a');
    await vi.waitFor(async () => expect(await seen()).toBeDefined(), { timeout: 5000, interval: 20 });
    const first = (await seen())!;
    expect(first).toMatchObject({ service: 'shop', status: 'ok', mode: 'normal', gone: false, heartbeatTimeoutMs: 1000, dependencies: { payments: 'healthy' } });
    wall.setMode('degraded', { reason: 'drill' });
    await clock.advance(1000); // the next heartbeat, on the wall's clock
    await vi.waitFor(async () => expect((await seen())!.lastSeen).toBeGreaterThan(first.lastSeen), { timeout: 5000, interval: 20 });
    expect((await admin!.query(`SELECT count(*)::int AS n FROM "${schema}".blastwall_instances`)).rows[0].n).toBe(1);
    // the database's clock judges the age: move last_seen back instead of waiting
    await admin!.query(`UPDATE "${schema}".blastwall_instances SET last_seen = now() - interval '2 seconds'`);
    expect(await seen()).toMatchObject({ gone: true });
    expect((await fleetState({ pool, schema, heartbeatTimeout: '10s' }))[0]).toMatchObject({ gone: false, stopped: false });
    await stop();
    // stopped by its stop function: gone at once, and told apart from a crash; a new heartbeat revives it
    expect((await fleetState({ pool, schema, heartbeatTimeout: '10s' }))[0]).toMatchObject({ gone: true, stopped: true });
    const again = publishHeartbeat(wall, { pool, schema, every: '1s', instance: 'a' });
    closers.push(again);
    await vi.waitFor(async () => expect(await seen()).toMatchObject({ gone: false, stopped: false }), { timeout: 5000, interval: 20 });
    await again();
    await wall.close();
  });

  it('fleetState of a schema where nothing has published is empty', async () => {
    expect(await fleetState({ url: PG_URL, schema: freshSchema() })).toEqual([]);
  });

  it('a process that ends by itself writes what is buffered on the way out, and its pool does not hold it open', () => {
    const schema = freshSchema();
    const script = `import { createTimeline } from './src/timeline/index.ts';
      const t = createTimeline({ url: ${JSON.stringify(PG_URL)}, schema: '${schema}', instance: 'leaver', flushEvery: '1h' });
      t.note('written on the way out');`;
    const started = Date.now();
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status, r.stderr).toBe(0);
    // far below the pool's 10s idle timeout: the idle connection does not keep the process alive
    expect(Date.now() - started).toBeLessThan(9000);
    return admin!.query(`SELECT title, instance FROM "${schema}".blastwall_timeline`).then((q) => expect(q.rows).toEqual([{ title: 'written on the way out', instance: 'leaver' }]));
  });
});

describe('blastwall timeline --url', () => {
  const cli = async (args: string[]): Promise<{ code: number; text: string }> => {
    const lines: string[] = [];
    const code = await run(['timeline', ...args], { out: (s) => lines.push(s), err: (s) => lines.push(s) });
    return { code, text: lines.join('\n') };
  };

  it('refuses conflicting or incomplete options with a usage error', async () => {
    expect(await cli(['--fleet'])).toMatchObject({ code: 2, text: expect.stringMatching(/`--fleet` and `--schema` read a fleet in PostgreSQL: pass `--url/) as unknown });
    expect(await cli(['--db', 'x.db', '--url', PG_URL])).toMatchObject({ code: 2, text: expect.stringMatching(/name two timelines/) as unknown });
    expect(await cli(['--url', 'mysql://x'])).toMatchObject({ code: 2, text: expect.stringMatching(/Expected `--url` to be a postgres:\/\/ URL/) as unknown });
    expect(await cli(['--url', PG_URL, '--schema', 'Bad Name'])).toMatchObject({ code: 2, text: expect.stringMatching(/Expected `--schema`/) as unknown });
  });

  it('a server that cannot be reached is one clear line and exit code 1', async () => {
    const r = await cli(['--url', DEAD_URL, '--fleet']);
    expect(r.code).toBe(1);
    expect(r.text).toMatch(/^blastwall timeline: cannot read the fleet from PostgreSQL: .*ECONNREFUSED/);
  });

  it.skipIf(!up)('an empty schema says so instead of printing nothing', async () => {
    const r = await cli(['--url', PG_URL, '--schema', freshSchema(), '--fleet']);
    expect(r.code).toBe(0);
    expect(r.text).toMatch(/No instance has published a heartbeat in schema bw_fleet_/);
    expect(r.text).toMatch(/No timeline entries in schema bw_fleet_/);
  });
});
