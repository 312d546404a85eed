import { type Clock, coarseClock } from '../../core/clock.js';
import type { CallContext } from '../../core/context.js';
import { optionNames } from '../../core/option-names.js';
import type { Duration } from '../../core/duration.js';
import { type Next, PolicyBase } from '../../core/policy.js';
import { clockOption, objectOption } from '../../core/validate.js';
import { BulkheadPolicy } from '../concurrency/index.js';
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
  'clock',
  'name',
);

export interface AdaptiveConcurrencyOptions extends Gradient2Options {
  /** Calls allowed to wait for a slot. Default 0. */
  queue?: number;
  queueTimeout?: Duration;
  clock?: Clock;
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
    const { queue, queueTimeout, clock: _c, name, ...g } = o;
    this.limiter = new Gradient2Limit(g as Gradient2Options);
    this.bulkhead = new BulkheadPolicy({
      limit: this.limiter.limit,
      ...(queue === undefined ? {} : { queue: queue as number }),
      ...(queueTimeout === undefined ? {} : { queueTimeout: queueTimeout as Duration }),
      clock: this.clock,
      ...(name === undefined ? {} : { name: name as string }),
    });
    this.now = coarseClock(this.clock);
  }

  get limit(): number {
    return this.bulkhead.limit;
  }

  run(ctx: CallContext, next: Next): Promise<unknown> {
    return this.bulkhead.run(ctx, (c) => {
      const started = this.now();
      const inflight = this.bulkhead.stats().active;
      return next(c).then((v) => {
        const limit = this.limiter.sample(this.now() - started, inflight);
        if (limit !== this.bulkhead.limit) this.bulkhead.setLimit(limit);
        return v;
      });
    });
  }
}

export function adaptiveConcurrency(options?: AdaptiveConcurrencyOptions): AdaptiveConcurrencyPolicy {
  return new AdaptiveConcurrencyPolicy(options);
}
