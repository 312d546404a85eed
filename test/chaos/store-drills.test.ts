/**
 * The store drills through the TCP fault proxy against the real Redis and PostgreSQL (see
 * examples/shop/drills/store-unreachable.ts). Real sockets and real server timeouts, so these run on the
 * real clock (13 s each); they skip when the servers are down unless BLASTWALL_REQUIRE_SERVICES=1.
 */
import { describe, expect, it } from 'vitest';
import { runDrill } from '../../src/testing/index.js';
import { drills } from '../../examples/shop/drills/store-unreachable.js';
import { pgAvailable, redisAvailable } from '../support/services.js';

const up = { redis: await redisAvailable(), postgres: await pgAvailable() };

describe('the store taken away below the library', () => {
  it.each(drills.map((d) => [d.name, d] as const))('%s', async (name, drill) => {
    if (!up[name.includes('redis') ? 'redis' : 'postgres']) return;
    const r = await runDrill(drill);
    r.timeline.close();
    const failed = r.invariants.filter((i) => !i.pass).map((i) => `${i.name}: ${i.observed}`);
    expect(failed).toEqual([]);
    // the store really went away: checkouts failed while the proxy was broken, and came back afterwards
    const during = r.observation.requestsOf('checkout', 'faults');
    expect(during.filter((x) => !x.ok).length).toBeGreaterThan(during.length / 2);
  }, 60_000);
});
