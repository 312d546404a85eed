import { type Clock, coarseClock, sleep } from '../../core/clock.js';
import type { CallContext } from '../../core/context.js';
import { optionNames } from '../../core/option-names.js';
import { durationOption, type Duration } from '../../core/duration.js';
import { BlastwallError, isNonRetryable, retryAfterOf } from '../../core/errors.js';
import { Emitter } from '../../core/events.js';
import { type Next, PolicyBase } from '../../core/policy.js';
import { guarded } from '../../core/callback.js';
import { clockOption, fnOption, intOption, nameOption, objectOption } from '../../core/validate.js';
import { type RetryBudget, type RetryBudgetOptions, budgetOption } from './budget.js';
import { type BackoffSpec, type Schedule, scheduleFrom } from './schedule.js';

export * from './budget.js';
export * from './schedule.js';

/**
 * Options of {@link retry}. All are optional; an unknown option or a value out of range throws
 * `CONFIG_INVALID` when the policy is built.
 */
export interface RetryOptions {
  /** Total attempts including the first, an integer from 1 to 100 (1 means no retry). Default 3. */
  attempts?: number;
  /**
   * The wait before each retry: a {@link Schedule} (see {@link exponential} and {@link constant}), a
   * {@link BackoffSpec} `{ kind, base, max, factor, jitter }`, or a {@link Duration} for a constant wait.
   * Default: exponential from 50ms doubling up to 30s, full jitter. A retry-after hint on the error (see
   * {@link retryAfterOf}) lengthens the wait, never shortens it.
   */
  backoff?: Schedule | BackoffSpec | Duration;
  /**
   * Give up (reason `max-elapsed`, with the last attempt's error) when the next attempt would start later
   * than this after the first attempt began. Default: no limit.
   */
  maxElapsed?: Duration;
  /**
   * Which errors are worth another attempt (`attempt` is the 1-based number of the attempt that failed).
   * Default: all, except errors that say not to retry ({@link isNonRetryable}); those are never retried, so
   * this can only narrow the set. This and
   * `retryOnResult`, `random` and a function `backoff` are user code: if one throws, the call rejects with
   * `CALLBACK_FAILED` (cause: what it threw).
   */
  retryOn?: (error: unknown, attempt: number) => boolean;
  /**
   * Retry on a successful result too (e.g. a 503 response object) when this returns true. When the policy
   * gives up on such a result (attempts used, deadline, `maxElapsed`), the call resolves with the last
   * result; only a budget refusal rejects (`RETRY_BUDGET_EXHAUSTED`).
   */
  retryOnResult?: (value: unknown, attempt: number) => boolean;
  /**
   * A retry budget (a shared {@link RetryBudget}, or options for one of this policy's own), or `false` for
   * none. A retry the budget refuses rejects the call with `RETRY_BUDGET_EXHAUSTED` (cause: the last error).
   * Default: a budget of its own with `{ ratio: 0.1, minPerSecond: 10, window: '10s' }`.
   */
  budget?: RetryBudget | RetryBudgetOptions | false;
  /**
   * The least time an attempt is assumed to need. A retry is only started if the backoff plus the larger of
   * this and the expected attempt time (the wall's estimate from observed latencies, else the last attempt's
   * duration) fits before the call's deadline. Default 0. A retry that does not fit ends the call (reason
   * `deadline`) with the last attempt's error, marked not retryable.
   */
  minAttemptTime?: Duration;
  /** Source of randomness for jitter, returning a number in [0, 1). Default `Math.random`; tests pass a seeded one. */
  random?: () => number;
  /** The clock for waits and elapsed time. Default the real clock; tests pass a `FakeClock`. */
  clock?: Clock;
  /** Names the policy in its errors (as the dependency) when the call does not go through a wall dependency. */
  name?: string;
}

/** Emitted by {@link RetryPolicy.onRetry} each time a retry is scheduled, before the wait. */
export interface RetryEvent {
  /** The attempt that failed (1-based). */
  attempt: number;
  /** The wait before the next attempt, ms: the backoff, or the error's retry-after hint if longer. */
  delayMs: number;
  /** What the failed attempt threw, or the result `retryOnResult` rejected. */
  error: unknown;
}

/** Emitted by {@link RetryPolicy.onGiveUp} when the policy stops retrying a failed call. */
export interface GiveUpEvent {
  /** Attempts made, including the first. */
  attempts: number;
  /** The last attempt's failure (or the result `retryOnResult` rejected). */
  error: unknown;
  /**
   * Why it stopped: `attempts` (all used), `not-retryable` (the error says not to retry, or `retryOn` said
   * no), `budget` (the retry budget refused; the call rejects with `RETRY_BUDGET_EXHAUSTED`), `deadline` (the
   * next attempt would not fit before the call's deadline) or `max-elapsed` (past `maxElapsed`).
   */
  reason: 'attempts' | 'not-retryable' | 'budget' | 'deadline' | 'max-elapsed';
}

