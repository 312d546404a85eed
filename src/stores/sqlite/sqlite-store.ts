/**
 * The SQLite store (better-sqlite3, WAL): the embedded default. Every unit is one synchronous
 * transaction, so it is atomic against crashes (WAL) and against other processes on the same file
 * (`BEGIN IMMEDIATE`).
 *
 * better-sqlite3 is synchronous: a statement that waits for another process's write lock inside SQLite
 * blocks the event loop for the whole wait. So SQLite itself never waits (busy timeout 0): a transaction
 * that meets a lock is tried again on a timer, off the loop, for up to `busyTimeout` (default 50 ms), and
 * then answers STORE_UNAVAILABLE, which the caller's boundary (watchStore: timeout, breaker, health
 * `store:sqlite`) sees like any other unavailability (docs/sqlite.md).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { durationOption, type Duration } from '../../core/duration.js';
import type { BlastwallError } from '../../core/errors.js';
import { MAX_TIMER_MS, configError, objectOption } from '../../core/validate.js';
import type {
  ClaimInput,
  ClaimResult,
  CommitResult,
  DeadLetter,
  Effect,
  EnqueueMessage,
  IntegrityStore,
  LeasedMessage,
  OutboxMessage,
  OutboxRow,
  QuarantineItem,
  QueueStats,
  Unit,
  VersionedWrite,
} from '../types.js';
import { leaseToken, tokenAttempts } from '../options.js';
import { deadLetterOf, effectOf, fromJson, judgeClaim, leasedOf, outboxRowOf, quarantineItemOf, queueStatsOf, type Row, toJson as json } from '../rows.js';
import { storeClosed, storeUnavailable } from '../unavailable.js';
import { isBusy, isUnavailable, openError, openSqlite, type SqliteDatabase, type SqliteStatement } from './driver.js';
import { createTables, prepareStatements } from './schema.js';

export type { SqliteDatabase, SqliteStatement, SqliteTransaction } from './driver.js';

/** Options of {@link SqliteStore} / {@link createSqliteStore} (a string is taken as `database`). */
export interface SqliteStoreOptions {
  /**
   * A file path (created with its directory), `:memory:`, or an open better-sqlite3 Database to share with
   * your own tables (it keeps its own busy timeout: open it with a small `timeout`, see docs/sqlite.md).
   */
  database: string | SqliteDatabase;
  /** Table name prefix (default `bw_`). */
  prefix?: string;
  /**
   * How long a transaction that meets another connection's write lock keeps trying, on a timer (the event
   * loop is never blocked), before it answers STORE_UNAVAILABLE. Default 50ms; 0 fails at once.
   */
  busyTimeout?: Duration;
}

/**
 * The SQLite {@link IntegrityStore} (better-sqlite3, WAL journal, `synchronous = NORMAL`): the embedded
 * default for a service that runs as one process, or several processes on one host sharing the file.
 *
 * Every write (`claim`, `commit`, `lease`, `ack` …) is one `BEGIN IMMEDIATE` transaction, so it is
 * atomic against crashes and serialised against other connections to the same file. SQLite never waits
 * for a lock inside a statement (that would block the event loop): a write that meets another
 * connection's lock is tried again on timers (1, 2, 4 … 20 ms) for up to `busyTimeout`, then rejects
 * with STORE_UNAVAILABLE; reads run without a transaction. With `synchronous = NORMAL` a committed
 * transaction survives a process crash; an operating-system crash or power loss can lose the last
 * transactions (the database itself stays consistent).
 *
 * `Unit.sql` receives the Database and must be synchronous (a function that returns a Promise makes
 * `commit` reject with a TypeError and roll back). The tables are created in the constructor, with the
 * `prefix` (default `bw_`). After `close()` every call rejects with STORE_UNAVAILABLE.
 */
