import { type Clock, coarseClock, realClock } from '../../core/clock.js';
import { durationOption, type Duration } from '../../core/duration.js';
import { RollingCounters } from '../../core/rolling-counters.js';
import { clockOption, configError, isPlainObject, numberOption, objectOption, ratioOption } from '../../core/validate.js';

/** Options of {@link retryBudget}: retries allowed over a sliding window are `max(minPerSecond * window, ratio * requests)`. */
export interface RetryBudgetOptions {
  /** Retries allowed as a share of the requests seen in the window (Finagle's `percentCanRetry`). Default 0.1. */
  ratio?: number;
  /**
   * Retries always allowed per second, so a quiet service can still retry. A floor, not an addition: once
   * `ratio` of the traffic allows more, the ratio alone governs. Default 10.
   */
  minPerSecond?: number;
  /** How far back requests and retries count, at least 100ms. Default 10s. */
  window?: Duration;
  /** The clock the window is measured on. Default the real clock; tests pass a `FakeClock`. */
  clock?: Clock;
}

/** A budget's counts over its current window, from {@link RetryBudget.snapshot}. */
export interface RetryBudgetSnapshot {
  /** Original (first-attempt) requests counted in the window. */
  requests: number;
  /** Retries withdrawn in the window. */
  retries: number;
  /** Retries the window allows now (`max(minPerSecond * window, ratio * requests)`, rounded down); a retry is refused once `retries` reaches it. */
  allowed: number;
  /** The configured share of requests that may be retried. */
  ratio: number;
  /** The configured retries always allowed per second. */
  minPerSecond: number;
  /** The window length, ms. */
  windowMs: number;
}

const REQUESTS = 0;
const RETRIES = 1;

/**
 * A retry budget: over a sliding window, retries may not exceed `max(minPerSecond * window, ratio * requests)`.
 * So above `minPerSecond / ratio` requests per second (100 with the defaults) retries add at most `ratio` to the
 * load (attempts per request ≤ 1 + ratio); below it, the floor lets a quiet service still retry.
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
  private readonly counters: RollingCounters;

  constructor(options: RetryBudgetOptions = {}) {
    const o = objectOption('retry.budget', options, ['ratio', 'minPerSecond', 'window', 'clock']);
    this.ratio = o.ratio === undefined ? 0.1 : ratioOption('retry.budget.ratio', o.ratio, true);
    this.minPerSecond = o.minPerSecond === undefined ? 10 : numberOption('retry.budget.minPerSecond', o.minPerSecond, 0);
    this.windowMs = o.window === undefined ? 10_000 : durationOption('retry.budget.window', o.window, 100);
    this.clock = clockOption('retry.budget.clock', o.clock) ?? realClock;
    this.now = coarseClock(this.clock);
    // 100 buckets: the window covers 99–100% of its length (with 10 buckets, 90–100%). In bench:overload, a
    // 10 s stretch of steady failures at 200 req/s measured 1.11–1.12 attempts per request with 10 buckets
    // (four runs) and 1.100–1.106 with 100 (four runs), against the bound of 1.10
    this.counters = new RollingCounters(this.windowMs, 2, this.clock.now(), 100);
  }

  /** Counts one original (non-retry) request. */
  recordRequest(now = this.now()): void {
    this.counters.add(REQUESTS, now);
  }

  private allowance(now: number): number {
    return Math.max((this.minPerSecond * this.windowMs) / 1000, this.ratio * this.counters.sum(REQUESTS, now));
  }

  /** Withdraws one retry if the budget allows it. */
  tryRetry(): boolean {
    const now = this.now();
    if (this.counters.sum(RETRIES, now) + 1 > this.allowance(now)) return false;
    this.counters.add(RETRIES, now);
    return true;
  }

  /** The counts over the window as of now, for dashboards and tests; reading it changes nothing. */
  snapshot(): RetryBudgetSnapshot {
    const now = this.now();
    return {
      requests: this.counters.sum(REQUESTS, now),
      retries: this.counters.sum(RETRIES, now),
      allowed: Math.floor(this.allowance(now)),
      ratio: this.ratio,
      minPerSecond: this.minPerSecond,
      windowMs: this.windowMs,
    };
  }
}

/**
 * The `budget` option of a retry: `false` (none), a shared `RetryBudget`, options for a new one, or
 * `undefined` (the default budget). Anything else (`null`, `0`, `true`, `NaN`) is a `CONFIG_INVALID`
 * naming `field`, never a silent default.
 */
export function budgetOption(field: string, value: unknown, clock: Clock): RetryBudget | undefined {
  if (value === false) return undefined;
  if (value instanceof RetryBudget) return value;
  if (value === undefined || isPlainObject(value)) {
    return new RetryBudget({ clock, ...(value as RetryBudgetOptions | undefined) });
  }
  throw configError(field, 'false, a RetryBudget, or options { ratio?, minPerSecond?, window? }', value);
}

/**
 * A retry budget to share between the retry policies that call one dependency, so that together they add
 * at most `ratio` extra load (default 10% of requests over a 10s window, and never fewer than 10 retries per
 * second, so a quiet service can still retry). A
 * retry it refuses rejects with `RETRY_BUDGET_EXHAUSTED` instead of adding load.
 *
 * @throws `CONFIG_INVALID` when an option is invalid.
 * @example
 * ```ts
 * const budget = retryBudget({ ratio: 0.2 });
 * const reads = retry({ attempts: 3, budget });
 * const writes = retry({ attempts: 2, budget });
 * ```
 */
export function retryBudget(options?: RetryBudgetOptions): RetryBudget {
  return new RetryBudget(options);
}

