import { type Clock, type TimerHandle, realClock } from '../core/clock.js';
import { guarded } from '../core/callback.js';
import { BlastwallError } from '../core/errors.js';
import { failingResponse, parseRetryAfter, resultFailureError } from '../core/result.js';
import { boolOption, clockOption, configError, fnOption, objectOption } from '../core/validate.js';
import { currentOperation } from '../wall/context.js';
import { DEADLINE_HEADER, OVERLOADED_HEADER, PRIORITY_HEADER, isOverloadedAnswer } from './headers.js';

/** Options of {@link createFetch}. */
export interface FetchOptions {
  /** The fetch to call. Default `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** The wall's clock (deadlines in the operation context are on it). Default the real clock. */
  clock?: Clock;
  /** Send the operation's priority class in `Blastwall-Priority`. Default true. */
  propagatePriority?: boolean;
  /**
   * Which answers are failures: thrown as a retryable `DEPENDENCY_FAILED` (status in `details.status`,
   * `Retry-After` as `retryAfterMs`), so retry, breaker and health see them. Default: 5xx and 429 (the
   * same rule as a dependency's `failOnResult`); `false` returns every answer as it is.
   */
  failOnResult?: false | ((res: Response) => boolean);
  /** @deprecated Use `failOnResult`. `false` is `failOnResult: false`. */
  throwOn5xx?: boolean;
}

/** How much of the current operation's deadline remains (ms); undefined outside an operation or without one. */
export function remainingDeadline(clock: Clock = realClock): number | undefined {
  const op = currentOperation();
  if (op === undefined || !Number.isFinite(op.deadline)) return undefined;
  return op.deadline - clock.now();
}

/** The `fetch` signature {@link createFetch} returns (same arguments and result as the global `fetch`). */
export type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/**
 * A `fetch` that carries the remaining deadline of the current operation in `Blastwall-Deadline-Ms`
 * (and aborts when it runs out), does not send a request when no time is left, and turns an
 * "overloaded, don't retry" answer (`Blastwall-Overloaded: 1`) into a non-retryable `SHED` error, so
 * retries stop at this layer instead of multiplying up the call chain.
 */
export function createFetch(options: FetchOptions = {}): Fetch {
  const o = objectOption('fetch', options, ['fetch', 'clock', 'propagatePriority', 'failOnResult', 'throwOn5xx']);
  const doFetch = o.fetch === undefined ? undefined : fnOption<typeof fetch>('fetch.fetch', o.fetch);
  const clock = clockOption('fetch.clock', o.clock) ?? realClock;
  const sendPriority = o.propagatePriority === undefined ? true : boolOption('fetch.propagatePriority', o.propagatePriority);
  const throw5xx = o.throwOn5xx === undefined ? true : boolOption('fetch.throwOn5xx', o.throwOn5xx);
  if (o.failOnResult !== undefined && o.failOnResult !== false && typeof o.failOnResult !== 'function') {
    throw configError('fetch.failOnResult', 'false or a function (response) => boolean', o.failOnResult);
  }
  const fails: ((res: Response) => boolean) | undefined =
    o.failOnResult === false || !throw5xx
      ? undefined
      : typeof o.failOnResult === 'function'
        ? guarded('fetch.failOnResult', o.failOnResult as (res: Response) => boolean)
        : failingResponse;
  return async (input, init = {}) => {
    const headers = new Headers(init.headers);
    const op = currentOperation();
    let signal: AbortSignal | undefined = init.signal ?? undefined;
    let timer: TimerHandle | undefined;
    let deadlineError: BlastwallError | undefined;
    if (op !== undefined && Number.isFinite(op.deadline)) {
      const remaining = Math.floor(op.deadline - clock.now());
      if (remaining <= 0) throw new BlastwallError('DEADLINE_EXCEEDED', `No time left in operation '${op.operation}'; request not sent`);
      headers.set(DEADLINE_HEADER, String(remaining));
      const ac = new AbortController();
      timer = clock.setTimer(() => {
        deadlineError = new BlastwallError('DEADLINE_EXCEEDED', `Operation '${op.operation}' reached its deadline during the request`);
        ac.abort(deadlineError);
      }, remaining);
      signal = signal === undefined ? ac.signal : AbortSignal.any([signal, ac.signal]);
    }
    if (op !== undefined && sendPriority && !headers.has(PRIORITY_HEADER)) headers.set(PRIORITY_HEADER, op.priority);
    try {
      const res = await (doFetch ?? fetch)(input, { ...init, headers, ...(signal === undefined ? {} : { signal }) });
      if (isOverloadedAnswer(res.headers.get(OVERLOADED_HEADER))) {
        await res.body?.cancel();
        const ra = parseRetryAfter(res.headers.get('retry-after'), clock.now());
        throw new BlastwallError('SHED', `Upstream answered ${res.status} "overloaded, don't retry"`, {
          retryable: false,
          ...(ra === undefined ? {} : { retryAfterMs: ra }),
          details: { status: res.status },
        });
      }
      if (fails !== undefined && fails(res)) throw resultFailureError(res, clock.now());
      return res;
    } catch (err) {
      if (deadlineError !== undefined) throw deadlineError;
      throw err;
    } finally {
      if (timer !== undefined) clock.clearTimer(timer);
    }
  };
}

/** `createFetch()` with the defaults. */
export const blastwallFetch: Fetch = createFetch();
