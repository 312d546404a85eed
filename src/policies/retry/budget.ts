import { type Clock, coarseClock, realClock } from '../../core/clock.js';
import { durationOption, type Duration } from '../../core/duration.js';
import { numberOption, objectOption, ratioOption } from '../../core/validate.js';

export interface RetryBudgetOptions {
  /** Retries allowed as a share of the requests seen in the window (Finagle's `percentCanRetry`). Default 0.1. */
  ratio?: number;
  /** Retries always allowed per second, so a quiet service can still retry (Finagle's `minRetriesPerSec`). Default 10. */
  minPerSecond?: number;
  /** How far back requests and retries count. Default 10s. */
  window?: Duration;
  clock?: Clock;
}

export interface RetryBudgetSnapshot {
  requests: number;
  retries: number;
  allowed: number;
  ratio: number;
  minPerSecond: number;
  windowMs: number;
}

const BUCKETS = 10;

/**
 * A retry budget: over a sliding window, retries may not exceed `minPerSecond * window + ratio * requests`.
 * Under a 100% failure stream this bounds the extra load retries add to `ratio` (plus a small constant),
 * instead of multiplying it by the attempt count. Share one budget between all policies that call one
 * dependency.
 */
export class RetryBudget {
  readonly ratio: number;
  readonly minPerSecond: number;
  readonly windowMs: number;
  private readonly clock: Clock;
  private readonly now: () => number;
  private readonly bucketMs: number;
  private readonly requests = new Float64Array(BUCKETS);
  private readonly retries = new Float64Array(BUCKETS);
  private bucketStart = 0;
  private idx = 0;
  private reqSum = 0;
  private retrySum = 0;

  constructor(options: RetryBudgetOptions = {}) {
    const o = objectOption('retry.budget', options, ['ratio', 'minPerSecond', 'window', 'clock']);
    this.ratio = o.ratio === undefined ? 0.1 : ratioOption('retry.budget.ratio', o.ratio, true);
    this.minPerSecond = o.minPerSecond === undefined ? 10 : numberOption('retry.budget.minPerSecond', o.minPerSecond, 0);
    this.windowMs = o.window === undefined ? 10_000 : durationOption('retry.budget.window', o.window, 100);
    this.clock = (o.clock as Clock | undefined) ?? realClock;
    this.now = coarseClock(this.clock);
    this.bucketMs = this.windowMs / BUCKETS;
    this.bucketStart = this.clock.now();
  }

  private rotate(now: number): void {
    if (now - this.bucketStart < this.bucketMs) return;
    let steps = Math.floor((now - this.bucketStart) / this.bucketMs);
    this.bucketStart += steps * this.bucketMs;
    if (steps >= BUCKETS) {
      this.requests.fill(0);
      this.retries.fill(0);
      this.reqSum = 0;
      this.retrySum = 0;
      return;
    }
    while (steps-- > 0) {
      this.idx = (this.idx + 1) % BUCKETS;
      this.reqSum -= this.requests[this.idx]!;
      this.retrySum -= this.retries[this.idx]!;
      this.requests[this.idx] = 0;
      this.retries[this.idx] = 0;
    }
  }

  /** Counts one original (non-retry) request. */
  recordRequest(): void {
    this.rotate(this.now());
    this.requests[this.idx]!++;
    this.reqSum++;
  }

  private allowance(): number {
    return (this.minPerSecond * this.windowMs) / 1000 + this.ratio * this.reqSum;
  }

  /** Withdraws one retry if the budget allows it. */
  tryRetry(): boolean {
    this.rotate(this.now());
    if (this.retrySum + 1 > this.allowance()) return false;
    this.retries[this.idx]!++;
    this.retrySum++;
    return true;
  }

  snapshot(): RetryBudgetSnapshot {
    this.rotate(this.now());
    return {
      requests: this.reqSum,
      retries: this.retrySum,
      allowed: Math.floor(this.allowance()),
      ratio: this.ratio,
      minPerSecond: this.minPerSecond,
      windowMs: this.windowMs,
    };
  }
}

export function retryBudget(options?: RetryBudgetOptions): RetryBudget {
  return new RetryBudget(options);
}

