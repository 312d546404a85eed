import { BlastwallError } from './errors.js';

/**
 * User callbacks (a breaker's `isFailure`, a retry's `retryOn`, a fallback, a cache's `sizeOf`, a
 * dependency's `measure`, ...) run inside the call path. One that throws must not hang the call, leak a
 * slot or leave a policy's state half-updated: the call settles with `CALLBACK_FAILED`, whose `cause` is
 * what the callback threw and whose `details.callback` names the option.
 */
export function callbackFailed(callback: string, cause: unknown, dependency?: string): BlastwallError {
  if (cause instanceof BlastwallError && cause.code === 'CALLBACK_FAILED') return cause;
  return new BlastwallError('CALLBACK_FAILED', `The \`${callback}\` callback threw (see \`cause\`)`, {
    cause,
    dependency,
    retryable: false,
    details: { callback },
  });
}

/** Wraps a user callback so that a throw becomes `CALLBACK_FAILED` naming `callback` (the option's path). */
export function guarded<A extends unknown[], R>(callback: string, fn: (...args: A) => R): (...args: A) => R {
  return (...args: A): R => {
    try {
      return fn(...args);
    } catch (err) {
      throw callbackFailed(callback, err);
    }
  };
}

/** Reports a contained callback failure where people look, without touching the call path. */
export function warnCallback(callback: string, err: unknown): void {
  process.emitWarning(`blastwall: the \`${callback}\` callback failed: ${err instanceof Error ? err.message : String(err)}`);
}
