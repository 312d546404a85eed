/**
 * Payments down (core): the payment provider fails every call for 3 s. Checkout must fail fast with a typed
 * error (never hang to its deadline), browsing must not notice, the service must say so (mode `degraded`)
 * and come back by itself, and no order may be charged twice.
 */
import { defineDrill, dependency, fault, integrity, mode, operation, recovery } from 'blastwall/testing';
import { type DrillShop, drillShop } from './target/shop.js';

export default defineDrill({
  name: 'payments down',
  description: 'The payment provider answers every call with an error for 3 s (core dependency).',
  target: { app: drillShop() },
  load: { duration: '10s', operations: { checkout: { rate: 40 }, browse: { rate: 60, priority: 'sheddable' } } },
  faults: [{ dependency: 'payments', fault: fault.error('payments: 503 from upstream'), at: '2s', for: '3s' }],
  invariants: [
    operation('browse').successRate.atLeast(0.99),
    operation('checkout').during('faults').p99.atMost('500ms'),
    dependency('payments').reaches('unavailable', { within: '2s' }),
    mode.reaches('degraded', { within: '3s' }),
    mode.returnsTo('normal', { within: '3s' }),
    recovery.goodput({ backTo: 0.95, within: '3s' }),
    integrity('no duplicate effects', async (app: DrillShop) => {
      const dups = await app.duplicateCharges();
      return { ok: dups.length === 0, observed: `${dups.length} orders charged twice of ${app.charges.size}`, value: dups.length };
    }),
  ],
});
