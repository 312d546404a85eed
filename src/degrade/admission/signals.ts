import { performance } from 'node:perf_hooks';

/**
 * Event-loop utilisation since the previous call (0..1), from `performance.eventLoopUtilization`: the
 * share of wall time the loop spent running JavaScript and callbacks rather than waiting for I/O. Read
 * once per sample window it is a fresh measure of CPU saturation, unlike a delay histogram kept for a
 * second, and it does not need a timer of its own.
 */
export function eventLoopUtilizationReader(): () => number {
  let last = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const u = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    return u;
  };
}
