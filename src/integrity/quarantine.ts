import { type Clock, realClock } from '../core/clock.js';
import { objectOption } from '../core/validate.js';
import { storeOption, wholeMs } from '../stores/options.js';
import type { IntegrityStore } from '../stores/types.js';

/**
 * Validates payloads before they reach business tables or the outbox; rejects are stored with their
 * reason and listable. `check` returns `undefined` when valid, or the reason.
 */
export class Quarantine {
  readonly stats = { accepted: 0, quarantined: 0 };
  private readonly store: IntegrityStore;
  private readonly clock: Clock;
  /** The clock in whole milliseconds, the stores' unit. */
  private readonly now: () => number;

  constructor(options: { store: IntegrityStore; clock?: Clock }) {
    const o = objectOption('quarantine', options, ['store', 'clock']);
    this.store = storeOption(o.store);
    this.clock = (o.clock as Clock | undefined) ?? realClock;
    this.now = wholeMs(this.clock);
  }

  /** Returns true when `payload` passes; otherwise stores it under `source` with the reason and returns false. */
  async admit(source: string, payload: unknown, check: (payload: unknown) => string | undefined): Promise<boolean> {
    const reason = check(payload);
    if (reason === undefined) {
      this.stats.accepted++;
      return true;
    }
    this.stats.quarantined++;
    let text: string;
    try {
      text = typeof payload === 'string' ? payload : (JSON.stringify(payload) ?? String(payload));
    } catch {
      text = String(payload);
    }
    await this.store.putQuarantine({ source, reason, payload: text, at: this.now() });
    return false;
  }

  /** The quarantined payloads in the order they were stored, only those of `source` when given, at most `limit` (default 100). */
  list(source?: string, limit?: number): ReturnType<IntegrityStore['quarantined']> {
    return this.store.quarantined(source, limit);
  }
}

/** Creates a quarantine store for rejected payloads (`new Quarantine(options)` does the same). */
export function createQuarantine(options: ConstructorParameters<typeof Quarantine>[0]): Quarantine {
  return new Quarantine(options);
}
