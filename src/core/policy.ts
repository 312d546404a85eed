import { BlastwallError } from './errors.js';
import { type AttemptFn, CallContext } from './context.js';
import type { Clock } from './clock.js';
import { realClock } from './clock.js';

/** The next link of a pipeline, as seen by a policy. Always returns a promise. */
export type Next = (ctx: CallContext) => Promise<unknown>;

/**
 * A resilience policy. `execute` is the public entry; `run` is how policies are linked into a pipeline
 * once, at build time, sharing one CallContext per call.
 */
export interface Policy {
  /**
   * Runs `fn` through this policy (or pipeline of policies) and resolves with its result. Rejects with
   * the function's own error, or with the `BlastwallError` a policy decided (code `TIMEOUT`,
   * `CIRCUIT_OPEN`, `BULKHEAD_FULL`, `THROTTLED`, `RETRY_BUDGET_EXHAUSTED` …). When the caller's `signal`
   * aborts, the call rejects at once with `ABORTED` (or with the signal's reason when that is a
   * `BlastwallError`) and the running attempt's `ctx.signal` is aborted.
   */
  execute<T>(fn: AttemptFn<T>, signal?: AbortSignal): Promise<T>;
  /** @internal Runs this policy around `next` for an existing call context. */
  run(ctx: CallContext, next: Next): Promise<unknown>;
  readonly clock: Clock;
}

/** @internal Calls the user's function, turning sync results and throws into promises (no result classification). */
export const callUserFn: Next = (ctx) => {
  if (ctx.attempt === 0) ctx.attempt = 1;
  try {
    const r = ctx.fn(ctx);
    return r instanceof Promise ? r : Promise.resolve(r);
  } catch (err) {
    return Promise.reject(err);
  }
};

/**
 * The innermost link: calls the user's function; when the call has a result classifier
 * (`ctx.resultFailure`, set by a wall dependency), a result it calls a failure rejects with its error, so
 * retry, breaker and health see it as the failure it is.
 */
export const invokeUserFn: Next = (ctx) => {
  const p = callUserFn(ctx);
  const check = ctx.resultFailure;
  if (check === undefined) return p;
  return p.then((v) => {
    const failure = check(v);
    if (failure !== undefined) throw failure;
    return v;
  });
};

/** @internal Links `policy` around `next`: a policy that throws synchronously still yields a rejected promise. */
export function linkPolicy(policy: Policy, next: Next): Next {
  return (ctx) => {
    try {
      return policy.run(ctx, next);
    } catch (err) {
      return Promise.reject(err);
    }
  };
}

/** Starts a call through `link`: one context, optional caller signal honoured without a listener otherwise. */
export function startCall<T>(
  clock: Clock,
  link: Next,
  fn: AttemptFn<T>,
  signal: AbortSignal | undefined,
  setup?: (ctx: CallContext) => void,
): Promise<T> {
  const ctx = new CallContext(clock, fn as AttemptFn<unknown>, signal);
  try {
    if (setup !== undefined) setup(ctx);
    if (signal === undefined) return link(ctx) as Promise<T>;
  } catch (err) {
    return Promise.reject(err);
  }
  return withCallerSignal(ctx, link, signal) as Promise<T>;
}

/** Runs `link` for `ctx`, rejecting with `ABORTED` as soon as the caller's signal aborts. */
export function withCallerSignal(ctx: CallContext, link: Next, signal: AbortSignal): Promise<unknown> {
  if (signal.aborted) return Promise.reject(abortedError(signal.reason, ctx.dependency));
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      const err = abortedError(signal.reason, ctx.dependency);
      ctx.abort(err);
      reject(err);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    let linked: Promise<unknown>;
    try {
      linked = link(ctx);
    } catch (err) {
      linked = Promise.reject(err);
    }
    linked.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        ctx.dispose();
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        ctx.dispose();
        reject(e);
      },
    );
  });
}

export function abortedError(reason: unknown, dependency?: string): BlastwallError {
  if (reason instanceof BlastwallError) return reason;
  return new BlastwallError('ABORTED', 'The caller aborted the call', { cause: reason, dependency });
}

/** Base class: gives every policy `execute` on top of its `run`. */
export abstract class PolicyBase implements Policy {
  readonly clock: Clock;
  private readonly self: Next;

  constructor(clock: Clock | undefined) {
    this.clock = clock ?? realClock;
    this.self = linkPolicy(this, invokeUserFn);
  }

  execute<T>(fn: AttemptFn<T>, signal?: AbortSignal): Promise<T> {
    return startCall(this.clock, this.self, fn, signal);
  }

  abstract run(ctx: CallContext, next: Next): Promise<unknown>;
}

/** A linked pipeline of policies, outer to inner. */
export class Pipeline implements Policy {
  readonly clock: Clock;
  private readonly link: Next;

  constructor(readonly policies: readonly Policy[]) {
    const first = policies[0];
    this.clock = first === undefined ? realClock : first.clock;
    let link: Next = invokeUserFn;
    for (let i = policies.length - 1; i >= 0; i--) link = linkPolicy(policies[i]!, link);
    this.link = link;
  }

  execute<T>(fn: AttemptFn<T>, signal?: AbortSignal): Promise<T> {
    return startCall(this.clock, this.link, fn, signal);
  }

  private lastNext: Next | undefined;
  private lastLink: Next | undefined;

  /** Runs this pipeline around another `next` (when nested in another pipeline); linked once per `next`. */
  run(ctx: CallContext, next: Next): Promise<unknown> {
    if (next === invokeUserFn) return this.link(ctx);
    if (next !== this.lastNext) {
      let link: Next = next;
      for (let i = this.policies.length - 1; i >= 0; i--) link = linkPolicy(this.policies[i]!, link);
      this.lastNext = next;
      this.lastLink = link;
    }
    return this.lastLink!(ctx);
  }
}

/**
 * Links policies once, outer to inner: `pipeline(bulkhead, breaker, retry, timeout)`. A single policy
 * is returned as it is (the fast path); no policy gives a pipeline that just calls the function.
 */
export function pipeline(...policies: Policy[]): Policy {
  for (let i = 0; i < policies.length; i++) {
    const p = policies[i];
    if (p === null || typeof p !== 'object' || typeof (p as Policy).run !== 'function') {
      throw new BlastwallError('CONFIG_INVALID', `Expected \`pipeline\` argument ${i + 1} to be a policy, got ${typeof p}`);
    }
  }
  if (policies.length === 1) return policies[0]!;
  const flat: Policy[] = [];
  for (const p of policies) if (p instanceof Pipeline) flat.push(...p.policies);
  else flat.push(p);
  return fuser?.(flat) ?? new Pipeline(flat);
}

let fuser: ((policies: Policy[]) => Pipeline | undefined) | undefined;

/** @internal Lets the policies module offer a fused pipeline for the standard stack. */
export function registerFuser(f: (policies: Policy[]) => Pipeline | undefined): void {
  fuser = f;
}
