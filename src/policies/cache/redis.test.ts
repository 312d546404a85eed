import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../../core/fake-clock.js';
import { REDIS_URL, redisAvailable } from '../../../test/support/services.js';
import { cache } from './index.js';
import { redisCacheStore } from './redis.js';

const available = await redisAvailable();
const prefix = `bw-test:${process.pid}:${Date.now()}:`;

describe.runIf(available)('shared cache on Redis (real server)', () => {
  const client = new Redis(REDIS_URL);
  afterAll(async () => {
    const keys = await client.keys(`${prefix}*`);
    if (keys.length > 0) await client.del(...keys);
    client.disconnect();
  });

  it('a second instance is served from Redis instead of calling the dependency', async () => {
    const clock = new FakeClock(Date.now());
    const store = redisCacheStore(client, prefix);
    const a = cache({ fresh: '1m', stale: '10m', clock, shared: store });
    const b = cache({ fresh: '1m', stale: '10m', clock, shared: store });
    let calls = 0;
    const load = async () => ({ price: 42, n: ++calls });
    expect((await a.get('sku-1', load)).value).toEqual({ price: 42, n: 1 });
    // the write to Redis is fire-and-forget; wait until it is visible
    for (let i = 0; i < 50 && (await client.get(`${prefix}sku-1`)) === null; i++) await client.ping();
    clock.set(clock.now() + 5000);
    expect((await b.get('sku-1', load)).value).toEqual({ price: 42, n: 1 });
    expect(calls).toBe(1);
    expect(await client.pttl(`${prefix}sku-1`)).toBeGreaterThan(500_000);
  });

  it('a malformed entry in Redis is a miss, never served', async () => {
    await client.set(`${prefix}bad`, '{not json', 'PX', 60_000);
    const c = cache({ fresh: '1m', stale: '10m', clock: new FakeClock(Date.now()), shared: redisCacheStore(client, prefix) });
    expect((await c.get('bad', async () => 'fresh from the dependency')).value).toBe('fresh from the dependency');
  });
});