export class SqliteStore implements IntegrityStore {
  readonly kind = 'sqlite' as const;
  /**
   * The better-sqlite3 Database the store uses: the one you passed, or the one it opened (closed by
   * `close()`). Use it for your own tables, e.g. with `Work.sql` or `enqueueOutboxWith`.
   */
  readonly db: SqliteDatabase;
  private readonly ownsDb: boolean;
  private closed = false;
  private readonly busyTimeoutMs: number;
  private readonly t: (name: string) => string;
  private readonly s: Record<string, SqliteStatement>;

  constructor(options: SqliteStoreOptions) {
    if (options === null || typeof options !== 'object') throw configError('sqliteStore options', 'a path or an object with `database`', options);
    objectOption('sqliteStore options', { ...options }, ['database', 'prefix', 'busyTimeout']);
    const prefix = options.prefix ?? 'bw_';
    if (typeof prefix !== 'string' || !/^[a-z_][a-z0-9_]{0,30}$/i.test(prefix)) throw configError('prefix', 'an identifier prefix such as `bw_`', prefix);
    this.busyTimeoutMs = options.busyTimeout === undefined ? 50 : durationOption('busyTimeout', options.busyTimeout, 0, MAX_TIMER_MS);
    if (typeof options.database === 'string') {
      if (options.database.length === 0) throw configError('database', 'a file path, `:memory:` or a better-sqlite3 Database', options.database);
      const path = options.database;
      if (path !== ':memory:') {
        try {
          mkdirSync(dirname(path), { recursive: true });
        } catch (err) {
          throw openError(path, 'SQLite store', 'database', err);
        }
      }
      this.db = openSqlite(path, 'SQLite store', 'database');
      this.ownsDb = true;
    } else if (options.database !== null && typeof options.database === 'object' && typeof options.database.prepare === 'function') {
      this.db = options.database;
      this.ownsDb = false;
    } else {
      throw configError('database', 'a file path, `:memory:` or a better-sqlite3 Database', options.database);
    }
    if (!this.ownsDb) {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
    }
    this.t = (n) => `${prefix}${n}`;
    try {
      createTables(this.db, this.t);
    } catch (err) {
      if (this.ownsDb) this.db.close();
      throw isUnavailable(err) ? storeUnavailable('sqlite', err) : err;
    }
    this.s = prepareStatements(this.db, this.t);
  }

  init(): Promise<void> {
    return this.read(() => undefined);
  }
  ping(): Promise<void> {
    return this.read(() => {
      this.db.prepare('SELECT 1').get();
    });
  }
  close(): Promise<void> {
    this.closed = true;
    if (this.ownsDb && this.db.open) this.db.close();
    return Promise.resolve();
  }

  /**
   * Runs `fn` in one `BEGIN IMMEDIATE` transaction. When another connection holds the write lock, BEGIN
   * fails at once (fn has not run); it is tried again after 1, 2, 4 … 20 ms timers until `busyTimeout`,
   * then the call answers STORE_UNAVAILABLE. A closed store answers STORE_UNAVAILABLE at once.
   */
  private async tx<T>(fn: () => T): Promise<T> {
    const giveUpAt = performance.now() + this.busyTimeoutMs;
    for (let wait = 1; ; wait = Math.min(wait * 2, 20)) {
      let began = false;
      try {
        return await this.read(() =>
          this.db
            .transaction(() => {
              began = true;
              return fn();
            })
            .immediate(),
        );
      } catch (err) {
        if (began || !isBusy((err as BlastwallError).cause) || performance.now() + wait > giveUpAt) throw err;
      }
      await new Promise((resolve) => setTimeout(resolve, wait).unref());
    }
  }

