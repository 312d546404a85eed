import { describe, expect, it } from 'vitest';
import { verifyPredictions, type VerifyFactory } from '../../src/audit/index.js';
import { createWall, sleep } from '../../src/index.js';
import { verify as shopVerify } from '../../examples/shop/wall.js';

/** A small shop whose optional dependency's fallback can be broken on purpose. */
function miniShop(fallback: () => string[]): VerifyFactory {
  return ({ clock }) => {
    const wall = createWall({ service: 'mini', clock, faults: true, drift: false });
    const recs = wall.dependency('recommendations', { criticality: 'optional', timeout: '50ms', fallback });
    const pay = wall.dependency('payments', { timeout: '100ms', retry: { attempts: 2, backoff: '5ms', budget: false }, concurrency: { limit: 8, queue: 8 } });
    const browse = wall.operation('browse', { priority: 'sheddable', deadline: '500ms' });
    const checkout = wall.operation('checkout', { priority: 'critical', deadline: '1s' });
    return {
      wall,
      operations: {
        browse: () => browse.run(() => recs.call(async (ctx) => (await sleep(clock, 2, ctx.signal), ['socks']))),
        checkout: () => checkout.run(() => pay.call(async (ctx) => (await sleep(clock, 3, ctx.signal), 'charged'))),
      },
    };
  };
}

describe('audit --verify: predictions checked by drills', () => {
  it('the shop: every prediction (3 dependencies × 6 modes × 2 operations) is confirmed', async () => {
    const { checks, findings } = await verifyPredictions(shopVerify, { requests: 10 });
    expect(checks).toHaveLength(18);
    const disagreements = checks.flatMap((c) => c.operations.filter((o) => !o.agrees).map((o) => `${c.dependency} ${c.mode} ${o.operation}`));
    expect(disagreements).toEqual([]);
    expect(findings).toEqual([]);
    // and the checks are not vacuous: payments down fails checkout, recommendations down degrades browse
    const pd = checks.find((c) => c.dependency === 'payments' && c.mode === 'down')?.operations.find((o) => o.operation === 'checkout');
    expect(pd?.observed.class).toBe('fails');
    const rd = checks.find((c) => c.dependency === 'recommendations' && c.mode === 'down')?.operations.find((o) => o.operation === 'browse');
    expect(rd?.observed.class).toBe('degrades');
  }, 60_000);

  it('a fallback that throws is caught: predicted degrade, observed failures, reported as BW016', async () => {
    const healthy = await verifyPredictions(miniShop(() => ['bestsellers']), { modes: ['down'], dependencies: ['recommendations'], requests: 10 });
    expect(healthy.findings).toEqual([]);
    const broken = await verifyPredictions(
      miniShop(() => {
        throw new Error('fallback bug');
      }),
      { modes: ['down'], dependencies: ['recommendations'], requests: 10 },
    );
    expect(broken.findings).toHaveLength(1);
    const f = broken.findings[0]!;
    expect(f.ruleId).toBe('BW016');
    expect(f.severity).toBe('error');
    expect(f.message).toMatch(/predicted: 'browse' degrades: fallback .*when 'recommendations' is down; observed: 100% of 10 failed/);
  });
});
