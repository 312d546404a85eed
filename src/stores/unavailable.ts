/**
 * The one error a store answers with when it cannot serve a call: `STORE_UNAVAILABLE` (retryable), with
 * the driver's error as `cause`. The wall's `store:<kind>` watcher (watchStore) counts it as a failure
 * like any other, so health, breaker and timeline see an unreachable, locked or closed store.
 */
import { BlastwallError } from '../core/errors.js';
import type { StoreKind } from './types.js';

export function storeUnavailable(kind: StoreKind, err: unknown): BlastwallError {
  if (err instanceof BlastwallError) return err;
  const reason = err instanceof Error ? err.message : String(err);
  return new BlastwallError('STORE_UNAVAILABLE', `The ${kind} store is unavailable: ${reason}`, { cause: err, retryable: true, details: { store: kind } });
}

/** The answer of a store after `close()`. */
export function storeClosed(kind: StoreKind): BlastwallError {
  return new BlastwallError('STORE_UNAVAILABLE', `The ${kind} store is closed`, { retryable: false, details: { store: kind, closed: true } });
}

/** The calls of a networked store that the guard wraps (lifecycle and the caller's-transaction write are left as they are). */
export const GUARDED_METHODS = [
  'ping',
  'claim',
  'renew',
  'release',
  'register',
  'commit',
  'enqueue',
  'lease',
  'ack',
  'retryLater',
  'deadLetter',
  'queueStats',
  'deadLetters',
  'outboxPending',
  'markSent',
  'version',
  'effects',
  'putQuarantine',
  'quarantined',
  'sweep',
] as const;

interface Guarded {
  readonly kind: StoreKind;
  /** True after close(). */
  readonly isClosed: boolean;
  /** Waits until the store can serve calls (e.g. its schema is in place); rejects when the server is down. */
  whenReady(): Promise<void> | undefined;
  /** Whether an error means the server cannot be reached or cannot serve (not a bug, not the caller's). */
  isDown(err: unknown): boolean;
}

/**
 * Wraps the store methods of a networked store class once: a closed store answers STORE_UNAVAILABLE at
 * once, a store not ready yet finishes its set-up first, and errors that mean "the server is down"
 * become STORE_UNAVAILABLE with the driver's error as `cause`. Other errors pass unchanged.
 */
export function guardStoreMethods(cls: { prototype: Guarded }): void {
  const proto = cls.prototype as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const name of GUARDED_METHODS) {
    const method = proto[name];
    if (typeof method !== 'function') throw new TypeError(`${name} is not a method of the store`);
    proto[name] = async function guarded(this: Guarded, ...args: unknown[]): Promise<unknown> {
      if (this.isClosed) throw storeClosed(this.kind);
      try {
        const ready = this.whenReady();
        if (ready !== undefined) await ready;
        return await method.apply(this, args);
      } catch (err) {
        throw this.isDown(err) ? storeUnavailable(this.kind, err) : err;
      }
    };
  }
}

/**
 * Starts a networked store: a server that cannot be reached does not fail the start (the store answers
 * STORE_UNAVAILABLE and reconnects); any other failure closes the store and rejects.
 */
export async function startStore<S extends { init(): Promise<void>; isDown(err: unknown): boolean; close(): Promise<void> }>(s: S): Promise<S> {
  try {
    await s.init();
  } catch (err) {
    if (!s.isDown(err)) {
      await s.close();
      throw err;
    }
  }
  return s;
}
