import { type Clock, coarseClock } from '../../core/clock.js';
import type { CallContext } from '../../core/context.js';
import { durationOption, type Duration } from '../../core/duration.js';
import { RollingCounters } from '../../core/rolling-counters.js';
import { BlastwallError } from '../../core/errors.js';
import { type Next, PolicyBase } from '../../core/policy.js';
import { guarded } from '../../core/callback.js';
import { clockOption, fnOption, nameOption, numberOption, objectOption } from '../../core/validate.js';

/** Options of {@link throttle}; an unknown option or a value out of range throws `CONFIG_INVALID`. */
export interface ThrottleOptions {
  /**
   * Accepts multiplier K, a number ≥ 1: a backend that accepts half of what is sent still gets 2× that.
   * Lower rejects locally sooner; higher lets more doomed requests through. Default 2.
   */
  k?: number;
  /** Sliding window of requests and accepts, at least 1s. Default 2m. */
  window?: Duration;
  /**
   * Whether an error means the backend refused the request (not an accept); return false for errors
   * that still show the backend working, such as a 404. Default: every error. If it throws, the call counts
   * as refused and rejects with `CALLBACK_FAILED`.
   */
  isRejection?: (error: unknown) => boolean;
  /**
   * Source of randomness for the local rejection draw, returning a number in [0, 1). Default `Math.random`;
   * tests pass a seeded one. If it throws, the call rejects with `CALLBACK_FAILED`.
   */
  random?: () => number;
  /** The clock the window is measured on. Default the real clock; tests pass a `FakeClock`. */
  clock?: Clock;
  /** Names the policy in its `THROTTLED` errors (as the dependency) when the call does not go through a wall dependency. */
  name?: string;
}

const REQUESTS = 0;
const ACCEPTS = 1;

/**
 * Client-side adaptive throttling (Google SRE book, "Handling Overload"): rejects locally with probability
 * max(0, (requests − K·accepts) / (requests + 1)) over a sliding window, so a struggling backend stops
 * receiving the work it would refuse anyway. Local rejections count as requests, so the probability
 * falls as soon as the backend accepts again.
 */
export class ThrottlePolicy extends PolicyBase {
  readonly k: number;
  private readonly windowMs: number;
  private readonly counters: RollingCounters;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly isRejection: (e: unknown) => boolean;
  readonly name: string | undefined;

  constructor(options: ThrottleOptions = {}) {
    const o = objectOption('throttle', options, ['k', 'window', 'isRejection', 'random', 'clock', 'name']);
    super(clockOption('throttle.clock', o.clock));
    this.k = o.k === undefined ? 2 : numberOption('throttle.k', o.k, 1);
    this.windowMs = o.window === undefined ? 120_000 : durationOption('throttle.window', o.window, 1000);
    this.random = o.random === undefined ? Math.random : guarded('throttle.random', fnOption<() => number>('throttle.random', o.random));
    this.isRejection =
      o.isRejection === undefined ? () => true : guarded('throttle.isRejection', fnOption<(e: unknown) => boolean>('throttle.isRejection', o.isRejection));
    this.name = nameOption('throttle.name', o.name);
    this.now = coarseClock(this.clock);
    this.counters = new RollingCounters(this.windowMs, 2, this.clock.now(), 12);
  }

  /** The current local rejection probability. */
  probability(now = this.now()): number {
    const requests = this.counters.sum(REQUESTS, now);
    return Math.max(0, (requests - this.k * this.counters.sum(ACCEPTS, now)) / (requests + 1));
  }

  private readonly accepted = (v: unknown): unknown => {
    this.counters.add(ACCEPTS, this.now());
    return v;
  };

  /** A throwing `isRejection` counts the call as a rejection and fails it with `CALLBACK_FAILED`. */
  private readonly failed = (e: unknown): never => {
    if (!this.isRejection(e)) this.counters.add(ACCEPTS, this.now());
    throw e;
  };

  /**
   * Runs `next` (the rest of a pipeline) for the call `ctx`, or rejects it locally. This is how
   * {@link pipeline} links policies; to make a call, use `execute(fn)`. A local rejection is a `THROTTLED`
   * error marked not retryable, so a retry outside does not resend it.
   */
  run(ctx: CallContext, next: Next): Promise<unknown> {
    const now = this.now();
    const p = this.probability(now);
    this.counters.add(REQUESTS, now);
    if (p > 0 && this.random() < p) {
      return Promise.reject(
        new BlastwallError('THROTTLED', `Rejected locally: the backend accepted too little recently (p=${p.toFixed(2)})`, {
          dependency: ctx.dependency ?? this.name,
          retryable: false,
        }),
      );
    }
    return next(ctx).then(this.accepted, this.failed);
  }
}

/**
 * A client-side adaptive throttle: once the backend accepts too few of the requests sent over the last 2
 * minutes, calls are rejected locally with `THROTTLED` (not retryable), with probability
 * `max(0, (requests − k·accepts) / (requests + 1))` (default k = 2), instead of adding load the backend
 * would refuse anyway. It needs no configuration on the backend and recovers as soon as the backend accepts
 * again; read the current probability with `probability()`.
 *
 * @throws `CONFIG_INVALID` when an option is invalid.
 * @example
 * ```ts
 * import { throttle } from 'blastwall';
 *
 * const policy = throttle({ k: 1.5, isRejection: (e) => (e as { status?: number }).status !== 404 });
 * const page = await policy.execute(() => searchIndex.query('boots'));
 * ```
 */
export function throttle(options?: ThrottleOptions): ThrottlePolicy {
  return new ThrottlePolicy(options);
}
