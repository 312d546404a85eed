/**
 * A retry storm from naive clients: 40% of payment attempts fail for 4 s, and every failed checkout is sent
 * again at once, up to 3 times. The wall's retry budget must keep attempts per call near 1 (no load
 * multiplication), and a re-sent order must never be charged twice.
 */
import { defineDrill, dependency, fault, integrity, operation } from 'blastwall/testing';
import { type DrillShop, drillShop } from './target/shop.js';

export default defineDrill({
  name: 'retry storm',
  description: '40% of payment attempts fail for 4 s while naive clients re-send every failed checkout up to 3 times.',
  target: { app: drillShop() },
  load: { duration: '8s', operations: { checkout: { rate: 60, clientRetries: 3 }, browse: { rate: 30, priority: 'sheddable' } } },
  faults: [{ dependency: 'payments', fault: fault.error('payments: 503 from upstream'), at: '2s', for: '4s', rate: 0.4, seed: 'storm' }],
  invariants: [
    dependency('payments').attemptsPerCall.atMost(1.3),
    operation('browse').successRate.atLeast(0.99),
    integrity('no duplicate effects', async (app: DrillShop) => {
      const dups = await app.duplicateCharges();
      return { ok: dups.length === 0, observed: `${dups.length} orders charged twice of ${app.charges.size}`, value: dups.length };
    }),
  ],
});
