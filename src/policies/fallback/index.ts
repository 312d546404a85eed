import type { Clock } from '../../core/clock.js';
import type { CallContext } from '../../core/context.js';
import { Emitter } from '../../core/events.js';
import { type Next, PolicyBase } from '../../core/policy.js';
import { fnOption, objectOption } from '../../core/validate.js';

export interface FallbackOptions {
  /** Which errors get the fallback. Default: all. */
  handles?: (error: unknown) => boolean;
  clock?: Clock;
}

export interface FallbackEvent {
  error: unknown;
}

/** Returns a value (or a function of the error) instead of failing. */
export class FallbackPolicy<F = unknown> extends PolicyBase {
  private readonly produce: (error: unknown) => F | Promise<F>;
  private readonly handles: (error: unknown) => boolean;
  readonly onFallbackEmitter = new Emitter<FallbackEvent>();
  readonly onFallback = this.onFallbackEmitter.subscribe;

  constructor(valueOrFn: F | ((error: unknown) => F | Promise<F>), options: FallbackOptions = {}) {
    const o = objectOption('fallback options', options, ['handles', 'clock']);
    super(o.clock as Clock | undefined);
    this.produce = typeof valueOrFn === 'function' ? (valueOrFn as (e: unknown) => F) : () => valueOrFn;
    this.handles = o.handles === undefined ? () => true : fnOption('fallback.handles', o.handles);
  }

  run(ctx: CallContext, next: Next): Promise<unknown> {
    return next(ctx).catch((err: unknown) => {
      if (!this.handles(err)) throw err;
      if (this.onFallbackEmitter.active) this.onFallbackEmitter.emit({ error: err });
      return this.produce(err);
    });
  }
}

export function fallback<F>(valueOrFn: F | ((error: unknown) => F | Promise<F>), options?: FallbackOptions): FallbackPolicy<F> {
  return new FallbackPolicy(valueOrFn, options);
}
