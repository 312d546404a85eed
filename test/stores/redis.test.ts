import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll } from 'vitest';
import { RedisStore } from '../../src/stores/redis/index.js';
import { REDIS_URL, redisAvailable } from '../support/services.js';
import { storeConformance } from './conformance.js';

const up = await redisAvailable();
const prefixes: string[] = [];
afterAll(async () => {
  if (!up) return;
  const r = new Redis(REDIS_URL);
  for (const p of prefixes) {
    const keys = await r.keys(`${p}*`);
    if (keys.length > 0) await r.del(...keys);
  }
  r.disconnect();
});

storeConformance({
  name: 'redis',
  skip: up ? undefined : 'Redis unavailable',
  async make() {
    const prefix = `bwt:{${randomBytes(5).toString('hex')}}:`;
    prefixes.push(prefix);
    const s = new RedisStore({ connection: REDIS_URL, prefix });
    await s.init();
    return s;
  },
});
