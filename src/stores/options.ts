/**
 * Store options: the one check that a value is a store (shared by the integrity guards and the wall), and
 * the store's time unit (whole milliseconds; a Clock may return fractions).
 */
import type { Clock } from '../core/clock.js';
import { configError } from '../core/validate.js';
import type { IntegrityStore } from './types.js';

/** Validates a `store` option: an IntegrityStore, or a CONFIG_INVALID error naming the field. */
export function storeOption(value: unknown, field = 'store'): IntegrityStore {
  const s = value as Partial<IntegrityStore> | null;
  if (s === null || typeof s !== 'object' || typeof s.claim !== 'function' || typeof s.commit !== 'function' || typeof s.lease !== 'function') {
    throw configError(field, 'an IntegrityStore (createSqliteStore(path), await connectRedisStore(url), await connectPostgresStore(url), createMemoryStore())', value);
  }
  return s as IntegrityStore;
}

/** A reader of the clock in whole milliseconds, the unit every store takes `now` in. */
export function wholeMs(clock: Clock): () => number {
  return () => Math.floor(clock.now());
}

// lease tokens have their own file; re-exported here for existing imports
export { leaseToken, tokenAttempts } from './lease-token.js';
