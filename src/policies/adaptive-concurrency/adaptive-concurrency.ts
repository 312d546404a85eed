import { type Clock, coarseClock } from '../../core/clock.js';
import type { CallContext } from '../../core/context.js';
import { optionNames } from '../../core/option-names.js';
import type { Duration } from '../../core/duration.js';
import { type Next, PolicyBase } from '../../core/policy.js';
import { clockOption, objectOption } from '../../core/validate.js';
import { BulkheadPolicy, type ConcurrencyPriorityOptions } from '../concurrency/index.js';
import { Gradient2Limit, type Gradient2Options } from './gradient2.js';

export * from './gradient2.js';

/** Every option of `adaptiveConcurrency()`, as its runtime check accepts them (the wall's `concurrency.adaptive` section reuses the list). */
export const ADAPTIVE_CONCURRENCY_OPTION_NAMES = optionNames<AdaptiveConcurrencyOptions>()(
  'initial',
  'min',
  'max',
  'tolerance',
  'smoothing',
  'longWindow',
  'queue',
  'queueTimeout',
  'priority',
  'clock',
  'name',
);

/**
 * Options of {@link adaptiveConcurrency}: how the limit adapts (the {@link Gradient2Options}) and how calls
 * beyond it wait. An unknown option or a value out of range throws `CONFIG_INVALID`.
 */
export interface AdaptiveConcurrencyOptions extends Gradient2Options {
  /** Calls allowed to wait for a slot (an integer ≥ 0). Default 0: a call that finds every slot busy is refused with `BULKHEAD_FULL` at once. */
  queue?: number;
  /** Longest a call waits in the queue before it is refused with `QUEUE_TIMEOUT`. Default: until its deadline or the caller's abort. */
  queueTimeout?: Duration;
  /** How the slots are shared between call classes, as for `bulkhead()` (shares follow the adapting limit). */
  priority?: ConcurrencyPriorityOptions | false;
  /** The clock round-trip times and queue waits are measured on. Default the real clock; tests pass a `FakeClock`. */
  clock?: Clock;
  /** Names the policy in its errors (as the dependency) when the call does not go through a wall dependency. */
  name?: string;
}

/**
 * A concurrency limit that adapts: a bulkhead whose limit follows a Gradient2 estimate from the round-trip
 * times of successful calls, so concurrency shrinks when the dependency slows down and grows back when it
 * recovers, never below `min`.
 */
export class AdaptiveConcurrencyPolicy extends PolicyBase {
  readonly limiter: Gradient2Limit;
  readonly bulkhead: BulkheadPolicy;
  private readonly now: () => number;

  constructor(options: AdaptiveConcurrencyOptions = {}) {
    const o = objectOption('concurrency', options, ADAPTIVE_CONCURRENCY_OPTION_NAMES);
    super(clockOption('concurrency.clock', o.clock));
    const { queue, queueTimeout, priority, clock: _c, name, ...g } = o;
    this.limiter = new Gradient2Limit(g as Gradient2Options);
    this.bulkhead = new BulkheadPolicy({
      limit: this.limiter.limit,
      ...(queue === undefined ? {} : { queue: queue as number }),
      ...(queueTimeout === undefined ? {} : { queueTimeout: queueTimeout as Duration }),
      ...(priority === undefined ? {} : { priority: priority as ConcurrencyPriorityOptions | false }),
      clock: this.clock,
      ...(name === undefined ? {} : { name: name as string }),
    });
    this.now = coarseClock(this.clock);
  }

  /** The concurrency limit in force now (between `min` and `max`); it changes as successful calls complete. */
  get limit(): number {
    return this.bulkhead.limit;
  }

  /**
   * Runs `next` (the rest of a pipeline) for the call `ctx` in a concurrency slot, and feeds the limiter
   * the round-trip time of a success. This is how {@link pipeline} links policies; to make a call, use
   * `execute(fn)`. Rejects with `BULKHEAD_FULL` when no slot and no queue place is free, `QUEUE_TIMEOUT` or
   * `DEADLINE_EXCEEDED` when the wait runs out, otherwise settles as `next` does.
   */
  run(ctx: CallContext, next: Next): Promise<unknown> {
    return this.bulkhead.run(ctx, (c) => {
      const started = this.now();
      const inflight = this.bulkhead.inFlight;
      return next(c).then((v) => {
        const limit = this.limiter.sample(this.now() - started, inflight);
        if (limit !== this.bulkhead.limit) this.bulkhead.setLimit(limit);
        return v;
      });
    });
  }
}

/**
 * A concurrency limit that finds itself: a {@link bulkhead} whose limit follows the dependency's latency
 * ({@link Gradient2Limit}). It starts at 20 calls at once, shrinks when round-trip times rise above their own
 * norm (by more than `tolerance`, default 1.5×), grows back while they hold, and stays between `min` (4) and
 * `max` (1000). Calls over the limit are refused with `BULKHEAD_FULL`, or wait when `queue` allows.
 *
 * @throws `CONFIG_INVALID` when an option is invalid.
 * @example
 * ```ts
 * import { adaptiveConcurrency } from 'blastwall';
 *
 * const policy = adaptiveConcurrency({ min: 8, max: 200, queue: 50, queueTimeout: '200ms' });
 * const rows = await policy.execute(({ signal }) => db.query(sql, { signal }));
 * console.log(`limit now ${policy.limit}`);
 * ```
 */
export function adaptiveConcurrency(options?: AdaptiveConcurrencyOptions): AdaptiveConcurrencyPolicy {
  return new AdaptiveConcurrencyPolicy(options);
}
