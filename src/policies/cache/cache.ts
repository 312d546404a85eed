import { type Clock, coarseClock, realClock } from '../../core/clock.js';
import { durationOption, type Duration } from '../../core/duration.js';
import { LinkedQueue } from '../../core/linked-queue.js';
import { optionNames } from '../../core/option-names.js';
import { guarded } from '../../core/callback.js';
import { boolOption, clockOption, configError, fnOption, intOption, objectOption, ratioOption } from '../../core/validate.js';
import { runInBackground } from '../concurrency/priority-lanes.js';

/** Where a {@link CacheResult}'s value came from: `live` (just loaded by this call) or `cache` (from memory, or a shared store). */
export type CacheSource = 'live' | 'cache';

/**
 * What {@link FreshnessCache.get} resolves with: the value and how old it is, so a caller can say "prices as
 * of 2 minutes ago" instead of pretending a stale value is live.
 */
export interface CacheResult<T> {
  /** The value: loaded now, or a cached one (possibly stale; see `stale`). */
  value: T;
  /** `cache` when served from memory (fresh, or stale while a refresh runs). */
  source: CacheSource;
  /** Age of the value in ms (0 for a live value). */
  ageMs: number;
  /** True when the value is past `fresh` (served stale-while-revalidate or stale-if-error). */
  stale: boolean;
  /** Set when a stale value stands in for a failed load (stale-if-error). */
  error?: unknown;
}

/** A shared second level (e.g. Redis) behind the in-process LRU. Values must be JSON-serialisable. */
export interface SharedCacheStore {
  /**
   * The stored value for `key` and when it was stored (ms since the Unix epoch), or `undefined` on a miss.
   * A throw, a rejection or a malformed answer counts as a miss; the cache then calls the load function.
   */
  get(key: string): Promise<{ value: unknown; storedAt: number } | undefined>;
  /**
   * Stores `value` for `key`, loaded at `storedAt` (ms since the Unix epoch); the store may drop it after
   * `ttlMs` (the cache's `stale`). Called without waiting on each load; a failure is ignored.
   */
  set(key: string, value: unknown, storedAt: number, ttlMs: number): Promise<void>;
}

/**
 * Options of {@link cache}. Only `stale` is required; an unknown option or a value out of range throws
 * `CONFIG_INVALID` when the cache is built.
 */
export interface CacheOptions {
  /** Served without calling while younger than this. Default 0 (always refresh, keep for stale use). */
  fresh?: Duration;
  /**
   * Served while younger than this (at least `fresh`): at once with a background refresh
   * (stale-while-revalidate), or when the call fails (stale-if-error). An entry older than this is dropped.
   */
  stale: Duration;
  /** Within `stale`, serve at once and refresh in the background (stale-while-revalidate). Default true; when false, a stale value is used only if the call fails. */
  revalidate?: boolean;
  /** Spread of expiry, as a share of `fresh` and `stale` (0..1), so keys loaded together do not expire together. Default 0.1. */
  jitter?: number;
  /** Most entries kept (an integer ≥ 1); the least recently used entry is evicted first. Default 1000. */
  maxEntries?: number;
  /** Most bytes kept (LRU by the `sizeOf` estimate); a single value larger than this is never kept. Default: unbounded by bytes. */
  maxBytes?: number;
  /**
   * Estimated size of a value in bytes, counted against `maxBytes`. Default, when `maxBytes` is set: twice the
   * length of its JSON text (a string: twice its length), 1024 when it cannot be serialised. If it throws, the
   * value is not stored and the load fails with `CALLBACK_FAILED` (a stale value may still be served).
   */
  sizeOf?: (value: unknown) => number;
  /**
   * A shared second level (e.g. {@link redisCacheStore}) consulted on a local miss, where a value younger
   * than `fresh` is used instead of loading, and written on each load (kept for `stale`). With `fresh` 0 it
   * is only written. Its failures count as misses and never fail a call.
   */
  shared?: SharedCacheStore;
  /** The clock ages are measured on. Default the real clock; tests pass a `FakeClock`. */
  clock?: Clock;
  /**
   * Source of randomness for the expiry jitter, returning a number in [0, 1). Default `Math.random`; tests
   * pass a seeded one. If it throws, the value is not stored and the load fails with `CALLBACK_FAILED`.
   */
  random?: () => number;
}

