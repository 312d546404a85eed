import { describe, expect, it } from 'vitest';
import { type WallEvent } from 'blastwall';
import { FakeClock } from 'blastwall/testing';
import { createShop } from '../../examples/shop/service.js';

/** What the demo reports is true: the topology has the deferrable edge, and an impact never shows more failures than requests. */
describe('the shop the demo runs', () => {
  it('records checkout → email, a deferrable dependency checkout does not wait for', async () => {
    const clock = new FakeClock();
    const shop = createShop({ clock, random: () => 0.5 });
    const done = shop.checkout();
    await clock.advance(50);
    await done;
    const edges = shop.wall.topology().edges.map((e) => `${e.from}→${e.to}`);
    expect(edges).toEqual(expect.arrayContaining(['checkout→payments', 'checkout→email']));
    await shop.wall.close();
  });

  it('an impact entry counts the requests that settled in its interval, so failed ≤ requests', async () => {
    const clock = new FakeClock();
    const shop = createShop({ clock, random: () => 0.5 });
    const impacts: Extract<WallEvent, { type: 'impact' }>[] = [];
    shop.wall.onEvent((e) => {
      if (e.type === 'impact') impacts.push(e);
    });
    shop.faults.paymentsErrorRate = 1;
    shop.faults.paymentsLatencyMs = 150; // each request spans an interval boundary (health every 200 ms)
    const runs: Promise<unknown>[] = [];
    for (let t = 0; t < 3000; t += 50) {
      for (let i = 0; i < 4; i++) runs.push(shop.checkout().catch(() => undefined));
      await clock.advance(50);
    }
    await clock.advance(1000);
    await Promise.all(runs);
    await clock.advance(400);
    const checkout = impacts.filter((e) => e.operation === 'checkout');
    expect(checkout.length).toBeGreaterThan(3);
    for (const e of checkout) expect(e.failed + e.shed, JSON.stringify(e)).toBeLessThanOrEqual(e.requests);
    expect(checkout.reduce((a, e) => a + e.failed, 0)).toBe(runs.length);
    await shop.wall.close();
  });
});
