import { type Clock, coarseClock } from '../../core/clock.js';
import type { CallContext } from '../../core/context.js';
import { timerDurationOption } from '../../core/duration.js';
import { BlastwallError } from '../../core/errors.js';
import { Emitter } from '../../core/events.js';
import { type Next, PolicyBase } from '../../core/policy.js';
import { DeadlineScheduler, type Expirable, schedulerFor } from '../../core/scheduler.js';
import { clockOption, configError, nameOption, objectOption } from '../../core/validate.js';
import type { Duration } from '../../core/duration.js';

/** Options of {@link timeout}; an unknown option throws `CONFIG_INVALID`. */
export interface TimeoutOptions {
  /** The clock timeouts are measured on. Default the real clock; tests pass a `FakeClock`. */
  clock?: Clock;
  /** The deadline scheduler to use (a wall passes its own). Default: the clock's shared one. */
  scheduler?: DeadlineScheduler;
  /** Name used in errors (the wall sets the dependency's name). */
  name?: string;
}

/** Emitted by {@link TimeoutPolicy.onTimeout} each time an attempt runs out of time. */
export interface TimeoutEvent {
  /** The time the attempt was given, ms: the policy's duration, or less when the call's deadline was nearer. */
  timeoutMs: number;
  /** The attempt that timed out (1-based; above 1 when the timeout sits inside a retry). */
  attempt: number;
  /** True when the operation's deadline, not this policy's duration, was the limit. */
  byDeadline: boolean;
}

class PendingAttempt implements Expirable {
  settled = false;
  constructor(
    readonly at: number,
    readonly ms: number,
    readonly byDeadline: boolean,
    readonly ctx: CallContext,
    readonly policy: TimeoutPolicy,
    readonly resolve: (v: unknown) => void,
    readonly reject: (e: unknown) => void,
  ) {}

  expire(): void {
    this.reject(this.policy.expired(this.ctx, this.ms, this.byDeadline));
  }

  cancel(reason: unknown): void {
    this.ctx.abort(reason);
    this.reject(reason);
  }
}

/**
 * Per-attempt timeout. Rejects with `TIMEOUT` (or `DEADLINE_EXCEEDED` when the call's deadline comes
 * first) and aborts `ctx.signal`. One shared scheduler serves all pending calls: the success path
 * allocates no timer, no AbortController and no listener.
 */
export class TimeoutPolicy extends PolicyBase {
  readonly ms: number;
  readonly name: string | undefined;
  private readonly onTimeoutEmitter = new Emitter<TimeoutEvent>();
  readonly onTimeout = this.onTimeoutEmitter.subscribe;
  private readonly scheduler: DeadlineScheduler;
  private readonly now: () => number;

  constructor(duration: Duration, options: TimeoutOptions = {}) {
    const o = objectOption('timeout options', options, ['clock', 'name', 'scheduler']);
    super(clockOption('timeout.clock', o.clock));
    this.ms = timerDurationOption('timeout', duration);
    this.name = nameOption('timeout.name', o.name);
    if (o.scheduler !== undefined && !(o.scheduler instanceof DeadlineScheduler)) {
      throw configError('timeout.scheduler', 'a DeadlineScheduler', o.scheduler);
    }
    this.scheduler = (o.scheduler as DeadlineScheduler | undefined) ?? schedulerFor(this.clock);
    this.now = coarseClock(this.clock);
  }

  /** @internal The error of an attempt that ran out of time; aborts its signal and tells listeners. */
  expired(ctx: CallContext, ms: number, byDeadline: boolean): BlastwallError {
    const err = byDeadline
      ? new BlastwallError('DEADLINE_EXCEEDED', `The deadline passed after ${Math.round(ms)}ms on attempt ${ctx.attempt}`, {
          dependency: ctx.dependency ?? this.name,
        })
      : new BlastwallError('TIMEOUT', `Attempt ${ctx.attempt} timed out after ${ms}ms`, {
          dependency: ctx.dependency ?? this.name,
        });
    ctx.abort(err);
    if (this.onTimeoutEmitter.active) this.onTimeoutEmitter.emit({ timeoutMs: ms, attempt: ctx.attempt, byDeadline });
    return err;
  }

  /** @internal The scheduler all timeouts of this clock share. */
  get sharedScheduler(): DeadlineScheduler {
    return this.scheduler;
  }

  /** @internal Time now on the cheap clock. */
  coarseNow(): number {
    return this.now();
  }

  /**
   * Runs `next` (the rest of a pipeline) for the call `ctx` under this policy's time limit. This is how
   * {@link pipeline} links policies; to make a call, use `execute(fn)`. Rejects with `TIMEOUT`, or with
   * `DEADLINE_EXCEEDED` when the call's deadline is nearer than the duration (at once if it has passed),
   * and aborts the attempt's `signal`; otherwise settles as `next` does.
   */
  run(ctx: CallContext, next: Next): Promise<unknown> {
    const now = this.now();
    let ms = this.ms;
    let byDeadline = false;
    if (ctx.deadline !== Number.POSITIVE_INFINITY) {
      const left = ctx.deadline - now;
      if (left <= 0) {
        return Promise.reject(
          new BlastwallError('DEADLINE_EXCEEDED', 'The deadline passed before the attempt could start', {
            dependency: ctx.dependency ?? this.name,
          }),
        );
      }
      if (left < ms) {
        ms = left;
        byDeadline = true;
      }
    }
    return new Promise((resolve, reject) => {
      const pending = new PendingAttempt(now + ms, ms, byDeadline, ctx, this, resolve, reject);
      // calls capped by a deadline have their own durations: keep them out of the ordered lane
      this.scheduler.add(pending, byDeadline ? -1 - (ms | 0) : this.ms);
      next(ctx).then(
        (v) => {
          if (pending.settled) return;
          this.scheduler.settle(pending);
          resolve(v);
        },
        (e: unknown) => {
          if (pending.settled) return;
          this.scheduler.settle(pending);
          reject(e);
        },
      );
    });
  }
}

/**
 * A policy that limits each attempt to `duration` (from 1ms up to 2^31−1 ms, about 24.8 days). An attempt
 * that takes longer rejects with `TIMEOUT` and its `signal` is aborted, so pass the signal on to the I/O to
 * stop the work too; the function's own result, if it comes later, is ignored. When the call has a deadline
 * (an operation's) nearer than `duration`, the deadline is the limit and the error is `DEADLINE_EXCEEDED`.
 * Inside a {@link retry}, each attempt gets the full duration.
 *
 * @throws `CONFIG_INVALID` when `duration` or an option is invalid.
 * @example
 * ```ts
 * import { pipeline, retry, timeout } from 'blastwall';
 *
 * const policy = pipeline(retry({ attempts: 3 }), timeout('800ms'));
 * const res = await policy.execute(({ signal }) => fetch(`${pricingUrl}/quote`, { signal }));
 * ```
 */
export function timeout(duration: Duration, options?: TimeoutOptions): TimeoutPolicy {
  return new TimeoutPolicy(duration, options);
}