interface Entry {
  /** The error of the last background refresh, while it has not succeeded since (a new value replaces the entry). */
  refreshError?: unknown;
  key: string;
  value: unknown;
  storedAt: number;
  freshUntil: number;
  staleUntil: number;
  bytes: number;
  prev: Entry | undefined;
  next: Entry | undefined;
}

/** A cache's counters since it was built, from {@link FreshnessCache.stats}. */
export interface CacheStats {
  /** Entries in memory now. */
  entries: number;
  /** Estimated bytes in memory now (by `sizeOf`); 0 when neither `maxBytes` nor `sizeOf` is set. */
  bytes: number;
  /** Calls answered from a fresh entry, without loading. */
  hits: number;
  /** Calls answered at once from a stale entry while a background refresh runs (stale-while-revalidate). */
  staleHits: number;
  /** Calls that had to wait for a load: no fresh entry, and no stale one served at once. */
  misses: number;
  /** Loads started, background refreshes included (a load joined by another call counts once). */
  loads: number;
  /** Calls that joined a load already running for the same key instead of starting another (single-flight). */
  coalesced: number;
  /** Entries evicted to stay within `maxEntries` or `maxBytes`. */
  evictions: number;
  /** Background refreshes that failed (the stale value kept being served). */
  refreshFailures: number;
}

function defaultSize(v: unknown): number {
  if (typeof v === 'string') return v.length * 2;
  try {
    return (JSON.stringify(v)?.length ?? 8) * 2;
  } catch {
    return 1024;
  }
}

/** Every option of `cache()`, as its runtime check accepts them (the wall's `cache` section reuses the list). */
export const CACHE_OPTION_NAMES = optionNames<CacheOptions>()('fresh', 'stale', 'revalidate', 'jitter', 'maxEntries', 'maxBytes', 'sizeOf', 'shared', 'clock', 'random');

/**
 * An in-process cache with freshness: fresh hits skip the call; stale values are served at once while
 * one background refresh runs (stale-while-revalidate) and when the call fails (stale-if-error);
 * concurrent misses for a key share one call (single-flight); expiry is jittered; memory is bounded by
 * entries and bytes with LRU eviction. Build one with {@link cache}.
 */
export class FreshnessCache {
  readonly freshMs: number;
  readonly staleMs: number;
  private readonly jitter: number;
  private readonly revalidate: boolean;
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private readonly sizeOf: ((v: unknown) => number) | undefined;
  private readonly shared: SharedCacheStore | undefined;
  private readonly clock: Clock;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly map = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<unknown>>();
  /** Recency order: the head is the most recently used entry, the tail the next to evict. */
  private readonly lru = new LinkedQueue<Entry>();
  private bytes = 0;
  private readonly s: CacheStats = { entries: 0, bytes: 0, hits: 0, staleHits: 0, misses: 0, loads: 0, coalesced: 0, evictions: 0, refreshFailures: 0 };

  constructor(options: CacheOptions) {
    const o = objectOption('cache', options, CACHE_OPTION_NAMES);
    this.freshMs = o.fresh === undefined ? 0 : durationOption('cache.fresh', o.fresh, 0);
    this.staleMs = durationOption('cache.stale', o.stale, 0);
    if (this.staleMs < this.freshMs) throw configError('cache.stale', `a duration ≥ cache.fresh (${this.freshMs}ms)`, o.stale);
    this.jitter = o.jitter === undefined ? 0.1 : ratioOption('cache.jitter', o.jitter, true);
    this.revalidate = o.revalidate === undefined ? true : boolOption('cache.revalidate', o.revalidate);
    this.maxEntries = o.maxEntries === undefined ? 1000 : intOption('cache.maxEntries', o.maxEntries, 1);
    this.maxBytes = o.maxBytes === undefined ? Number.POSITIVE_INFINITY : intOption('cache.maxBytes', o.maxBytes, 1);
    this.sizeOf =
      o.sizeOf === undefined ? (o.maxBytes === undefined ? undefined : defaultSize) : guarded('cache.sizeOf', fnOption<(v: unknown) => number>('cache.sizeOf', o.sizeOf));
    if (o.shared !== undefined) {
      const sh = o.shared as SharedCacheStore;
      if (typeof sh?.get !== 'function' || typeof sh.set !== 'function') throw configError('cache.shared', 'an object with get(key) and set(key, value, storedAt, ttlMs)', o.shared);
      this.shared = sh;
    }
    this.clock = clockOption('cache.clock', o.clock) ?? realClock;
    this.now = coarseClock(this.clock);
    this.random = o.random === undefined ? Math.random : guarded('cache.random', fnOption<() => number>('cache.random', o.random));
  }

