/**
 * Deliberately broken: the same slow recommendations as `recommendations-slow.ts`, but browse calls them
 * without their fallback (as if they were core). The drill must fail, naming the invariant it broke.
 */
import { defineDrill, fault, operation, status } from 'blastwall/testing';
import { drillShop } from '../target/shop.js';

export default defineDrill({
  name: 'recommendations slow, fallback removed',
  description: 'Recommendations answer with p50 200 ms / p99 1 s for 4 s, and browse has no fallback for them.',
  target: { app: drillShop({ withoutFallback: true }) },
  load: { duration: '8s', operations: { checkout: { rate: 30 }, browse: { rate: 80, priority: 'sheddable' } } },
  faults: [{ dependency: 'recommendations', fault: fault.latency({ p50: '200ms', p99: '1s' }), at: '2s', for: '4s' }],
  invariants: [operation('browse').successRate.atLeast(0.99), operation('checkout').successRate.atLeast(0.99), status.never('unavailable')],
});
