/**
 * The PostgreSQL store (pg). Units run in one transaction with row locks on the fence (the idempotency
 * record or the leased message), so two processes can never both commit for the same key; the queue
 * leases with `FOR UPDATE SKIP LOCKED`; the outbox can be written inside the caller's own transaction.
 *
 * A server that is down (at start-up or later) does not stop the service: `postgresStore(url)` resolves,
 * the calls answer STORE_UNAVAILABLE, and each call tries again (the pool opens a new connection, and the
 * schema is created on the first call that reaches the server).
 */
import pg from 'pg';
import { configError } from '../../core/validate.js';
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
import { type Decode, deadLetterOf, effectOf, judgeClaim, leasedOf, num, outboxRowOf, quarantineItemOf, queueStatsOf, type Row, toJson as json } from '../rows.js';
import { guardStoreMethods, startStore } from '../unavailable.js';
import { inTransaction, isPgDown, openPool } from './connection.js';
import { createSchema } from './schema.js';

/** Options of {@link PostgresStore} / {@link connectPostgresStore} (a string is taken as `connection`). */
export interface PostgresStoreOptions {
  /**
   * `postgres://…` (or `postgresql://…`) connection string, or your own pg.Pool (then `close()` leaves it
   * open, and its own timeouts and size apply instead of `statementTimeoutMs` and `poolSize`).
   */
  connection: string | pg.Pool;
  /** Schema holding blastwall's tables, a lower-case SQL identifier (default `blastwall`); created when missing. */
  schema?: string;
  /**
   * Per statement limit on the server, in milliseconds, an integer ≥ 1 (default 5000); the client gives
   * up on a query 1000 ms after it. Applies only to a pool blastwall creates from a connection string.
   */
  statementTimeoutMs?: number;
  /** Pool size when blastwall creates the pool (default 10). */
  poolSize?: number;
}

type Q = Pick<pg.PoolClient, 'query'>;
/** `jsonb` columns arrive parsed. */
const asIs: Decode = (v) => v;

/**
 * The PostgreSQL {@link IntegrityStore} (pg), for services that run as many instances and already keep
 * their data in PostgreSQL. `commit` is one transaction that first locks the fence row (`FOR UPDATE` on
 * the idempotency record or the leased message), so two processes can never both commit for one key or
 * one lease; `claim` of an existing key and `register` are decided under the same row locks; `lease`
 * uses `FOR UPDATE SKIP LOCKED`, so concurrent consumers take different messages. What `commit` wrote is
 * as durable as any PostgreSQL transaction on that server.
 *
 * `Unit.sql` receives the pg client between BEGIN and COMMIT (it may be async; if it throws, the whole
 * unit rolls back and `commit` rejects with that error), and {@link PostgresStore.enqueueOutboxWith}
 * writes an outbox row inside your own transaction. The schema and tables are created on the first call
 * that reaches the server. While the server is down calls reject with STORE_UNAVAILABLE and each call
 * tries again; after `close()` every call rejects with STORE_UNAVAILABLE. Create it with
 * {@link connectPostgresStore}.
 */
export class PostgresStore implements IntegrityStore {
  readonly kind = 'postgres' as const;
  /** The pg pool the store queries through: the one you passed, or the one it created (ended by `close()`). */
  readonly pool: pg.Pool;
  /** The schema holding the store's tables (see {@link PostgresStoreOptions.schema}). */
  readonly schema: string;
  private readonly ownsPool: boolean;
  private ready: Promise<void> | undefined;
  private initialised = false;
  private closed = false;

  constructor(options: PostgresStoreOptions) {
    const schema = options.schema ?? 'blastwall';
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw configError('schema', 'a lower-case SQL identifier', schema);
    this.schema = schema;
    const { pool, owned } = openPool(options);
    this.pool = pool;
    this.ownsPool = owned;
  }

  private t(name: string): string {
    return `"${this.schema}"."${name}"`;
  }

  /** True after `close()`: every call then answers STORE_UNAVAILABLE. */
  get isClosed(): boolean {
    return this.closed;
  }
  /** Until the schema is in place every call first tries to create it (so a store made while the server was down starts working by itself). */
  whenReady(): Promise<void> | undefined {
    return this.initialised ? undefined : this.init();
  }
  /** Whether an error means the server cannot be reached or cannot serve now (answered as STORE_UNAVAILABLE). */
  isDown(err: unknown): boolean {
    return isPgDown(err);
  }

