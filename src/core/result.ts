import { BlastwallError } from './errors.js';

/**
 * Result failures: a call can "succeed" with a value that is really a failure — a fetch `Response` with
 * status 503. A wall dependency's `failOnResult` (and `createFetch`) turn such values into a retryable
 * `DEPENDENCY_FAILED`, so retry, breaker and health see them. The default classifier knows fetch
 * responses: 5xx and 429 fail; every other status (4xx included) is the dependency working as designed.
 */

/** The part of a fetch `Response` the classifier reads. */
export interface ResponseLike {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly body?: { cancel(reason?: unknown): Promise<void> } | null;
}

/** True for a fetch `Response` (the global class, or another realm's / undici's class of that name). */
export function isResponse(v: unknown): v is ResponseLike {
  if (typeof v !== 'object' || v === null) return false;
  if (typeof Response === 'function' && v instanceof Response) return true;
  const r = v as { constructor?: { name?: unknown }; status?: unknown; headers?: { get?: unknown } };
  return r.constructor?.name === 'Response' && typeof r.status === 'number' && typeof r.headers?.get === 'function';
}

/** The default `failOnResult`: a fetch `Response` with status 5xx or 429. */
export function failingResponse(v: unknown): boolean {
  if (!isResponse(v)) return false;
  return v.status >= 500 || v.status === 429;
}

/** Longest `Retry-After` honoured (ms); a larger one is treated as this (the deadline bounds it anyway). */
const MAX_RETRY_AFTER_MS = 2 ** 31 - 1;

/**
 * Parses a `Retry-After` header (RFC 9110: delay-seconds or an HTTP-date) into milliseconds from `nowMs`
 * (epoch ms). Malformed values give `undefined`; a date in the past gives 0.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const s = value.trim();
  if (/^\d{1,12}$/.test(s)) return Math.min(Number(s) * 1000, MAX_RETRY_AFTER_MS);
  if (!/^[A-Za-z]{3},? /.test(s)) return undefined;
  const at = Date.parse(s);
  if (!Number.isFinite(at)) return undefined;
  return Math.min(Math.max(0, at - nowMs), MAX_RETRY_AFTER_MS);
}

/**
 * The error a failing result stands for: `DEPENDENCY_FAILED`, retryable, with the response's status in
 * `details.status` and its `Retry-After` as `retryAfterMs` (a retry waits at least that long, within the
 * deadline). A failing response's body is cancelled: nobody will read it, and it holds a connection.
 */
export function resultFailureError(value: unknown, nowMs: number, dependency?: string): BlastwallError {
  if (isResponse(value)) {
    cancelBody(value);
    const retryAfterMs = parseRetryAfter(value.headers.get('retry-after'), nowMs);
    return new BlastwallError('DEPENDENCY_FAILED', `The dependency answered ${value.status}`, {
      dependency,
      retryable: true,
      retryAfterMs,
      details: { status: value.status, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) },
    });
  }
  return new BlastwallError('DEPENDENCY_FAILED', 'The result was classified as a failure (`failOnResult`)', {
    dependency,
    retryable: true,
    details: { result: typeof value },
  });
}

function cancelBody(res: ResponseLike): void {
  try {
    const p = res.body?.cancel() as unknown;
    if (p instanceof Promise) p.catch(() => undefined);
  } catch {
    // a body that cannot be cancelled is left to the garbage collector
  }
}
