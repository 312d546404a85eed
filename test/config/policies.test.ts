import { describe, expect, it } from 'vitest';
import { BlastwallError, bulkhead, circuitBreaker, exponential, fallback, retry, retryBudget, timeout } from '../../src/index.js';

const cases: [string, () => unknown, string][] = [
  ['timeout negative', () => timeout(-5), "Expected `timeout` to be a duration between 1ms and 2147483647ms (24.8d, the timer limit) (a number of milliseconds or a string like '800ms', '5s', '2m'), got `-5` (number)"],
  ['timeout zero', () => timeout(0), 'got `0` (number)'],
  ['timeout NaN', () => timeout(Number.NaN), 'got `NaN` (number)'],
  ['timeout bad unit', () => timeout('5 weeks' as never), 'got `"5 weeks"` (string)'],
  ['timeout unknown option', () => timeout(5, { clok: 1 } as never), 'Unknown option `timeout options.clok`'],
  ['retry attempts 0', () => retry({ attempts: 0 }), 'Expected `retry.attempts` to be an integer between 1 and 100, got `0` (number)'],
  ['retry attempts float', () => retry({ attempts: 2.5 }), 'Expected `retry.attempts` to be an integer between 1 and 100, got `2.5` (number)'],
  ['retry backoff base negative', () => retry({ backoff: { base: -1 } }), 'Expected `retry.backoff.base` to be a duration between 0ms and 2147483647ms (24.8d, the timer limit)'],
  ['retry backoff max < base', () => retry({ backoff: { base: '1s', max: '10ms' } }), 'Expected `retry.backoff.max` to be a duration ≥ `retry.backoff.base` (1000ms), got `"10ms"` (string)'],
  ['retry backoff factor', () => retry({ backoff: { factor: 0.5 } }), 'Expected `retry.backoff.factor` to be a finite number ≥ 1, got `0.5` (number)'],
  ['retry jitter', () => retry({ backoff: { jitter: 'lots' as never } }), "Expected `retry.backoff.jitter` to be one of 'none', 'full', 'equal', 'decorrelated', got `\"lots\"` (string)"],
  ['retry maxElapsed', () => retry({ maxElapsed: -1 }), 'Expected `retry.maxElapsed` to be a duration ≥ 1ms'],
  ['retry retryOn', () => retry({ retryOn: 'yes' as never }), 'Expected `retry.retryOn` to be a function, got `"yes"` (string)'],
  ['retry unknown', () => retry({ attemps: 3 } as never), 'Unknown option `retry.attemps`'],
  ['budget ratio', () => retryBudget({ ratio: -0.1 }), 'Expected `retry.budget.ratio` to be a ratio between 0 and 1, got `-0.1` (number)'],
  ['budget minPerSecond', () => retryBudget({ minPerSecond: -1 }), 'Expected `retry.budget.minPerSecond` to be a finite number ≥ 0, got `-1` (number)'],
  ['budget window', () => retryBudget({ window: '10ms' }), 'Expected `retry.budget.window` to be a duration ≥ 100ms'],
  ['exponential base', () => exponential({ base: 'soon' as never }), 'Expected `backoff.base` to be a duration between 0ms and 2147483647ms (24.8d, the timer limit)'],
  ['breaker failureRate', () => circuitBreaker({ failureRate: 1.5 }), 'Expected `breaker.failureRate` to be a ratio > 0 and ≤ 1, got `1.5` (number)'],
  ['breaker slowCall.over', () => circuitBreaker({ slowCall: { over: 0, rate: 0.5 } }), 'Expected `breaker.slowCall.over` to be a duration ≥ 1ms'],
  ['breaker slowCall.rate', () => circuitBreaker({ slowCall: { over: 100, rate: 0 } }), 'Expected `breaker.slowCall.rate` to be a ratio > 0 and ≤ 1, got `0` (number)'],
  ['breaker window', () => circuitBreaker({ window: true as never }), "Expected `breaker.window` to be a duration (time window, e.g. '30s') or { calls: N } (count window), got `true` (boolean)"],
  ['breaker window calls', () => circuitBreaker({ window: { calls: 0 } }), 'Expected `breaker.window.calls` to be an integer between 1 and 1000000, got `0` (number)'],
  ['breaker minimumCalls > window', () => circuitBreaker({ window: { calls: 10 }, minimumCalls: 20 }), 'Expected `breaker.minimumCalls` to be an integer ≤ breaker.window.calls (10), got `20` (number)'],
  ['breaker halfOpenAfter', () => circuitBreaker({ halfOpenAfter: -1 }), 'Expected `breaker.halfOpenAfter` to be a duration ≥ 1ms'],
  ['breaker probes', () => circuitBreaker({ probes: 0 }), 'Expected `breaker.probes` to be an integer between 1 and 10000, got `0` (number)'],
  ['breaker probeSuccesses > probes', () => circuitBreaker({ probes: 2, probeSuccesses: 3 }), 'Expected `breaker.probeSuccesses` to be an integer between 1 and 2, got `3` (number)'],
  ['breaker isFailure', () => circuitBreaker({ isFailure: 1 as never }), 'Expected `breaker.isFailure` to be a function, got `1` (number)'],
  ['bulkhead limit', () => bulkhead({ limit: 0 }), 'Expected `concurrency.limit` to be an integer ≥ 1, got `0` (number)'],
  ['bulkhead missing limit', () => bulkhead({} as never), 'Expected `concurrency.limit` to be an integer ≥ 1, got `undefined` (undefined)'],
  ['bulkhead queue', () => bulkhead({ limit: 1, queue: -1 }), 'Expected `concurrency.queue` to be an integer ≥ 0, got `-1` (number)'],
  ['bulkhead queueTimeout', () => bulkhead({ limit: 1, queueTimeout: '0ms' }), 'Expected `concurrency.queueTimeout` to be a duration between 1ms and 2147483647ms (24.8d, the timer limit)'],
  ['fallback handles', () => fallback(1, { handles: 'x' as never }), 'Expected `fallback.handles` to be a function, got `"x"` (string)'],
];

describe('every policy option is validated at construction', () => {
  it.each(cases)('%s', (_name, build, message) => {
    let err: unknown;
    try {
      build();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BlastwallError);
    expect((err as BlastwallError).code).toBe('CONFIG_INVALID');
    expect((err as BlastwallError).message).toContain(message);
  });
});
