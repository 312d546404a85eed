/**
 * One error class for everything blastwall decides. `code` is stable and meant for programs;
 * `message` is for people.
 */
export type ErrorCode =
  | 'TIMEOUT'
  | 'CIRCUIT_OPEN'
  | 'BULKHEAD_FULL'
  | 'QUEUE_TIMEOUT'
  | 'SHED'
  | 'THROTTLED'
  | 'RETRY_BUDGET_EXHAUSTED'
  | 'DEADLINE_EXCEEDED'
  | 'INVALID_RESPONSE'
  | 'PAYLOAD_TOO_LARGE'
  | 'READ_ONLY'
  | 'CONFIG_INVALID'
  | 'ABORTED'
  | 'QUEUE_FULL'
  | 'DEPENDENCY_FAILED'
  | 'CLOSED'
  | 'STORE_UNAVAILABLE'
  | 'CONFLICT'
  /** A user-supplied callback (isFailure, retryOn, a fallback, measure, ...) threw; its error is the `cause`. */
  | 'CALLBACK_FAILED';

export interface BlastwallErrorOptions {
  dependency?: string | undefined;
  cause?: unknown;
  /** The dependency (or an upstream service) asked us to wait this long before trying again. */
  retryAfterMs?: number | undefined;
  /** `false` when retrying would only add load (shed, budget exhausted, breaker open). */
  retryable?: boolean | undefined;
  details?: Record<string, unknown> | undefined;
}

const NOT_RETRYABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'CIRCUIT_OPEN',
  'SHED',
  'THROTTLED',
  'RETRY_BUDGET_EXHAUSTED',
  'DEADLINE_EXCEEDED',
  'CONFIG_INVALID',
  'ABORTED',
  'READ_ONLY',
  'PAYLOAD_TOO_LARGE',
  'CLOSED',
  'BULKHEAD_FULL',
  'QUEUE_TIMEOUT',
  'QUEUE_FULL',
  'CALLBACK_FAILED',
]);

export class BlastwallError extends Error {
  override readonly name = 'BlastwallError';
  readonly code: ErrorCode;
  readonly dependency: string | undefined;
  readonly retryAfterMs: number | undefined;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: BlastwallErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.dependency = options.dependency;
    this.retryAfterMs = options.retryAfterMs;
    this.retryable = options.retryable ?? !NOT_RETRYABLE.has(code);
    this.details = options.details;
  }

  /** A copy naming the dependency, for errors raised by standalone policies inside a wall. */
  withDependency(dependency: string): BlastwallError {
    if (this.dependency === dependency) return this;
    const e = new BlastwallError(this.code, this.message, {
      dependency,
      cause: this.cause,
      retryAfterMs: this.retryAfterMs,
      retryable: this.retryable,
      details: this.details,
    });
    e.stack = this.stack ?? '';
    return e;
  }

  /**
   * The fields for logs and JSON bodies: `name`, `code`, `message`, `dependency`, `retryAfterMs`,
   * `retryable`. `details`, `cause` and the stack are left out (they may hold internal data); read them
   * from the error itself.
   */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      dependency: this.dependency,
      retryAfterMs: this.retryAfterMs,
      retryable: this.retryable,
    };
  }
}

export function isBlastwallError(e: unknown, code?: ErrorCode): e is BlastwallError {
  return e instanceof BlastwallError && (code === undefined || e.code === code);
}

/** Reads a retry-after hint (milliseconds) from any error: ours, or one with `retryAfterMs` / `retryAfter` (seconds). */
export function retryAfterOf(e: unknown): number | undefined {
  if (e === null || typeof e !== 'object') return undefined;
  const r = e as { retryAfterMs?: unknown; retryAfter?: unknown };
  if (typeof r.retryAfterMs === 'number' && Number.isFinite(r.retryAfterMs) && r.retryAfterMs >= 0) return r.retryAfterMs;
  if (typeof r.retryAfter === 'number' && Number.isFinite(r.retryAfter) && r.retryAfter >= 0) return r.retryAfter * 1000;
  return undefined;
}

/** True when an error carries an explicit "do not retry" signal (ours, or `retryable: false` on any error). */
export function isNonRetryable(e: unknown): boolean {
  if (e instanceof BlastwallError) return !e.retryable;
  return e !== null && typeof e === 'object' && (e as { retryable?: unknown }).retryable === false;
}