  /** Runs `fn` now; unavailability (closed, locked, I/O) becomes STORE_UNAVAILABLE, other errors pass unchanged. */
  private read<T>(fn: () => T): Promise<T> {
    if (this.closed || !this.db.open) return Promise.reject(storeClosed('sqlite'));
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(isUnavailable(err) ? storeUnavailable('sqlite', err) : err instanceof Error ? err : new Error(String(err)));
    }
  }

  claim(i: ClaimInput): Promise<ClaimResult> {
    return this.tx((): ClaimResult => {
      const found = judgeClaim(this.s.getKey!.get(i.key) as Row | undefined, i, fromJson);
      if (found !== 'fresh' && found !== 'takeover') return found;
      const leaseUntil = i.now + i.leaseMs;
      this.s.putKey!.run(i.key, i.fingerprint, i.token, leaseUntil, leaseUntil, i.owner?.instance ?? null, i.owner?.epoch ?? null);
      return { state: 'claimed', token: i.token, leaseUntil, takeover: found === 'takeover' };
    });
  }

  renew(key: string, token: string, now: number, leaseMs: number): Promise<boolean> {
    return this.tx(() => this.s.renew!.run(now + leaseMs, now + leaseMs, key, token).changes === 1);
  }

  release(key: string, token: string): Promise<void> {
    return this.tx(() => {
      this.s.release!.run(key, token);
    });
  }

  register(instance: string, now: number): Promise<{ epoch: number; released: number }> {
    return this.tx(() => {
      const epoch = Number((this.s.nextEpoch!.get(instance, now) as Row).epoch);
      return { epoch, released: this.s.releaseOwned!.run(instance, epoch).changes };
    });
  }

  commit(u: Unit): Promise<CommitResult> {
    return this.tx((): CommitResult => {
      if (u.complete !== undefined) {
        const r = this.s.getKey!.get(u.complete.key) as Row | undefined;
        if (r === undefined || r.state !== 'in-flight' || r.token !== u.complete.token) return { ok: false, reason: 'lease-lost' };
      }
      if (u.message !== undefined) {
        const m = this.s.heldMsg!.get(u.message.queue, u.message.id) as Row | undefined;
        if (m === undefined || leaseToken(u.message.id, m.attempts as number) !== u.message.leaseToken) return { ok: false, reason: 'lease-lost' };
      }
      if (u.processed !== undefined && this.s.processed!.run(u.processed.group, u.processed.id, u.now).changes === 0) {
        return { ok: false, reason: 'duplicate' };
      }
      if (u.sql !== undefined) {
        const r = u.sql(this.db);
        if (r instanceof Promise) throw new TypeError('Unit.sql must be synchronous on the SQLite store (better-sqlite3 transactions are synchronous)');
      }
      for (const e of u.effects ?? []) this.s.effect!.run(e.collection, e.id, json(e.data), u.now);
      for (const m of u.outbox ?? []) this.s.outbox!.run(m.id, m.topic, json(m.payload), u.now);
      const stale: VersionedWrite[] = [];
      for (const w of u.versions ?? []) if (this.s.putVersion!.run(w.entity, w.version, json(w.value)).changes === 0) stale.push(w);
      if (u.complete !== undefined) {
        const c = u.complete;
        this.s.complete!.run(json(c.response), u.now, c.expiresAt, c.key, c.token);
      }
      return { ok: true, stale };
    });
  }

  enqueueOutboxWith(handle: unknown, m: OutboxMessage, now: number): void {
    const db = handle as SqliteDatabase;
    if (db === null || typeof db !== 'object' || typeof db.prepare !== 'function') {
      throw configError('handle', 'the better-sqlite3 Database whose transaction is open', handle);
    }
    if (!db.inTransaction) throw new TypeError('enqueueOutboxWith: call it inside your db.transaction(...) so a rollback also drops the message');
    db.prepare(`INSERT OR IGNORE INTO ${this.t('outbox')} (id, topic, payload, created_at) VALUES (?, ?, ?, ?)`).run(m.id, m.topic, json(m.payload), now);
  }

  enqueue(queue: string, messages: EnqueueMessage[], now: number): Promise<number> {
    return this.tx(() => {
      let n = 0;
      for (const m of messages) n += this.s.enqueue!.run(queue, m.id, json(m.payload), now, m.availableAt).changes;
      return n;
    });
  }

  lease(queue: string, max: number, now: number, leaseMs: number): Promise<LeasedMessage[]> {
    return this.tx(() =>
      (this.s.due!.all(queue, now, now, max) as Row[]).map((d) => leasedOf(this.s.take!.get(now + leaseMs, d.seq) as Row, fromJson)),
    );
  }

  ack(queue: string, id: string, token: string, now: number): Promise<boolean> {
    return this.tx(() => this.s.ack!.run(now, queue, id, tokenAttempts(id, token)).changes === 1);
  }
  retryLater(queue: string, id: string, token: string, availableAt: number): Promise<boolean> {
    return this.tx(() => this.s.retry!.run(availableAt, queue, id, tokenAttempts(id, token)).changes === 1);
  }
  deadLetter(queue: string, id: string, token: string, reason: string, now: number): Promise<boolean> {
    return this.tx(() => this.s.dead!.run(reason, now, queue, id, tokenAttempts(id, token)).changes === 1);
  }

  queueStats(queue: string, now: number): Promise<QueueStats> {
    return this.read(() => queueStatsOf(this.s.stats!.get(now, queue) as Row, now));
  }

  deadLetters(queue: string, limit = 100): Promise<DeadLetter[]> {
    return this.read(() => (this.s.deadList!.all(queue, limit) as Row[]).map((r) => deadLetterOf(r, fromJson)));
  }

  outboxPending(limit: number): Promise<OutboxRow[]> {
    return this.read(() => (this.s.pending!.all(limit) as Row[]).map((r) => outboxRowOf(r, fromJson)));
  }

  markSent(ids: string[], now: number): Promise<void> {
    return this.tx(() => {
      for (const id of ids) this.s.sent!.run(now, id);
    });
  }

  version(entity: string): Promise<{ version: number; value: unknown } | undefined> {
    return this.read(() => {
      const r = this.s.getVersion!.get(entity) as Row | undefined;
      return r === undefined ? undefined : { version: r.version as number, value: fromJson(r.value) };
    });
  }

  effects(collection: string): Promise<Effect[]> {
    return this.read(() => (this.s.effects!.all(collection) as Row[]).map((r) => effectOf(r, fromJson)));
  }

  putQuarantine(item: QuarantineItem): Promise<void> {
    return this.tx(() => {
      this.s.putQ!.run(item.source, item.reason, item.payload, item.at);
    });
  }

  quarantined(source?: string, limit = 100): Promise<QuarantineItem[]> {
    const src = source ?? null;
    return this.read(() => (this.s.listQ!.all(src, src, limit) as Row[]).map(quarantineItemOf));
  }

  sweep(now: number, doneRetentionMs = 7 * 24 * 3_600_000): Promise<{ expiredKeys: number; doneMessages: number }> {
    return this.tx(() => ({
      expiredKeys: this.s.sweepKeys!.run(now).changes,
      doneMessages: this.s.sweepDone!.run(now - doneRetentionMs).changes,
    }));
  }
}

/**
 * Creates a SQLite store on a file path (or `:memory:`, or an open better-sqlite3 Database). The file
 * and its directory are created when missing. It opens synchronously and throws CONFIG_INVALID when the
 * options are wrong, when better-sqlite3 is not installed, or when the file cannot be opened (a
 * directory, not a database, read-only); STORE_UNAVAILABLE when the tables cannot be created because the
 * file is locked or unwritable.
 *
 * @example
 * ```ts
 * import { createIdempotency } from 'blastwall';
 * import { createSqliteStore } from 'blastwall/stores/sqlite';
 *
 * const store = createSqliteStore('.blastwall/integrity.db'); // or { database, prefix, busyTimeout: '100ms' }
 * const idempotency = createIdempotency({ store, lease: '30s', ttl: '24h' });
 * // … on shutdown
 * await store.close();
 * ```
 */
export function createSqliteStore(options: SqliteStoreOptions | string): SqliteStore {
  return new SqliteStore(typeof options === 'string' ? { database: options } : options);
}

/** @deprecated since 0.2: use `createSqliteStore` (the same function, named by the `createX` scheme). */
export const sqliteStore = createSqliteStore;
