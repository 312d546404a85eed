import type { SharedCacheStore } from './index.js';

/** The part of an ioredis client the shared cache uses. */
export interface RedisLike {
  /** Redis `GET`: the string at `key`, or `null` when there is none. */
  get(key: string): Promise<string | null>;
  /** Redis `SET key value PX ms`: stores `value` at `key`, expiring after `ms` milliseconds (an integer ≥ 1). */
  set(key: string, value: string, px: 'PX', ms: number): Promise<unknown>;
}

/**
 * A shared second-level cache on Redis for `cache({ shared })`: values stored as JSON with their
 * storage time and expired by Redis after `stale`. A malformed entry is treated as a miss, never served.
 */
export function redisCacheStore(client: RedisLike, prefix = 'blastwall:cache:'): SharedCacheStore {
  return {
    async get(key) {
      const raw = await client.get(prefix + key);
      if (raw === null) return undefined;
      try {
        const parsed = JSON.parse(raw) as { v?: unknown; t?: unknown };
        if (typeof parsed !== 'object' || parsed === null || typeof parsed.t !== 'number' || !('v' in parsed)) return undefined;
        return { value: parsed.v, storedAt: parsed.t };
      } catch {
        return undefined;
      }
    },
    async set(key, value, storedAt, ttlMs) {
      await client.set(prefix + key, JSON.stringify({ v: value, t: storedAt }), 'PX', Math.max(1, Math.ceil(ttlMs)));
    },
  };
}
