/**
 * What the integrity guards and the wall share about stores: the one check that a value is a store, and
 * the store's time unit (whole milliseconds; a Clock may return fractions).
 */
import type { Clock } from '../core/clock.js';
import { configError } from '../core/validate.js';
import type { IntegrityStore } from './types.js';

/** Validates a `store` option: an IntegrityStore, or a CONFIG_INVALID error naming the field. */
export function storeOption(value: unknown, field = 'store'): IntegrityStore {
  const s = value as Partial<IntegrityStore> | null;
  if (s === null || typeof s !== 'object' || typeof s.claim !== 'function' || typeof s.commit !== 'function' || typeof s.lease !== 'function') {
    throw configError(field, 'an IntegrityStore (sqliteStore(path), redisStore(url), postgresStore(url), memoryStore())', value);
  }
  return s as IntegrityStore;
}

/** A reader of the clock in whole milliseconds, the unit every store takes `now` in. */
export function wholeMs(clock: Clock): () => number {
  return () => Math.floor(clock.now());
}

/** A queue message's lease token: its id and delivery count, so a redelivery invalidates older leases. */
export function leaseToken(id: string, attempts: number): string {
  return `${id}#${attempts}`;
}

/** The delivery count a lease token names for message `id` (-1 when it names another message or none). */
export function tokenAttempts(id: string, token: string): number {
  const hash = token.lastIndexOf('#');
  if (hash === -1 || token.slice(0, hash) !== id) return -1;
  const n = Number(token.slice(hash + 1));
  return Number.isInteger(n) && n > 0 ? n : -1;
}
