import { type Clock, realClock } from '../core/clock.js';
import { configError, fnOption, objectOption } from '../core/validate.js';
import { storeOption, wholeMs } from '../stores/options.js';
import type { IntegrityStore, VersionedWrite } from '../stores/types.js';

/**
 * Ordering guard: `apply(entity, version, write)` stores `write`'s value only if `version` is newer than
 * the stored one (compare-and-set on the store). Stale writes are counted and reported, never applied.
 */
export class OrderingGuard {
  readonly stats = { applied: 0, stale: 0 };
  private readonly store: IntegrityStore;
  private readonly clock: Clock;
  /** The clock in whole milliseconds, the stores' unit. */
  private readonly now: () => number;
  private readonly onStale: ((w: VersionedWrite) => void) | undefined;

  constructor(options: { store: IntegrityStore; clock?: Clock; onStale?: (w: VersionedWrite) => void }) {
    const o = objectOption('guard', options, ['store', 'clock', 'onStale']);
    this.store = storeOption(o.store);
    this.clock = (o.clock as Clock | undefined) ?? realClock;
    this.now = wholeMs(this.clock);
    this.onStale = o.onStale === undefined ? undefined : fnOption('onStale', o.onStale);
  }

  /**
   * `write` is the new value or a function computing it; it is not called when the stored version is
   * already newer. Returns whether it was applied and the version now stored.
   */
  async apply<V>(entity: string, version: number, write: V | (() => V | Promise<V>)): Promise<{ applied: boolean; version: number }> {
    if (typeof entity !== 'string' || entity.length === 0) throw configError('entity', 'a non-empty string', entity);
    if (typeof version !== 'number' || !Number.isFinite(version)) throw configError('version', 'a finite number', version);
    const cur = await this.store.version(entity);
    if (cur !== undefined && cur.version >= version) return this.stale({ entity, version, value: undefined }, cur.version);
    const value = typeof write === 'function' ? await (write as () => V | Promise<V>)() : write;
    const r = await this.store.commit({ now: this.now(), versions: [{ entity, version, value }] });
    if (r.ok && r.stale.length === 0) {
      this.stats.applied++;
      return { applied: true, version };
    }
    return this.stale({ entity, version, value }, (await this.store.version(entity))?.version ?? version);
  }

  /** The version and value stored for `entity` (the last applied write), or undefined when none was applied yet. */
  current(entity: string): Promise<{ version: number; value: unknown } | undefined> {
    return this.store.version(entity);
  }

  private stale(w: VersionedWrite, stored: number): { applied: boolean; version: number } {
    this.stats.stale++;
    this.onStale?.(w);
    return { applied: false, version: stored };
  }
}

/** Creates an ordering guard (`new OrderingGuard(options)` does the same). */
export function createOrderingGuard(options: ConstructorParameters<typeof OrderingGuard>[0]): OrderingGuard {
  return new OrderingGuard(options);
}