  /**
   * The value for `key`: from memory while fresh; stale with a background refresh; otherwise loaded
   * (one load per key at a time). When the load fails and a value within `stale` exists, that value is
   * returned with the load's `error` (stale-if-error, unless `staleIfError: false`); otherwise it throws.
   */
  async get<T>(key: string, load: () => Promise<T>, options: { staleIfError?: boolean } = {}): Promise<CacheResult<T>> {
    const now = this.now();
    const e = this.map.get(key);
    if (e !== undefined) {
      if (now < e.freshUntil) {
        this.touch(e);
        this.s.hits++;
        return { value: e.value as T, source: 'cache', ageMs: now - e.storedAt, stale: false };
      }
      if (this.revalidate && now < e.staleUntil) {
        this.touch(e);
        this.s.staleHits++;
        // stale-while-revalidate: answer now, refresh once in the background
        if (!this.inflight.has(key)) {
          // a refresh is background work: its call waits in the lowest class (see runInBackground)
          runInBackground(() => this.load(key, load)).catch((err: unknown) => {
            this.s.refreshFailures++;
            // the value stays stale because the source is failing, not only because it aged: say so
            e.refreshError = err;
          });
        }
        return e.refreshError === undefined
          ? { value: e.value as T, source: 'cache', ageMs: now - e.storedAt, stale: true }
          : { value: e.value as T, source: 'cache', ageMs: now - e.storedAt, stale: true, error: e.refreshError };
      }
      if (now >= e.staleUntil) this.remove(e);
    }
    this.s.misses++;
    try {
      const value = (await this.load(key, load)) as T;
      return { value, source: 'live', ageMs: 0, stale: false };
    } catch (err) {
      const stale = options.staleIfError === false ? undefined : this.peek<T>(key);
      if (stale !== undefined) return { ...stale, stale: true, error: err };
      throw err;
    }
  }

