/**
 * A slow drift: after 8 s of normal traffic (the drift detector learns its baseline), payments latency
 * grows by itself from 5 ms to 125 ms over 14 s, through its 80 ms p99 objective. The drift detector must
 * raise an alert before the objective is breached. Its timing is kept in `--short` runs.
 */
import { defineDrill, dependency, fault, operation } from 'blastwall/testing';
import { drillShop } from './target/shop.js';

export default defineDrill({
  name: 'slow drift',
  description: 'Payments latency drifts linearly from +0 ms to +120 ms over 14 s (objective: p99 80 ms).',
  target: { app: drillShop() },
  load: { duration: '23s', operations: { checkout: { rate: 40 } } },
  faults: [{ dependency: 'payments', fault: fault.slowDrip({ from: '0ms', to: '120ms' }), at: '8s', for: '14s' }],
  fixedTiming: true,
  invariants: [dependency('payments').alertedBeforeBreach(), operation('checkout').successRate.atLeast(0.9)],
});
