/**
 * The store unreachable, for real: the shop's durable store (Redis, then PostgreSQL, on 127.0.0.1) sits
 * behind a TCP fault proxy. For Redis the proxy resets every connection and refuses new ones for 6 s
 * ("server down"); for PostgreSQL it becomes a blackhole for 6 s (accepts, never answers). The store's
 * breaker judges the last 10 s (see shop.ts: it opens at 25% failures), so the outage must show as
 * `unavailable` within 4 s. Checkout (which
 * claims each order in the store) must fail fast, browsing must not notice, the store must show as
 * unavailable, and once the network heals goodput returns with no order charged twice.
 *
 * Needs the servers of DEVELOPERS.md (BLASTWALL_REDIS_URL / BLASTWALL_PG_URL override the defaults).
 */
import { randomBytes } from 'node:crypto';
import { postgresStore } from 'blastwall/stores/postgres';
import { redisStore } from 'blastwall/stores/redis';
import { type FaultProxy, defineDrill, dependency, integrity, operation, recovery, startFaultProxy } from 'blastwall/testing';
import pg from 'pg';
import { type DrillShop, drillShop } from './target/shop.js';

export const REDIS_URL = process.env.BLASTWALL_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const PG_URL = process.env.BLASTWALL_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

type ProxiedShop = DrillShop & { proxy: FaultProxy };

const noDuplicates = integrity('no duplicate effects', async (app: ProxiedShop) => {
  const dups = await app.duplicateCharges();
  return { ok: dups.length === 0, observed: `${dups.length} orders charged twice of ${app.charges.size}`, value: dups.length };
});

function proxied(kind: 'redis' | 'postgres') {
  return async (env: Parameters<ReturnType<typeof drillShop>>[0]): Promise<ProxiedShop> => {
    const target = kind === 'redis' ? REDIS_URL : PG_URL;
    const proxy = await startFaultProxy({ target });
    const ns = randomBytes(4).toString('hex');
    const schema = `bw_drill_${ns}`;
    const prefix = `bw:{drill-${ns}}:`;
    const app = await drillShop({
      store: () =>
        kind === 'redis'
          ? redisStore({ connection: proxy.url(target), prefix, commandTimeoutMs: 300 })
          : postgresStore({ connection: proxy.url(target), schema, statementTimeoutMs: 300, poolSize: 4 }),
      cleanup: async () => {
        await proxy.close();
        if (kind === 'postgres') {
          const c = new pg.Client(PG_URL);
          await c.connect();
          await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
          await c.end();
        } else {
          const s = await redisStore({ connection: REDIS_URL, prefix });
          const keys = await s.redis.keys(`${prefix}*`);
          if (keys.length > 0) await s.redis.del(...keys);
          await s.close();
        }
      },
    })(env);
    return Object.assign(app, { proxy });
  };
}

const common = (kind: 'redis' | 'postgres') => [
  operation('browse').successRate.atLeast(0.99),
  // fails at once (connection refused) or within the checkout deadline (a blackhole), never later
  operation('checkout').during('faults').p99.atMost('550ms'),
  dependency(`store:${kind}`).reaches('unavailable', { within: '4s' }),
  // the Redis client's own reconnect backoff (up to 2 s after a long outage) plus the breaker's 1 s
  // half-open wait come before goodput can return
  recovery.goodput({ backTo: 0.95, within: '5s' }),
  noDuplicates,
];

export const drills = [
  defineDrill({
    name: 'store unreachable (redis, connections reset and refused)',
    description: 'A TCP proxy in front of the real Redis resets every connection and refuses new ones for 6 s.',
    target: { app: proxied('redis') },
    load: { duration: '15s', operations: { checkout: { rate: 30 }, browse: { rate: 40, priority: 'sheddable' } } },
    faults: [{ name: 'redis: proxy resets and refuses connections', at: '3s', for: '6s', start: (app: ProxiedShop) => app.proxy.reset(), end: (app: ProxiedShop) => app.proxy.heal() }],
    invariants: common('redis'),
  }),
  defineDrill({
    name: 'store unreachable (postgres, blackhole)',
    description: 'A TCP proxy in front of the real PostgreSQL swallows every byte for 6 s (accepts, never answers).',
    target: { app: proxied('postgres') },
    load: { duration: '15s', operations: { checkout: { rate: 30 }, browse: { rate: 40, priority: 'sheddable' } } },
    faults: [{ name: 'postgres: proxy blackholes the connections', at: '3s', for: '6s', start: (app: ProxiedShop) => app.proxy.blackhole(), end: (app: ProxiedShop) => app.proxy.heal() }],
    invariants: common('postgres'),
  }),
];
