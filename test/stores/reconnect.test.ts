/**
 * Connection loss and server restarts, seen from the client: a TCP proxy on 127.0.0.1 in front of the
 * real Redis / PostgreSQL cuts every connection and refuses new ones ("server down"), then accepts again
 * ("server back"). The store fails fast while down, shows as unavailable on the wall, and recovers.
 */
import { untilAsync } from '../support/turns.js';
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket, connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/core/fake-clock.js';
import { watchStore } from '../../src/integrity/watch.js';
import { PostgresStore, postgresStore } from '../../src/stores/postgres/index.js';
import { RedisStore, redisStore } from '../../src/stores/redis/index.js';
import type { IntegrityStore } from '../../src/stores/types.js';
import { createWall } from '../../src/wall/wall.js';
import { PG_URL, pgAvailable, REDIS_URL, redisAvailable } from '../support/services.js';

class ChaosProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;
  constructor(
    private readonly host: string,
    private readonly targetPort: number,
  ) {}
  async up(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(this.targetPort, this.host);
      this.sockets.add(client).add(upstream);
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => this.server!.listen(this.port, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }
  async down(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await new Promise((r) => this.server?.close(r));
  }
}

const redisUp = await redisAvailable();
const pgUp = await pgAvailable();
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

/**
 * Resolves once the store's client can reach the server again: an ioredis client reconnects by itself
 * and says so with `ready`; a pg pool opens a new connection on the next query, so it needs no wait.
 */
function reachable(store: IntegrityStore): Promise<void> {
  if (!(store instanceof RedisStore) || store.redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => store.redis.once('ready', () => resolve()));
}

async function outageAndRecovery(make: (port: number) => Promise<IntegrityStore>, target: URL): Promise<void> {
  const proxy = new ChaosProxy(target.hostname, Number(target.port));
  await proxy.up();
  const store = await make(proxy.port);
  // the wall's breaker runs on a fake clock: the half-open wait is advanced, not slept
  const clock = new FakeClock();
  const wall = createWall({ service: 'reconnect', clock });
  const watched = watchStore(wall, store, { timeout: '1s', halfOpenAfter: '200ms' });
  const name = `store:${store.kind}`;
  try {
    await watched.enqueue('q', [{ id: 'before', payload: 1, availableAt: clock.now() }], clock.now());

    await proxy.down();
    const failures: string[] = [];
    const t0 = Date.now();
    for (let i = 0; i < 8; i++) {
      failures.push(await watched.ping().then(() => 'ok', (e: { code?: string }) => e.code ?? 'error'));
    }
    expect(Date.now() - t0).toBeLessThan(8000); // refused connections fail at once, then the breaker fails fast
    expect(failures).not.toContain('ok');
    expect(failures).toContain('CIRCUIT_OPEN');
    expect(wall.health().dependencies[name]?.state).toBe('unavailable');

    await proxy.up(); // the server is back on the same port
    await reachable(store);
    await clock.advance(200); // the breaker's half-open wait
    const recovered = await watched.ping().then(
      () => true,
      () => false,
    );
    expect(recovered).toBe(true);
    await watched.enqueue('q', [{ id: 'after', payload: 2, availableAt: clock.now() }], clock.now());
    const leased = await watched.lease('q', 10, clock.now(), 1000);
    expect(leased.map((m) => m.id).sort()).toEqual(['after', 'before']);
    expect(wall.health().dependencies[name]?.breaker).toBe('closed');
  } finally {
    await wall.close();
    await store.close();
    await proxy.down();
  }
}

describe('stores survive connection loss and server restarts', () => {
  it.skipIf(!redisUp)('redis', async () => {
    const prefix = `bwt:{${randomBytes(4).toString('hex')}}:`;
    cleanups.push(async () => {
      const s = new RedisStore({ connection: REDIS_URL, prefix });
      await s.init();
      const keys = await s.redis.keys(`${prefix}*`);
      if (keys.length > 0) await s.redis.del(...keys);
      await s.close();
    });
    const target = new URL(REDIS_URL);
    target.port ||= '6379';
    await outageAndRecovery(async (port) => {
      const s = new RedisStore({ connection: `redis://127.0.0.1:${port}`, prefix, commandTimeoutMs: 500 });
      await s.init();
      return s;
    }, target);
  }, 30_000);

  it.skipIf(!pgUp)('postgres', async () => {
    const schema = `bw_t_${randomBytes(4).toString('hex')}`;
    cleanups.push(async () => {
      const c = new pg.Client(PG_URL);
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
    });
    const target = new URL(PG_URL);
    target.port ||= '5432';
    const user = target.username || 'postgres';
    await outageAndRecovery(async (port) => {
      const s = new PostgresStore({ connection: `postgres://${user}@127.0.0.1:${port}${target.pathname}`, schema, statementTimeoutMs: 500, poolSize: 2 });
      await s.init();
      return s;
    }, target);
  }, 30_000);
});