  /** Creates the schema and tables (once; again after a failure). */
  init(): Promise<void> {
    this.ready ??= inTransaction(this.pool, async (c) => {
      await createSchema(c, this.schema, (n) => this.t(n));
    }).then(
      () => {
        this.initialised = true;
      },
      (err: unknown) => {
        this.ready = undefined;
        throw err;
      },
    );
    return this.ready;
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.ownsPool && !this.pool.ended) await this.pool.end();
  }

  private async q(sql: string, params: unknown[] = [], client: Q = this.pool): Promise<Row[]> {
    return (await client.query(sql, params)).rows as Row[];
  }

  async claim(i: ClaimInput): Promise<ClaimResult> {
    const leaseUntil = i.now + i.leaseMs;
    // a fresh key (the common case) is one statement; an existing one is decided under its row lock
    const owner = i.owner?.instance ?? null;
    const epoch = i.owner?.epoch ?? null;
    const ins = await this.q(
      `INSERT INTO ${this.t('idem')} (key, fingerprint, state, token, lease_until, expires_at, owner, owner_epoch)
       VALUES ($1, $2, 'in-flight', $3, $4, $4, $5, $6) ON CONFLICT (key) DO NOTHING RETURNING key`,
      [i.key, i.fingerprint, i.token, leaseUntil, owner, epoch],
    );
    if (ins.length === 1) return { state: 'claimed', token: i.token, leaseUntil, takeover: false };
    return inTransaction(this.pool, async (c): Promise<ClaimResult> => {
      const [r] = await this.q(`SELECT * FROM ${this.t('idem')} WHERE key = $1 FOR UPDATE`, [i.key], c);
      // no row any more (swept between the two statements) counts as a fresh key
      const found = judgeClaim(r, i, asIs);
      if (found !== 'fresh' && found !== 'takeover') return found;
      await this.q(
        `UPDATE ${this.t('idem')} SET fingerprint = $2, state = 'in-flight', token = $3, lease_until = $4, expires_at = $4,
           response = NULL, completed_at = NULL, owner = $5, owner_epoch = $6 WHERE key = $1`,
        [i.key, i.fingerprint, i.token, leaseUntil, owner, epoch],
        c,
      );
      return { state: 'claimed', token: i.token, leaseUntil, takeover: found === 'takeover' };
    });
  }

  async renew(key: string, token: string, now: number, leaseMs: number): Promise<boolean> {
    const r = await this.pool.query(
      `UPDATE ${this.t('idem')} SET lease_until = $3, expires_at = $3 WHERE key = $1 AND token = $2 AND state = 'in-flight'`,
      [key, token, now + leaseMs],
    );
    return r.rowCount === 1;
  }

  async release(key: string, token: string): Promise<void> {
    await this.pool.query(`DELETE FROM ${this.t('idem')} WHERE key = $1 AND token = $2 AND state = 'in-flight'`, [key, token]);
  }

  register(instance: string, now: number): Promise<{ epoch: number; released: number }> {
    return inTransaction(this.pool, async (c) => {
      const [r] = await this.q(
        `INSERT INTO ${this.t('instances')} (instance, epoch, started_at) VALUES ($1, 1, $2)
         ON CONFLICT (instance) DO UPDATE SET epoch = ${this.t('instances')}.epoch + 1, started_at = excluded.started_at RETURNING epoch`,
        [instance, now],
        c,
      );
      const epoch = num(r?.epoch);
      const released = await c.query(
        `UPDATE ${this.t('idem')} SET token = '', lease_until = 0, expires_at = 0, owner = NULL, owner_epoch = NULL
         WHERE owner = $1 AND owner_epoch < $2 AND state = 'in-flight'`,
        [instance, epoch],
      );
      return { epoch, released: released.rowCount ?? 0 };
    });
  }

  commit(u: Unit): Promise<CommitResult> {
    return inTransaction(this.pool, 
      async (c): Promise<CommitResult> => {
        if (u.complete !== undefined) {
          const [r] = await this.q(`SELECT state, token FROM ${this.t('idem')} WHERE key = $1 FOR UPDATE`, [u.complete.key], c);
          if (r === undefined || r.state !== 'in-flight' || r.token !== u.complete.token) return { ok: false, reason: 'lease-lost' };
        }
        if (u.message !== undefined) {
          const [m] = await this.q(
            `SELECT attempts FROM ${this.t('queue')} WHERE queue = $1 AND id = $2 AND state = 'leased' FOR UPDATE`,
            [u.message.queue, u.message.id],
            c,
          );
          if (m === undefined || leaseToken(u.message.id, num(m.attempts)) !== u.message.leaseToken) return { ok: false, reason: 'lease-lost' };
        }
        if (u.processed !== undefined) {
          const r = await c.query(`INSERT INTO ${this.t('processed')} (grp, id, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [
            u.processed.group,
            u.processed.id,
            u.now,
          ]);
          if (r.rowCount === 0) return { ok: false, reason: 'duplicate' };
        }
        if (u.sql !== undefined) await u.sql(c);
        for (const e of u.effects ?? []) {
          await c.query(`INSERT INTO ${this.t('effects')} (collection, id, data, at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, [
            e.collection,
            e.id,
            json(e.data),
            u.now,
          ]);
        }
        for (const m of u.outbox ?? []) await this.insertOutbox(c, m, u.now);
        const stale: VersionedWrite[] = [];
        for (const w of u.versions ?? []) {
          const r = await c.query(
            `INSERT INTO ${this.t('versions')} (entity, version, value) VALUES ($1, $2, $3)
             ON CONFLICT (entity) DO UPDATE SET version = excluded.version, value = excluded.value WHERE ${this.t('versions')}.version < excluded.version`,
            [w.entity, w.version, json(w.value)],
          );
          if (r.rowCount === 0) stale.push(w);
        }
        if (u.complete !== undefined) {
          const k = u.complete;
          await c.query(
            `UPDATE ${this.t('idem')} SET state = 'completed', response = $3, completed_at = $4, expires_at = $5 WHERE key = $1 AND token = $2`,
            [k.key, k.token, json(k.response), u.now, k.expiresAt],
          );
        }
        return { ok: true, stale };
      },
      (r) => !r.ok,
    );
  }

  private async insertOutbox(c: Q, m: OutboxMessage, now: number): Promise<void> {
    await c.query(`INSERT INTO ${this.t('outbox')} (id, topic, payload, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING`, [
      m.id,
      m.topic,
      json(m.payload),
      now,
    ]);
  }

  /** Inside the caller's transaction: `handle` is the pg client on which the caller ran BEGIN. */
  enqueueOutboxWith(handle: unknown, m: OutboxMessage, now: number): Promise<void> {
    if (handle === null || typeof handle !== 'object' || typeof (handle as Q).query !== 'function') {
      throw configError('handle', 'the pg client on which your transaction is open', handle);
    }
    if (handle instanceof pg.Pool) throw configError('handle', 'a pg client inside BEGIN … COMMIT (a Pool runs each query in its own transaction)', 'pg.Pool');
    return this.insertOutbox(handle as Q, m, now);
  }

  async enqueue(queue: string, messages: EnqueueMessage[], now: number): Promise<number> {
    if (messages.length === 0) return 0;
    const r = await this.pool.query(
      `INSERT INTO ${this.t('queue')} (queue, id, payload, enqueued_at, available_at, state, attempts, lease_until)
       SELECT $1, m.id, m.payload, $2, m.available_at, 'ready', 0, 0
       FROM jsonb_to_recordset($3::jsonb) AS m(ord int, id text, payload jsonb, available_at bigint) ORDER BY m.ord
       ON CONFLICT (queue, id) DO NOTHING`,
      [queue, now, JSON.stringify(messages.map((m, ord) => ({ ord, id: m.id, payload: m.payload ?? null, available_at: m.availableAt })))],
    );
    return r.rowCount ?? 0;
  }

  async lease(queue: string, max: number, now: number, leaseMs: number): Promise<LeasedMessage[]> {
    const rows = await this.q(
      `UPDATE ${this.t('queue')} SET state = 'leased', attempts = attempts + 1, lease_until = $3
       WHERE seq IN (SELECT seq FROM ${this.t('queue')} WHERE queue = $1
         AND ((state = 'ready' AND available_at <= $2) OR (state = 'leased' AND lease_until <= $2))
         ORDER BY available_at, seq LIMIT $4 FOR UPDATE SKIP LOCKED)
       RETURNING seq, id, payload, attempts, enqueued_at, available_at, lease_until`,
      [queue, now, now + leaseMs, max],
    );
    rows.sort((a, b) => num(a.available_at) - num(b.available_at) || num(a.seq) - num(b.seq));
    return rows.map((r) => leasedOf(r, asIs));
  }

  async ack(queue: string, id: string, token: string, now: number): Promise<boolean> {
    const r = await this.pool.query(
      `UPDATE ${this.t('queue')} SET state = 'done', done_at = $4 WHERE queue = $1 AND id = $2 AND state = 'leased' AND attempts = $3`,
      [queue, id, tokenAttempts(id, token), now],
    );
    return r.rowCount === 1;
  }

  async retryLater(queue: string, id: string, token: string, availableAt: number): Promise<boolean> {
    const r = await this.pool.query(
      `UPDATE ${this.t('queue')} SET state = 'ready', available_at = $4 WHERE queue = $1 AND id = $2 AND state = 'leased' AND attempts = $3`,
      [queue, id, tokenAttempts(id, token), availableAt],
    );
    return r.rowCount === 1;
  }

  async deadLetter(queue: string, id: string, token: string, reason: string, now: number): Promise<boolean> {
    const r = await this.pool.query(
      `UPDATE ${this.t('queue')} SET state = 'dead', reason = $4, done_at = $5 WHERE queue = $1 AND id = $2 AND state = 'leased' AND attempts = $3`,
      [queue, id, tokenAttempts(id, token), reason, now],
    );
    return r.rowCount === 1;
  }

  async queueStats(queue: string, now: number): Promise<QueueStats> {
    const [r] = await this.q(
      `SELECT count(*) FILTER (WHERE state IN ('ready','leased')) AS backlog, count(*) FILTER (WHERE state = 'leased' AND lease_until > $2) AS leased,
         count(*) FILTER (WHERE state = 'dead') AS dead, min(enqueued_at) FILTER (WHERE state IN ('ready','leased')) AS oldest
       FROM ${this.t('queue')} WHERE queue = $1`,
      [queue, now],
    );
    return queueStatsOf(r, now);
  }

  async deadLetters(queue: string, limit = 100): Promise<DeadLetter[]> {
    const rows = await this.q(
      `SELECT id, payload, attempts, reason, done_at FROM ${this.t('queue')} WHERE queue = $1 AND state = 'dead' ORDER BY seq LIMIT $2`,
      [queue, limit],
    );
    return rows.map((r) => deadLetterOf(r, asIs));
  }

  async outboxPending(limit: number): Promise<OutboxRow[]> {
    const rows = await this.q(`SELECT seq, id, topic, payload, created_at FROM ${this.t('outbox')} WHERE sent_at IS NULL ORDER BY seq LIMIT $1`, [limit]);
    return rows.map((r) => outboxRowOf(r, asIs));
  }

  async markSent(ids: string[], now: number): Promise<void> {
    if (ids.length > 0) await this.pool.query(`UPDATE ${this.t('outbox')} SET sent_at = $2 WHERE id = ANY($1) AND sent_at IS NULL`, [ids, now]);
  }

  async version(entity: string): Promise<{ version: number; value: unknown } | undefined> {
    const [r] = await this.q(`SELECT version, value FROM ${this.t('versions')} WHERE entity = $1`, [entity]);
    return r === undefined ? undefined : { version: num(r.version), value: r.value };
  }

  async effects(collection: string): Promise<Effect[]> {
    const rows = await this.q(`SELECT collection, id, data, at FROM ${this.t('effects')} WHERE collection = $1 ORDER BY seq`, [collection]);
    return rows.map((r) => effectOf(r, asIs));
  }

  async putQuarantine(item: QuarantineItem): Promise<void> {
    await this.pool.query(`INSERT INTO ${this.t('quarantine')} (source, reason, payload, at) VALUES ($1, $2, $3, $4)`, [
      item.source,
      item.reason,
      item.payload,
      item.at,
    ]);
  }

  async quarantined(source?: string, limit = 100): Promise<QuarantineItem[]> {
    const rows = await this.q(
      `SELECT source, reason, payload, at FROM ${this.t('quarantine')} WHERE ($1::text IS NULL OR source = $1) ORDER BY seq LIMIT $2`,
      [source ?? null, limit],
    );
    return rows.map(quarantineItemOf);
  }

  async sweep(now: number, doneRetentionMs = 7 * 24 * 3_600_000): Promise<{ expiredKeys: number; doneMessages: number }> {
    const a = await this.pool.query(`DELETE FROM ${this.t('idem')} WHERE expires_at <= $1`, [now]);
    const b = await this.pool.query(`DELETE FROM ${this.t('queue')} WHERE state = 'done' AND done_at <= $1`, [now - doneRetentionMs]);
    return { expiredKeys: a.rowCount ?? 0, doneMessages: b.rowCount ?? 0 };
  }
}

guardStoreMethods(PostgresStore);

/**
 * Makes a PostgreSQL store and creates its schema. A server that cannot be reached does not fail the
 * start: the store is returned anyway, answers STORE_UNAVAILABLE, and its first call that reaches the
 * server creates the schema. Other failures (a wrong password, no permission to create the schema) reject.
 * Wrong options throw CONFIG_INVALID (the returned Promise rejects).
 *
 * @example
 * ```ts
 * import { createIdempotency } from 'blastwall';
 * import { connectPostgresStore } from 'blastwall/stores/postgres';
 *
 * const store = await connectPostgresStore({ connection: process.env.DATABASE_URL!, schema: 'blastwall', poolSize: 10 });
 * const idempotency = createIdempotency({ store, lease: '30s', ttl: '24h' });
 * // … on shutdown
 * await store.close();
 * ```
 */
export async function connectPostgresStore(options: PostgresStoreOptions | string): Promise<PostgresStore> {
  return startStore(new PostgresStore(typeof options === 'string' ? { connection: options } : options));
}

/** @deprecated since 0.2: use `connectPostgresStore` (the same function; async factories are named `connectX`). */
export const postgresStore = connectPostgresStore;
