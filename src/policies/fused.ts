import type { CallContext } from '../core/context.js';
import { type Next, Pipeline, type Policy, callUserFn, invokeUserFn, registerFuser, startCall } from '../core/policy.js';
import type { AttemptFn } from '../core/context.js';
import type { Expirable } from '../core/scheduler.js';
import { CircuitBreakerPolicy } from './circuit-breaker/index.js';
import { BulkheadPolicy } from './concurrency/index.js';
import { RetryPolicy } from './retry/index.js';
import { TimeoutPolicy } from './timeout/index.js';

/**
 * The standard stack — concurrency → breaker → retry → timeout, any of them optional, in that order —
 * run as one state machine on the success path: one deferred promise per call instead of one per layer.
 * Anything off the fast path (a full bulkhead, a breaker not closed, result-based retries, a nested
 * pipeline) runs the ordinary linked pipeline, so behaviour is the same either way.
 */
/** @internal What a wall dependency does with each outcome, run inside the fused call (no extra promise). */
export interface SettleHook {
  /** Returns the value to resolve with (may throw, or return a promise). */
  value(ctx: CallContext, v: unknown): unknown;
  /** Returns the error to reject with. */
  error(ctx: CallContext, e: unknown): unknown;
}

export class FusedPipeline extends Pipeline {
  readonly timeoutOnly: Next;
  private readonly fast: Next;

  constructor(
    policies: readonly Policy[],
    readonly bh: BulkheadPolicy | undefined,
    readonly br: CircuitBreakerPolicy | undefined,
    readonly rt: RetryPolicy | undefined,
    readonly to: TimeoutPolicy | undefined,
  ) {
    super(policies);
    const t = to;
    this.timeoutOnly = t === undefined ? invokeUserFn : (ctx) => t.run(ctx, invokeUserFn);
    this.fast = (ctx) => this.runFast(ctx);
  }

  override execute<T>(fn: AttemptFn<T>, signal?: AbortSignal): Promise<T> {
    return startCall(this.clock, this.fast, fn, signal);
  }

  override run(ctx: CallContext, next: Next): Promise<unknown> {
    return next === invokeUserFn ? this.runFast(ctx) : super.run(ctx, next);
  }

  /** @internal Runs a call and applies `hook` to its outcome (on the fast path, inside the same promise). */
  runObserved(ctx: CallContext, hook: SettleHook): Promise<unknown> {
    return this.runFast(ctx, hook);
  }

  private runFast(ctx: CallContext, hook?: SettleHook): Promise<unknown> {
    const { bh, br, rt, to } = this;
    const gen = br === undefined ? 0 : br.closedGeneration();
    if (gen < 0 || (rt !== undefined && rt.retryOnResult !== undefined) || (bh !== undefined && !bh.tryAcquire())) {
      const linked = super.run(ctx, invokeUserFn);
      return hook === undefined
        ? linked
        : linked.then(
            (v) => hook.value(ctx, v),
            (e: unknown) => {
              throw hook.error(ctx, e);
            },
          );
    }
    const slowT0 = br === undefined ? 0 : br.slowStart();
    // one clock reading serves the budget, the retry's start and the timeout's deadline
    const started = rt !== undefined ? rt.now() : to !== undefined ? to.coarseNow() : 0;
    if (rt !== undefined) {
      rt.budget?.recordRequest(started);
      ctx.nextAttempt();
    }
    return new Promise((resolve, reject) => {
      const call = new FusedCall(this, ctx, resolve, reject, gen, slowT0, started, hook);
      if (to !== undefined) {
        const now = started;
        let ms = to.ms;
        if (ctx.deadline !== Number.POSITIVE_INFINITY) {
          const left = ctx.deadline - now;
          if (left <= 0) {
            call.settled = true;
            call.failed(to.expired(ctx, 0, true));
            return;
          }
          if (left < ms) {
            ms = left;
            call.byDeadline = true;
          }
        }
        call.at = now + ms;
        call.ms = ms;
        call.timed = true;
        to.sharedScheduler.add(call, call.byDeadline ? -1 - (ms | 0) : to.ms);
      }
      // the first attempt's result is classified in `ok` (no extra promise); retries go through invokeUserFn
      callUserFn(ctx).then(call.ok, call.err);
    });
  }
}

