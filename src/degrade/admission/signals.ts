import { performance } from 'node:perf_hooks';
import type { LoopReading } from './shed.js';

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

/** A reading from user code: a finite number ≥ 0, else none (a throwing or broken probe never breaks admission). */
function safeRead(f: (() => number) | undefined): number | undefined {
  if (f === undefined) return undefined;
  try {
    const v = f();
    return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The event loop over one sample window: utilisation (injected, or `performance.eventLoopUtilization`) and
 * delay (injected, or how late the sampler's own timer fired — the wait any work due then had for the loop).
 * Without a utilisation reading, a delay above `maxDelayMs` is taken as a saturated loop.
 */
export class LoopProbe {
  private readonly utilization: (() => number) | undefined;

  constructor(
    private readonly measure: boolean,
    private readonly delay: (() => number) | undefined,
    utilization: (() => number) | undefined,
    private readonly maxDelayMs: number,
  ) {
    this.utilization = utilization ?? (measure ? eventLoopUtilizationReader() : undefined);
  }

  /** Starts a window: the utilisation is read from here. */
  start(): void {
    safeRead(this.utilization);
  }

  /** The window that ends now; `lateMs` is how late the sampler fired. */
  read(lateMs: number): LoopReading | undefined {
    if (!this.measure && this.delay === undefined && this.utilization === undefined) return undefined;
    const delayMs = this.delay !== undefined ? (safeRead(this.delay) ?? 0) : Math.max(0, lateMs);
    const utilization = Math.min(1, safeRead(this.utilization) ?? (delayMs > this.maxDelayMs ? 1 : 0));
    return { utilization, delayMs };
  }
}
