/**
 * A store is a dependency like any other: `watchStore(wall, store)` routes every store call through a
 * `core` dependency of the wall (timeout, circuit breaker, health state, metrics, timeline), so an
 * unreachable Redis or PostgreSQL shows as `unavailable` and fails fast, and recovers through the
 * breaker's half-open probes when the server returns (the clients reconnect by themselves).
 */
import type { Duration } from '../core/duration.js';
import type { IntegrityStore } from '../stores/types.js';
import type { Wall } from './wall.js';

/** Options of {@link watchStore}: the boundaries of the `core` dependency the store's calls go through. */
export interface WatchStoreOptions {
  /** Dependency name (default `store:<kind>`). */
  name?: string;
  /** Per call timeout (default 5s). */
  timeout?: Duration;
  /** Breaker: open after this failure rate over 10 s with at least 5 calls (default 0.5); probes after `halfOpenAfter` (default 2s). */
  failureRate?: number;
  /** How long the breaker stays open before one probe call tests the store again. Default 2s. */
  halfOpenAfter?: Duration;
}

/** Not routed through the dependency: lifecycle calls, and the write that runs inside the caller's own transaction. */
const PASS_THROUGH = new Set<PropertyKey>(['close', 'init', 'enqueueOutboxWith']);

/**
 * Returns `store` wrapped so that each of its calls goes through a `core` dependency of `wall` (5s timeout,
 * no retry, a breaker over 10s): an unreachable store shows in the wall's health as `unavailable` and fails
 * fast with `CIRCUIT_OPEN` instead of piling up calls. `close`, `init` and `enqueueOutboxWith` (which runs in
 * the caller's transaction) pass straight through. Use the returned object in place of the store.
 *
 * @throws `CONFIG_INVALID` when the dependency name is already declared on the wall or an option is invalid.
 * @example
 * ```ts
 * import { createWall, watchStore } from 'blastwall';
 * import { connectRedisStore } from 'blastwall/stores/redis';
 *
 * const wall = createWall({ service: 'checkout' });
 * const store = watchStore(wall, await connectRedisStore(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'), { timeout: '2s' });
 * ```
 */
export function watchStore<S extends IntegrityStore>(wall: Wall, store: S, options: WatchStoreOptions = {}): S {
  const dep = wall.dependency(options.name ?? `store:${store.kind}`, {
    criticality: 'core',
    timeout: options.timeout ?? '5s',
    retry: false,
    breaker: { failureRate: options.failureRate ?? 0.5, window: '10s', minimumCalls: 5, halfOpenAfter: options.halfOpenAfter ?? '2s', probes: 1 },
  });
  // one wrapper per method, made on first use
  const wrappers = new Map<PropertyKey, (...args: unknown[]) => unknown>();
  return new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      let w = wrappers.get(prop);
      if (w === undefined) {
        // the method is looked up at call time, so a store patched later (tests, instrumentation) is honoured
        const call = (args: unknown[]): Promise<unknown> => (Reflect.get(target, prop) as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        w = PASS_THROUGH.has(prop) ? (...args: unknown[]) => call(args) : (...args: unknown[]) => dep.call(() => call(args));
        wrappers.set(prop, w);
      }
      return w;
    },
  });
}
