/**
 * `Work`: what a handler wants to make durable, collected while it runs and committed as one atomic
 * unit together with its fence (the idempotency claim or the leased message). Nothing is written until
 * the handler returns; a handler that throws or loses its lease leaves nothing behind.
 */
import { randomUUID } from 'node:crypto';
import type { Unit, VersionedWrite } from '../stores/types.js';

/**
 * What a handler wants to make durable, collected while it runs: effect rows, outbox messages,
 * versioned writes and (on SQLite and PostgreSQL) its own SQL. The guard that created it
 * ({@link Idempotency}, {@link DurableQueue}) commits all of it in one atomic unit with its fence after
 * the handler returns; nothing is written before, and nothing at all if the handler throws or its lease
 * was lost. You do not create one: the guard passes it to your handler.
 */
export class Work {
  /** Aborted when the lease is lost (renewal failed): stop early, nothing you record will commit. */
  readonly signal: AbortSignal;
  private readonly unit: Omit<Unit, 'now'> & { effects: NonNullable<Unit['effects']>; outbox: NonNullable<Unit['outbox']>; versions: VersionedWrite[] } = {
    effects: [],
    outbox: [],
    versions: [],
  };
  private sqlFns: ((handle: unknown) => unknown)[] = [];

  constructor(signal: AbortSignal) {
    this.signal = signal;
  }

  /** Records an effect row (`collection`, unique `id`): written once, with the unit. */
  effect(collection: string, id: string, data: unknown): this {
    this.unit.effects.push({ collection, id, data });
    return this;
  }

  /** Queues an outbox message, sent by the relay after the unit commits (never if it does not). */
  outbox(topic: string, payload: unknown, id: string = randomUUID()): string {
    this.unit.outbox.push({ id, topic, payload });
    return id;
  }

  /** A write that applies only if `version` is newer than the stored one (the ordering guard). */
  version(entity: string, version: number, value: unknown): this {
    this.unit.versions.push({ entity, version, value });
    return this;
  }

  /**
   * Your own SQL in the same transaction: `fn(db)` runs synchronously inside the SQLite transaction, or
   * `await fn(client)` between BEGIN and COMMIT on PostgreSQL. Not available on memory or Redis stores.
   */
  sql(fn: (handle: unknown) => unknown): this {
    this.sqlFns.push(fn);
    return this;
  }

  /** @internal the unit to commit. */
  toUnit(now: number, fence: Pick<Unit, 'complete' | 'message' | 'processed'>): Unit {
    const fns = this.sqlFns;
    const u: Unit = { ...fence, now, effects: this.unit.effects, outbox: this.unit.outbox, versions: this.unit.versions };
    if (fns.length > 0) {
      u.sql = (h) => {
        let chain: unknown;
        for (const fn of fns) {
          chain = chain instanceof Promise ? chain.then(() => fn(h)) : fn(h);
        }
        return chain;
      };
    }
    return u;
  }
}
