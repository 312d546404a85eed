/**
 * 4× overload with a priority mix: payments take 40 ms for the whole drill, so the door's 2 slots serve
 * about 50 checkouts a second, and 200 a second arrive — 15% critical, the rest sheddable. Critical
 * work must still get through in time; sheddable work is refused at once (never left to time out).
 */
import { defineDrill, fault, operation, status } from 'blastwall/testing';
import { drillShop } from './target/shop.js';

export default defineDrill({
  name: 'overload 4x',
  description: 'Payments take 40 ms (capacity ≈ 50 checkouts/s through 2 admission slots); 200 checkouts/s arrive, 15% critical, 85% sheddable.',
  target: { app: drillShop({ admission: { limit: 2, queue: 32 } }) },
  load: {
    duration: '6s',
    operations: { checkout: { rate: 200, priority: { critical: 0.15, sheddable: 0.85 } } },
  },
  faults: [{ dependency: 'payments', fault: fault.latency('40ms'), at: '0ms', for: '6s' }],
  invariants: [
    operation('checkout', { priority: 'critical' }).successRate.atLeast(0.95),
    operation('checkout', { priority: 'critical' }).p99.atMost('500ms'),
    operation('checkout', { priority: 'sheddable' }).p50.atMost('50ms'),
    status.never('unavailable'),
  ],
});
