/**
 * The TCP fault proxy in front of the real Redis and PostgreSQL (127.0.0.1): latency, bandwidth, reset,
 * refuse, blackhole, heal, clean close. Real sockets, so real time is measured (nothing sleeps: every wait
 * is a request that the fault slows down or a timeout the client itself sets).
 */
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { startFaultProxy, type FaultProxy, FaultProxy as ProxyClass } from '../../src/testing/index.js';
import { PG_URL, pgAvailable, REDIS_URL, redisAvailable } from '../support/services.js';

const redisUp = await redisAvailable();
const pgUp = await pgAvailable();
const open: { proxy?: FaultProxy; redis?: Redis; pg?: pg.Client }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) {
    o.redis?.disconnect();
    await o.pg?.end().catch(() => undefined);
    await o.proxy?.close();
  }
});

async function redisThrough(): Promise<{ proxy: FaultProxy; redis: Redis }> {
  const proxy = await startFaultProxy({ target: REDIS_URL });
  const redis = new Redis(proxy.url(REDIS_URL), { maxRetriesPerRequest: 0, commandTimeout: 400, retryStrategy: () => null, enableOfflineQueue: false, lazyConnect: true });
  redis.on('error', () => undefined);
  await redis.connect();
  open.push({ proxy, redis });
  return { proxy, redis };
}

const timed = async <T>(p: Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> => {
  const t0 = performance.now();
  try {
    const value = await p;
    return { ms: performance.now() - t0, value };
  } catch (error) {
    return { ms: performance.now() - t0, error };
  }
};

describe('options are validated', () => {
  it('names the field', () => {
    expect(() => new ProxyClass({ target: 'nowhere' })).toThrow(/^Expected `target` to be host:port or a URL, got `"nowhere"`/);
    expect(() => new ProxyClass({ target: { host: '127.0.0.1', port: 70_000 } })).toThrow(/^Expected `target\.port` to be an integer between 1 and 65535/);
  });
  it('a bad change changes nothing', async () => {
    const proxy = await startFaultProxy({ target: '127.0.0.1:9' });
    open.push({ proxy });
    await proxy.set({ latency: '20ms' });
    expect(() => proxy.set({ latency: '20ms', bandwidth: -1 })).toThrow(/^Expected `faults\.bandwidth` to be a finite number > 0, got `-1`/);
    expect(() => proxy.set({ mode: 'explode' as never })).toThrow(/^Expected `faults\.mode` to be one of 'pass', 'refuse', 'reset', 'blackhole'/);
    expect(proxy.faults).toEqual({ mode: 'pass', latencyMs: 20, bandwidth: 0 });
  });
});

describe.skipIf(!redisUp)('in front of the real Redis', () => {
  it('adds latency to every round trip, and heals', async () => {
    const { proxy, redis } = await redisThrough();
    expect((await timed(redis.ping())).value).toBe('PONG');
    await proxy.latency('60ms');
    const slow = await timed(redis.ping());
    expect(slow.value).toBe('PONG');
    expect(slow.ms).toBeGreaterThanOrEqual(115); // 60 ms each way
    await proxy.heal();
    expect((await timed(redis.ping())).ms).toBeLessThan(60);
  });

  it('limits bandwidth', async () => {
    const { proxy, redis } = await redisThrough();
    const key = `bw:proxy:${process.pid}:${Date.now()}`;
    await proxy.bandwidth(200_000); // 200 kB/s each way
    const put = await timed(redis.set(key, 'x'.repeat(60_000), 'PX', 10_000));
    expect(put.value).toBe('OK');
    expect(put.ms).toBeGreaterThanOrEqual(280); // 60 kB at 200 kB/s
    await proxy.heal();
    await redis.del(key);
    expect(proxy.stats.bytesUp).toBeGreaterThan(60_000);
  });

  it('reset ends open connections and new ones; refuse stops listening; both heal', async () => {
    const { proxy, redis } = await redisThrough();
    await proxy.reset();
    const r = await timed(redis.ping());
    expect(r.error).toBeDefined();
    expect(r.ms).toBeLessThan(300); // not a timeout: the connection is gone
    expect(proxy.stats.reset).toBeGreaterThanOrEqual(1);
    await proxy.refuse();
    const refused = await new Promise<string>((resolve) => {
      const sock = connect(proxy.port, '127.0.0.1');
      sock.once('connect', () => {
        sock.destroy();
        resolve('connected');
      });
      sock.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
    expect(refused).toBe('ECONNREFUSED');
    await proxy.heal(); // listening again, on the same port
    const again = new Redis(proxy.url(REDIS_URL), { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
    open.push({ redis: again });
    await again.connect();
    expect(await again.ping()).toBe('PONG');
  });

  it('blackhole accepts and never answers: the client times out; healing resets what was swallowed', async () => {
    const { proxy, redis } = await redisThrough();
    await proxy.blackhole();
    const r = await timed(redis.ping());
    expect(String(r.error)).toMatch(/timed out/i);
    expect(r.ms).toBeGreaterThanOrEqual(390); // the client's own 400 ms command timeout
    await proxy.heal();
    expect(proxy.stats.open).toBe(0); // the swallowed connection was reset
  });

  it('closes cleanly: every socket and timer ends', async () => {
    const { proxy, redis } = await redisThrough();
    await proxy.latency('200ms');
    const pending = timed(redis.ping());
    await proxy.close();
    expect((await pending).error).toBeDefined();
    expect(proxy.stats.open).toBe(0);
    await expect(proxy.start()).rejects.toThrow(/closed/);
  });
});

describe.skipIf(!pgUp)('in front of the real PostgreSQL', () => {
  it('a blackhole makes queries time out on the client; after healing a new connection works', async () => {
    const proxy = await startFaultProxy({ target: PG_URL });
    const client = new pg.Client({ connectionString: proxy.url(PG_URL), query_timeout: 300 });
    client.on('error', () => undefined);
    open.push({ proxy, pg: client });
    await client.connect();
    expect((await client.query('SELECT 1 AS one')).rows[0]).toEqual({ one: 1 });
    await proxy.blackhole();
    const r = await timed(client.query('SELECT 1'));
    expect(String(r.error)).toMatch(/timeout/i);
    await proxy.heal();
    const again = new pg.Client({ connectionString: proxy.url(PG_URL) });
    open.push({ pg: again });
    await again.connect();
    expect((await again.query('SELECT 2 AS two')).rows[0]).toEqual({ two: 2 });
  });
});