  /** A value still within `stale` (for stale-if-error after the caller's own failure), without loading. */
  peek<T>(key: string): CacheResult<T> | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    const now = this.now();
    if (now >= e.staleUntil) return undefined;
    return { value: e.value as T, source: 'cache', ageMs: now - e.storedAt, stale: now >= e.freshUntil };
  }

  /** Stores a value just obtained live. */
  set(key: string, value: unknown): void {
    this.store(key, value, this.now());
  }

  /**
   * Drops the entry for `key` (e.g. after a write made it wrong), so the next `get` loads. Returns whether
   * there was one. A load already running for the key is not cancelled, and stores its value when it ends.
   * The shared store, if any, is not touched.
   */
  delete(key: string): boolean {
    const e = this.map.get(key);
    if (e === undefined) return false;
    this.remove(e);
    return true;
  }

  /** The cache's counters since it was built, plus its size now; a fresh object each call. */
  stats(): CacheStats {
    return { ...this.s, entries: this.map.size, bytes: this.bytes };
  }

  /** Expiry times of an entry (for tests of the jitter spread). */
  expiryOf(key: string): { freshUntil: number; staleUntil: number } | undefined {
    const e = this.map.get(key);
    return e === undefined ? undefined : { freshUntil: e.freshUntil, staleUntil: e.staleUntil };
  }

  private load(key: string, load: () => Promise<unknown>): Promise<unknown> {
    const running = this.inflight.get(key);
    if (running !== undefined) {
      this.s.coalesced++;
      return running;
    }
    this.s.loads++;
    const p = (async () => {
      if (this.shared !== undefined && !this.map.has(key)) {
        const hit = await sharedGet(this.shared, key);
        if (hit !== undefined && this.now() - hit.storedAt < this.freshMs) {
          this.store(key, hit.value, hit.storedAt, false);
          return hit.value;
        }
      }
      const value = await load();
      this.store(key, value, this.now());
      return value;
    })();
    this.inflight.set(key, p);
    const clear = () => {
      if (this.inflight.get(key) === p) this.inflight.delete(key);
    };
    p.then(clear, clear);
    return p;
  }

  private store(key: string, value: unknown, storedAt: number, share = true): void {
    const spread = (ms: number) => ms * (1 - this.jitter * this.random());
    const bytes = this.sizeOf === undefined ? 0 : this.sizeOf(value);
    const old = this.map.get(key);
    if (old !== undefined) this.remove(old);
    if (bytes > this.maxBytes) return; // larger than the whole cache: never kept
    const e: Entry = {
      key,
      value,
      storedAt,
      freshUntil: storedAt + spread(this.freshMs),
      staleUntil: storedAt + spread(this.staleMs),
      bytes,
      prev: undefined,
      next: undefined,
    };
    this.lru.unshift(e);
    this.map.set(key, e);
    this.bytes += bytes;
    while ((this.map.size > this.maxEntries || this.bytes > this.maxBytes) && this.lru.tail !== undefined) {
      this.remove(this.lru.tail);
      this.s.evictions++;
    }
    if (share && this.shared !== undefined) sharedSet(this.shared, key, value, storedAt, this.staleMs);
  }

  private touch(e: Entry): void {
    this.lru.moveToFront(e);
  }

  private remove(e: Entry): void {
    this.lru.remove(e);
    this.map.delete(e.key);
    this.bytes -= e.bytes;
  }
}

/**
 * The shared store is a dependency of the cache, not part of the call: a get that throws, rejects or
 * answers something malformed is a miss; a failing set is ignored.
 */
async function sharedGet(store: SharedCacheStore, key: string): Promise<{ value: unknown; storedAt: number } | undefined> {
  try {
    const hit = (await store.get(key)) as unknown;
    if (hit === undefined || hit === null || typeof hit !== 'object') return undefined;
    const { storedAt } = hit as { storedAt?: unknown };
    return typeof storedAt === 'number' && Number.isFinite(storedAt) && 'value' in hit ? (hit as { value: unknown; storedAt: number }) : undefined;
  } catch {
    return undefined;
  }
}

function sharedSet(store: SharedCacheStore, key: string, value: unknown, storedAt: number, ttlMs: number): void {
  try {
    const p = store.set(key, value, storedAt, ttlMs) as unknown;
    if (p instanceof Promise) p.catch(() => undefined);
  } catch {
    // ignored: see sharedGet
  }
}

/**
 * An in-process cache with freshness: a value is served without calling while younger than `fresh`, served
 * at once with one background refresh while younger than `stale` (stale-while-revalidate), and served in
 * place of a failed load (stale-if-error, with the load's `error` attached). Concurrent loads of a key share
 * one call, expiry is jittered by 10% so keys loaded together do not expire together, and memory is bounded
 * (1000 entries by default, LRU). Read values with {@link FreshnessCache.get}.
 *
 * @throws `CONFIG_INVALID` when an option is invalid (e.g. `stale` shorter than `fresh`).
 * @example
 * ```ts
 * import { cache } from 'blastwall';
 *
 * const prices = cache({ fresh: '10s', stale: '10m', maxEntries: 10_000 });
 * const r = await prices.get(`price:${sku}`, () => pricing.quote(sku));
 * if (r.stale) console.warn(`serving a price ${Math.round(r.ageMs / 1000)}s old`, r.error);
 * ```
 */
export function cache(options: CacheOptions): FreshnessCache {
  return new FreshnessCache(options);
}