/** Every option of `retry()`, as its runtime check accepts them (the wall's `retry` section reuses the list). */
export const RETRY_OPTION_NAMES = optionNames<RetryOptions>()('attempts', 'backoff', 'maxElapsed', 'retryOn', 'retryOnResult', 'budget', 'minAttemptTime', 'random', 'clock', 'name');

class RetryResult {
  constructor(readonly value: unknown) {}
}

/**
 * Retries with a schedule and a budget. A would-be retry that the budget refuses becomes
 * `RETRY_BUDGET_EXHAUSTED` instead of extra load; when a retry cannot fit before the call's deadline, the caller
 * gets the last attempt's own error, marked not retryable (`DEPENDENCY_FAILED` for a plain error, its cause
 * kept); a retry-after hint on an error stretches the wait.
 */
export class RetryPolicy extends PolicyBase {
  readonly attempts: number;
  readonly budget: RetryBudget | undefined;
  readonly name: string | undefined;
  private readonly schedule: Schedule;
  private readonly maxElapsed: number;
  private readonly minAttemptTime: number;
  private readonly retryOn: ((e: unknown, attempt: number) => boolean) | undefined;
  /** @internal */
  readonly retryOnResult: ((v: unknown, attempt: number) => boolean) | undefined;
  private readonly random: () => number;
  /** @internal */
  readonly now: () => number;
  private readonly onRetryEmitter = new Emitter<RetryEvent>();
  readonly onRetry = this.onRetryEmitter.subscribe;
  private readonly onGiveUpEmitter = new Emitter<GiveUpEvent>();
  readonly onGiveUp = this.onGiveUpEmitter.subscribe;

  constructor(options: RetryOptions = {}) {
    const o = objectOption('retry', options, RETRY_OPTION_NAMES);
    super(clockOption('retry.clock', o.clock));
    this.name = nameOption('retry.name', o.name);
    this.attempts = o.attempts === undefined ? 3 : intOption('retry.attempts', o.attempts, 1, 100);
    this.schedule = scheduleFrom(o.backoff, 'retry.backoff');
    this.maxElapsed = o.maxElapsed === undefined ? Number.POSITIVE_INFINITY : durationOption('retry.maxElapsed', o.maxElapsed);
    this.minAttemptTime = o.minAttemptTime === undefined ? 0 : durationOption('retry.minAttemptTime', o.minAttemptTime, 0);
    this.retryOn = o.retryOn === undefined ? undefined : guarded('retry.retryOn', fnOption<(e: unknown, n: number) => boolean>('retry.retryOn', o.retryOn));
    this.retryOnResult =
      o.retryOnResult === undefined ? undefined : guarded('retry.retryOnResult', fnOption<(v: unknown, n: number) => boolean>('retry.retryOnResult', o.retryOnResult));
    this.random = o.random === undefined ? Math.random : guarded('retry.random', fnOption<() => number>('retry.random', o.random));
    this.now = coarseClock(this.clock);
    this.budget = budgetOption('retry.budget', o.budget, this.clock);
  }

  /**
   * Runs `next` (the rest of a pipeline) for the call `ctx`, retrying it as configured. This is how
   * {@link pipeline} links policies; to make a call, use `execute(fn)`. Resolves with the first successful
   * result; rejects with the last failure, or `RETRY_BUDGET_EXHAUSTED`.
   */
  run(ctx: CallContext, next: Next): Promise<unknown> {
    this.budget?.recordRequest();
    const started = this.now();
    ctx.nextAttempt();
    // first attempt without an async frame: the success path costs one promise
    const first = next(ctx);
    if (this.retryOnResult === undefined) return first.catch((err: unknown) => this.afterFailure(ctx, next, err, started));
    return first.then(
      (value) => (this.retryOnResult!(value, ctx.attempt) ? this.afterFailure(ctx, next, new RetryResult(value), started) : value),
      (err: unknown) => this.afterFailure(ctx, next, err, started),
    );
  }

