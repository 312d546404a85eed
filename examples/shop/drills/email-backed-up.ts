/**
 * Email queue backed up (deferrable): the mail provider hangs for 4 s. Receipts wait in the queue and are
 * retried in the background; checkout must neither wait for them nor fail, and the service is never
 * unavailable because of a side effect.
 */
import { defineDrill, dependency, fault, operation, recovery, status } from 'blastwall/testing';
import { drillShop } from './target/shop.js';

export default defineDrill({
  name: 'email queue backed up',
  description: 'The mail provider hangs (every attempt runs into the 100 ms timeout) for 4 s (deferrable dependency).',
  target: { app: drillShop() },
  load: { duration: '9s', operations: { checkout: { rate: 40 }, browse: { rate: 40, priority: 'sheddable' } } },
  faults: [{ dependency: 'email', fault: fault.hang(), at: '2s', for: '4s' }],
  invariants: [
    operation('checkout').successRate.atLeast(0.99),
    // waiting for the mail would take ≥ 300 ms (three 100 ms attempts): checkout must stay well below that
    operation('checkout').p99.atMost('250ms'),
    dependency('email').reaches('unavailable', { within: '3s' }),
    status.never('unavailable'),
    recovery.goodput({ backTo: 0.95, within: '2s' }),
  ],
});
