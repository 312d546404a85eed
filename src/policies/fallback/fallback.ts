import type { Clock } from '../../core/clock.js';
import type { CallContext } from '../../core/context.js';
import { Emitter } from '../../core/events.js';
import { type Next, PolicyBase } from '../../core/policy.js';
import { callbackFailed, guarded } from '../../core/callback.js';
import { clockOption, fnOption, objectOption } from '../../core/validate.js';

/** Options of {@link fallback}; an unknown option throws `CONFIG_INVALID`. */
export interface FallbackOptions {
  /**
   * Which errors get the fallback; any other error rejects the call unchanged. Default: all. If it throws,
   * the call rejects with `CALLBACK_FAILED` (cause: what it threw).
   */
  handles?: (error: unknown) => boolean;
  /** The policy's clock; a fallback measures no time, but a pipeline whose first policy it is runs its calls on it. Default the real clock. */
  clock?: Clock;
}

/** Emitted by {@link FallbackPolicy.onFallback} each time the fallback replaces a failure, before it is produced. */
export interface FallbackEvent {
  /** The failure the fallback replaces. */
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

/**
 * A policy that answers with a fallback instead of failing: a fixed value, or a function of the error
 * (sync or async) that produces one. `handles` limits which errors get it. A fallback function that throws
 * or rejects fails the call with `CALLBACK_FAILED` (its error as the cause, the call's error in
 * `details.error`). A function is always called, so to fall back to a function value, return it from one.
 * Put it outermost, so that it sees what the other policies finally gave up on.
 *
 * @throws `CONFIG_INVALID` when an option is invalid.
 * @example
 * ```ts
 * import { fallback, pipeline, timeout } from 'blastwall';
 *
 * const policy = pipeline(fallback((): string[] => []), timeout('300ms'));
 * const recommendations = await policy.execute(() => loadRecommendations(userId));
 * ```
 */
export function fallback<F>(valueOrFn: F | ((error: unknown) => F | Promise<F>), options?: FallbackOptions): FallbackPolicy<F> {
  return new FallbackPolicy(valueOrFn, options);
}

function fallbackFailed(cause: unknown, error: unknown, dependency: string | undefined) {
  const e = callbackFailed('fallback', cause, dependency);
  if (e.details !== undefined && !('error' in e.details)) e.details.error = error;
  return e;
}