  /** @internal Decides about the attempt that just failed and, if allowed, runs the remaining attempts. */
  async afterFailure(ctx: CallContext, next: Next, failure: unknown, started: number): Promise<unknown> {
    let step: ((n: number) => number) | undefined;
    let attemptStarted = started;
    for (;;) {
      if (!(failure instanceof RetryResult) && (isNonRetryable(failure) || (this.retryOn !== undefined && !this.retryOn(failure, ctx.attempt)))) {
        return this.giveUp(ctx, failure, 'not-retryable');
      }
      if (ctx.attempt >= this.attempts) return this.giveUp(ctx, failure, 'attempts');
      step ??= this.schedule(this.random);
      let delay = step(ctx.attempt);
      if (!(delay >= 0)) delay = 0; // NaN from a user's random
      const hint = failure instanceof RetryResult ? undefined : retryAfterOf(failure);
      if (hint !== undefined && hint > delay) delay = hint;
      const now = this.clock.now();
      if (now + delay - started > this.maxElapsed) return this.giveUp(ctx, failure, 'max-elapsed');
      // what the next attempt needs: the owner's estimate from observed latencies (failures included, capped by
      // the timeout), or, without one yet, what this call's own last attempt took
      const needed = Math.max(this.minAttemptTime, ctx.minAttemptMs > 0 ? ctx.minAttemptMs : now - attemptStarted);
      if (ctx.deadline !== Number.POSITIVE_INFINITY && now + delay + needed >= ctx.deadline) {
        // the retry does not fit: the caller gets the dependency's own failure, final at this layer (the deadline
        // did not fail, the dependency did)
        const why =
          `attempt ${ctx.attempt + 1} not started: ${Math.max(0, Math.round(ctx.deadline - now))}ms left before the deadline, ` +
          `${Math.round(delay)}ms backoff + ${Math.round(needed)}ms attempt needed`;
        return this.giveUp(ctx, failure instanceof RetryResult ? failure : finalFailure(failure, ctx.dependency ?? this.name, ctx.attempt, why), 'deadline');
      }
      if (this.budget !== undefined && !this.budget.tryRetry()) {
        return this.giveUp(
          ctx,
          new BlastwallError('RETRY_BUDGET_EXHAUSTED', `Retry budget exhausted after attempt ${ctx.attempt}`, {
            dependency: ctx.dependency ?? this.name,
            cause: unwrap(failure),
          }),
          'budget',
        );
      }
      if (this.onRetryEmitter.active) this.onRetryEmitter.emit({ attempt: ctx.attempt, delayMs: delay, error: unwrap(failure) });
      ctx.retries++;
      if (delay > 0 || ctx.outerSignal !== undefined) await sleep(this.clock, delay, ctx.outerSignal);
      attemptStarted = this.clock.now();
      ctx.nextAttempt();
      try {
        const value = await next(ctx);
        if (this.retryOnResult === undefined || !this.retryOnResult(value, ctx.attempt)) return value;
        failure = new RetryResult(value);
      } catch (err) {
        failure = err;
      }
    }
  }

  private giveUp(ctx: CallContext, failure: unknown, reason: GiveUpEvent['reason']): unknown {
    if (this.onGiveUpEmitter.active) this.onGiveUpEmitter.emit({ attempts: ctx.attempt, error: unwrap(failure), reason });
    if (failure instanceof RetryResult) return failure.value;
    throw failure;
  }
}

/**
 * The last attempt's failure as the final answer of this layer: the same error, marked not retryable (the
 * retries happened here), or a plain error wrapped as `DEPENDENCY_FAILED` with it as the cause.
 */
function finalFailure(failure: unknown, dependency: string | undefined, attempts: number, why: string): BlastwallError {
  if (failure instanceof BlastwallError) {
    const e = new BlastwallError(failure.code, failure.message, {
      dependency: failure.dependency ?? dependency,
      cause: failure.cause,
      retryAfterMs: failure.retryAfterMs,
      retryable: false,
      details: { ...failure.details, attempts, retry: why },
    });
    e.stack = failure.stack ?? '';
    return e;
  }
  const message = failure instanceof Error ? failure.message : String(failure);
  return new BlastwallError('DEPENDENCY_FAILED', `${dependency ?? 'The call'} failed: ${message}`, {
    dependency,
    cause: failure,
    retryable: false,
    details: { attempts, retry: why },
  });
}

function unwrap(f: unknown): unknown {
  return f instanceof RetryResult ? f.value : f;
}

/**
 * A policy that runs a failed call again, waiting a backoff between attempts: by default 3 attempts,
 * exponential backoff from 50ms (doubling, capped at 30s, full jitter), errors marked not retryable never
 * retried, and a retry budget that allows retries of at most 10% of requests plus 10 per second over 10s.
 * A retry that would not fit before the call's deadline is not started. Put it outside a per-attempt
 * {@link timeout} and inside a circuit breaker; see {@link RetryOptions}.
 *
 * @throws `CONFIG_INVALID` when an option is invalid.
 * @example
 * ```ts
 * import { retry } from 'blastwall';
 *
 * const policy = retry({ attempts: 4, backoff: { base: '100ms', max: '2s' }, retryOn: (e) => !(e instanceof TypeError) });
 * policy.onGiveUp((e) => console.warn(`gave up after ${e.attempts} attempts: ${e.reason}`));
 * const res = await policy.execute(({ signal }) => fetch(`${inventoryUrl}/stock/42`, { signal }));
 * ```
 */
export function retry(options?: RetryOptions): RetryPolicy {
  return new RetryPolicy(options);
}
