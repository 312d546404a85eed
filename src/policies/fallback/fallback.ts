import type { Clock } from '../../core/clock.js';
import type { CallContext } from '../../core/context.js';
import { Emitter } from '../../core/events.js';
import { type Next, PolicyBase } from '../../core/policy.js';
import { callbackFailed, guarded } from '../../core/callback.js';
import { clockOption, fnOption, objectOption } from '../../core/validate.js';

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
  private readonly onFallbackEmitter = new Emitter<FallbackEvent>();
  readonly onFallback = this.onFallbackEmitter.subscribe;

  constructor(valueOrFn: F | ((error: unknown) => F | Promise<F>), options: FallbackOptions = {}) {
    const o = objectOption('fallback options', options, ['handles', 'clock']);
    super(clockOption('fallback.clock', o.clock));
    this.produce = typeof valueOrFn === 'function' ? (valueOrFn as (e: unknown) => F) : () => valueOrFn;
    this.handles = o.handles === undefined ? () => true : guarded('fallback.handles', fnOption<(e: unknown) => boolean>('fallback.handles', o.handles));
  }

  /** A fallback function that throws (or rejects) fails the call with `CALLBACK_FAILED`; the call's error is in `details.error`. */
  run(ctx: CallContext, next: Next): Promise<unknown> {
    return next(ctx).catch((err: unknown) => {
      if (!this.handles(err)) throw err;
      if (this.onFallbackEmitter.active) this.onFallbackEmitter.emit({ error: err });
      try {
        const v = this.produce(err);
        return v instanceof Promise ? v.catch((fbErr: unknown) => Promise.reject(fallbackFailed(fbErr, err, ctx.dependency))) : v;
      } catch (fbErr) {
        throw fallbackFailed(fbErr, err, ctx.dependency);
      }
    });
  }
}

export function fallback<F>(valueOrFn: F | ((error: unknown) => F | Promise<F>), options?: FallbackOptions): FallbackPolicy<F> {
  return new FallbackPolicy(valueOrFn, options);
}

function fallbackFailed(cause: unknown, error: unknown, dependency: string | undefined) {
  const e = callbackFailed('fallback', cause, dependency);
  if (e.details !== undefined && !('error' in e.details)) e.details.error = error;
  return e;
}