/**
 * A store whose server is down when the service starts (issue 17, finding 11): the factory resolves
 * with a store that answers STORE_UNAVAILABLE, the wall's `store:<kind>` shows it unavailable, and the
 * store reconnects by itself once the server is reachable (here: the proxy starts listening on the port
 * that was closed when the store was made).
 */
async function downAtStartup(make: (port: number) => Promise<IntegrityStore>, target: URL): Promise<void> {
  const proxy = new ChaosProxy(target.hostname, Number(target.port));
  await proxy.up(); // reserve a port, then close it: nothing listens there now
  await proxy.down();
  const t0 = Date.now();
  const store = await make(proxy.port);
  expect(Date.now() - t0).toBeLessThan(5000);
  const clock = new FakeClock();
  const wall = createWall({ service: 'startup', clock });
  const watched = watchStore(wall, store, { timeout: '1s', halfOpenAfter: '200ms' });
  const name = `store:${store.kind}`;
  try {
    const claimErr = await store.claim({ key: 'k', fingerprint: 'f', token: 't', now: clock.now(), leaseMs: 1000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(claimErr).toMatchObject({ name: 'BlastwallError', code: 'STORE_UNAVAILABLE' });
    for (let i = 0; i < 6; i++) await watched.ping().catch(() => undefined);
    expect(wall.health().dependencies[name]?.state).toBe('unavailable');

    await proxy.up(); // the server comes up
    // the client reconnects on its own backoff (real time, inside the driver): ping until it answers
    const ok = await untilAsync(
      () => store.ping().then(
        () => true,
        () => false,
      ),
      (v) => v,
      `${store.kind} to reconnect`,
      1_000_000,
    );
    expect(ok).toBe(true);
    // the schema / scripts are in place: the store works end to end
    expect(await store.claim({ key: 'k', fingerprint: 'f', token: 't', now: clock.now(), leaseMs: 1000 })).toMatchObject({ state: 'claimed' });
    await clock.advance(200);
    expect(await watched.ping().then(() => true, () => false)).toBe(true);
  } finally {
    await wall.close();
    await store.close();
    await proxy.down();
  }
}

describe('a store that is down when the service starts', () => {
  it.skipIf(!redisUp)('redis: redisStore(url) resolves, reports STORE_UNAVAILABLE, reconnects', async () => {
    const prefix = `bwt:{${randomBytes(4).toString('hex')}}:`;
    const target = new URL(REDIS_URL);
    target.port ||= '6379';
    cleanups.push(async () => {
      const s = await redisStore({ connection: REDIS_URL, prefix });
      const keys = await s.redis.keys(`${prefix}*`);
      if (keys.length > 0) await s.redis.del(...keys);
      await s.close();
    });
    await downAtStartup((port) => redisStore({ connection: `redis://127.0.0.1:${port}`, prefix, commandTimeoutMs: 500 }), target);
  }, 30_000);

  it.skipIf(!pgUp)('postgres: postgresStore(url) resolves, reports STORE_UNAVAILABLE, reconnects', async () => {
    const schema = `bw_t_${randomBytes(4).toString('hex')}`;
    cleanups.push(async () => {
      const c = new pg.Client(PG_URL);
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
    });
    const target = new URL(PG_URL);
    target.port ||= '5432';
    const user = target.username || 'postgres';
    await downAtStartup(
      (port) => postgresStore({ connection: `postgres://${user}@127.0.0.1:${port}${target.pathname}`, schema, statementTimeoutMs: 500, poolSize: 2 }),
      target,
    );
  }, 30_000);
});
