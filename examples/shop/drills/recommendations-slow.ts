/**
 * Recommendations slow (optional): p50 200 ms / p99 1 s for 4 s, far past its 60 ms timeout. The page must
 * keep answering fast from the cache or the bestsellers fallback, checkout must not notice, and the service
 * must never be called unavailable.
 */
import { defineDrill, fault, mode, operation, status } from 'blastwall/testing';
import { drillShop } from './target/shop.js';

export default defineDrill({
  name: 'recommendations slow',
  description: 'Recommendations answer with p50 200 ms / p99 1 s latency for 4 s (optional dependency, 60 ms timeout).',
  target: { app: drillShop() },
  load: { duration: '8s', operations: { checkout: { rate: 30 }, browse: { rate: 80, priority: 'sheddable' } } },
  faults: [{ dependency: 'recommendations', fault: fault.latency({ p50: '200ms', p99: '1s' }), at: '2s', for: '4s' }],
  invariants: [
    operation('browse').successRate.atLeast(0.99),
    operation('browse').p99.atMost('150ms'),
    operation('checkout').successRate.atLeast(0.99),
    status.never('unavailable'),
    mode.never('degraded'),
  ],
});
