import type { Clock } from './clock.js';

/** What the user's function receives on every attempt. */
export interface AttemptContext {
  /** Aborted when this attempt times out, the deadline passes or the caller aborts. Created on first read. */
  readonly signal: AbortSignal;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** Absolute deadline (ms since epoch, on the wall's clock), or `Infinity`. */
  readonly deadline: number;
  /** Milliseconds left before the deadline (`Infinity` when there is none). */
  remaining(): number;
  /** Name of the dependency when the call goes through a wall. */
  readonly dependency: string | undefined;
  /** Name of the operation this call runs in, if any. */
  readonly operation: string | undefined;
}

/**
 * The function a policy, pipeline or dependency runs for you: called once per attempt (again on each
 * retry) with that attempt's {@link AttemptContext}; returns the value or a promise of it. Throwing or
 * rejecting fails the attempt. Pass `ctx.signal` on to your I/O so a timeout or abort actually stops it.
 */
export type AttemptFn<T> = (ctx: AttemptContext) => T | PromiseLike<T>;

/**
 * One mutable context per call, shared by every policy of a pipeline (no spread per layer).
 * The AbortController is created only when the user's function reads `signal`.
 */
export class CallContext implements AttemptContext {
  attempt = 0;
  deadline = Number.POSITIVE_INFINITY;
  dependency: string | undefined = undefined;
  operation: string | undefined = undefined;
  /** Start time of the whole call (set by the first policy that needs it). */
  startedAt = 0;
  /** Retries performed (attempt - 1 once finished), read by telemetry. */
  retries = 0;
  /** Minimum time an attempt needs to be worth starting (set by the wall from its timeout). */
  minAttemptMs = 0;
  /** Set by a wall dependency: returns the error a result stands for (a 5xx `Response`), else undefined. */
  resultFailure: ((value: unknown) => unknown) | undefined = undefined;
  private controller: AbortController | undefined = undefined;
  private abortReason: unknown = undefined;
  private outerListener: (() => void) | undefined = undefined;

  constructor(
    readonly clock: Clock,
    readonly fn: AttemptFn<unknown>,
    readonly outerSignal: AbortSignal | undefined,
  ) {}

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      const c = new AbortController();
      this.controller = c;
      if (this.abortReason !== undefined) c.abort(this.abortReason);
      else if (this.outerSignal !== undefined) {
        if (this.outerSignal.aborted) c.abort(this.outerSignal.reason);
        else if (this.outerListener === undefined) {
          const outer = this.outerSignal;
          this.outerListener = () => this.controller?.abort(outer.reason);
          outer.addEventListener('abort', this.outerListener, { once: true });
        }
      }
    }
    return this.controller.signal;
  }

  remaining(): number {
    return this.deadline - this.clock.now();
  }

  /** Aborts the current attempt's signal (now, or when it is first read). */
  abort(reason: unknown): void {
    this.abortReason = reason;
    this.controller?.abort(reason);
  }

  /** Starts a new attempt: a fresh signal, created lazily. */
  nextAttempt(): void {
    this.attempt++;
    this.abortReason = undefined;
    this.controller = undefined;
  }

  /** Removes the listener on the caller's signal, if one was added. */
  dispose(): void {
    if (this.outerListener !== undefined) {
      this.outerSignal?.removeEventListener('abort', this.outerListener);
      this.outerListener = undefined;
    }
  }
}