class FusedCall implements Expirable {
  at = 0;
  ms = 0;
  settled = false;
  timed = false;
  byDeadline = false;

  constructor(
    readonly f: FusedPipeline,
    readonly ctx: CallContext,
    readonly resolve: (v: unknown) => void,
    readonly reject: (e: unknown) => void,
    readonly gen: number,
    readonly slowT0: number,
    readonly started: number,
    readonly hook: SettleHook | undefined,
  ) {}

  private settle(): void {
    if (this.timed) this.f.to!.sharedScheduler.settle(this);
    else this.settled = true;
  }

  readonly ok = (v: unknown): void => {
    if (this.settled) return;
    this.settle();
    const check = this.ctx.resultFailure;
    if (check !== undefined) {
      let failure: unknown;
      try {
        failure = check(v);
      } catch (err) {
        failure = err;
      }
      if (failure !== undefined) {
        this.failed(failure);
        return;
      }
    }
    this.finishOk(v);
  };

  readonly err = (e: unknown): void => {
    if (this.settled) return;
    this.settle();
    this.failed(e);
  };

  /** Called by the scheduler (which has marked it settled) when the first attempt runs out of time. */
  expire(): void {
    this.failed(this.f.to!.expired(this.ctx, this.ms, this.byDeadline));
  }

  /** The scheduler closed (the wall is closing): the call fails with `reason`, which stops retries. */
  cancel(reason: unknown): void {
    this.ctx.abort(reason);
    this.failed(reason);
  }

  failed(e: unknown): void {
    const rt = this.f.rt;
    if (rt === undefined) {
      this.finishErr(e);
      return;
    }
    rt.afterFailure(this.ctx, this.f.timeoutOnly, e, this.started).then(
      (v) => this.finishOk(v),
      (err: unknown) => this.finishErr(err),
    );
  }

  // the slot is given back first: nothing after it (a breaker's callback, the wall's hook) can leak it
  private finishOk(v: unknown): void {
    this.f.bh?.release();
    this.f.br?.recordClosed(this.gen, undefined, this.slowT0);
    if (this.hook === undefined) this.resolve(v);
    else {
      try {
        this.resolve(this.hook.value(this.ctx, v));
      } catch (e) {
        this.reject(e);
      }
    }
  }

  private finishErr(e: unknown): void {
    this.f.bh?.release();
    const err = this.f.br === undefined ? e : this.f.br.recordClosed(this.gen, e, this.slowT0);
    if (this.hook === undefined) this.reject(err);
    else {
      try {
        this.reject(this.hook.error(this.ctx, err));
      } catch (hookErr) {
        this.reject(hookErr);
      }
    }
  }
}

/** Fuses [bulkhead?, breaker?, retry?, timeout?] (in that order, each at most once, at least two). */
function fuse(policies: Policy[]): Pipeline | undefined {
  const order = [BulkheadPolicy, CircuitBreakerPolicy, RetryPolicy, TimeoutPolicy] as const;
  const slots: (Policy | undefined)[] = [undefined, undefined, undefined, undefined];
  let last = -1;
  for (const p of policies) {
    const i = order.findIndex((C) => p.constructor === C);
    if (i <= last) return undefined;
    slots[i] = p;
    last = i;
  }
  const clock = policies[0]!.clock;
  if (policies.some((p) => p.clock !== clock)) return undefined;
  return new FusedPipeline(
    policies,
    slots[0] as BulkheadPolicy | undefined,
    slots[1] as CircuitBreakerPolicy | undefined,
    slots[2] as RetryPolicy | undefined,
    slots[3] as TimeoutPolicy | undefined,
  );
}

registerFuser(fuse);
