/**
 * The Redis store (ioredis): for services that run as many instances. Every operation that reads and
 * then writes is one Lua script, so it is atomic on the server. The deferred queue delivers through a
 * Redis Stream with a consumer group: ready messages are stream entries, a lease is the entry pending
 * for a consumer (XREADGROUP / XCLAIM), and ack / retry / dead-letter XACK and XDEL the entry. Message
 * state (attempts, lease deadline) is kept beside the stream so leases use the wall's clock, not the
 * server's idle time.
 *
 * Keys share one prefix with a hash tag (default `bw:{blastwall}:`), so all of them live in one slot
 * and the scripts also run on Redis Cluster.
 *
 * A server that is down (at start-up or later) does not stop the service: `redisStore(url)` resolves,
 * the calls answer STORE_UNAVAILABLE at once (no offline queue), and the client reconnects by itself.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
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
  OutboxRow,
  QuarantineItem,
  QueueStats,
  Unit,
  VersionedWrite,
} from '../types.js';
import { leaseToken } from '../options.js';
import { fromJson as dec, toJson as enc } from '../rows.js';
import { defineScripts, type Scripted } from './scripts.js';
import { guardStoreMethods, startStore } from '../unavailable.js';

/** Options of {@link RedisStore} / {@link connectRedisStore} (a string is taken as `connection`). */
export interface RedisStoreOptions {
  /**
   * `redis://…` or `rediss://…` URL, or your own ioredis client (then `close()` leaves it open, and its
   * own settings, e.g. its offline queue and retry strategy, apply instead of blastwall's).
   */
  connection: string | Redis;
  /** Key prefix; keep a `{hash tag}` in it on Redis Cluster (default `bw:{blastwall}:`). */
  prefix?: string;
  /**
   * Per command limit in milliseconds, an integer ≥ 1 (default 5000); a command that takes longer fails
   * with STORE_UNAVAILABLE. Applies only to a client blastwall creates from a URL.
   */
  commandTimeoutMs?: number;
}

/** Server replies that mean "cannot serve now" rather than "bad command". */
const DOWN_REPLY = /^(LOADING|READONLY|MASTERDOWN|CLUSTERDOWN|BUSY|TRYAGAIN|NOREPLICAS)\b/;
/** Client-side errors of a connection that is down, closing or too slow. */
const DOWN_CLIENT = /Connection is closed|Stream isn't writeable|Command timed out|max retries per request|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EPIPE|connect/i;

/**
 * The Redis {@link IntegrityStore} (ioredis), for services that run as many instances. Every call that
 * reads and then writes (claim, renew, release, register, commit, enqueue, lease, ack, retry,
 * dead-letter, sweep) is one Lua script, so it is atomic on the server and two instances can never both
 * claim a key or both commit under one lease. The queue is a Redis Stream with a consumer group; leases
 * and expiry use the caller's `now`, not the server's clock. All keys share `prefix` (one hash slot, so
 * Redis Cluster works).
 *
 * Durability is the server's: what Redis persists (AOF, RDB, replication) is what survives a server
 * restart or failover. `Unit.sql` is not supported (`commit` rejects with a TypeError). With a URL,
 * blastwall's client fails a command at once while disconnected (no offline queue) and reconnects with a
 * backoff capped at 2 s: calls reject with STORE_UNAVAILABLE until the server is back. After `close()`
 * every call rejects with STORE_UNAVAILABLE. Create it with {@link connectRedisStore}.
 */
export class RedisStore implements IntegrityStore {
  readonly kind = 'redis' as const;
  /** The ioredis client the store sends its commands on (with blastwall's scripts defined on it). */
  readonly redis: Scripted;
  /** The key prefix in use (see {@link RedisStoreOptions.prefix}). */
  readonly prefix: string;
  private readonly ownsClient: boolean;
  private closed = false;
  private readonly consumer = `c-${process.pid}-${randomBytes(3).toString('hex')}`;

  constructor(options: RedisStoreOptions) {
    this.prefix = options.prefix ?? 'bw:{blastwall}:';
    if (typeof this.prefix !== 'string' || this.prefix.length === 0) throw configError('prefix', 'a non-empty key prefix', options.prefix);
    const timeout = options.commandTimeoutMs ?? 5000;
    if (!Number.isInteger(timeout) || timeout < 1) throw configError('commandTimeoutMs', 'an integer ≥ 1', timeout);
    if (typeof options.connection === 'string') {
      if (!/^rediss?:\/\//.test(options.connection)) throw configError('connection', 'a redis:// URL or an ioredis client', options.connection);
      this.redis = new Redis(options.connection, {
        lazyConnect: true,
        maxRetriesPerRequest: 1,
        // a command while disconnected fails at once (STORE_UNAVAILABLE) instead of waiting in a queue
        enableOfflineQueue: false,
        commandTimeout: timeout,
        connectTimeout: 3000,
        // reconnect forever with a capped backoff: the store recovers when the server returns
        retryStrategy: (n) => Math.min(50 * 2 ** Math.min(n, 6), 2000),
      }) as Scripted;
      this.ownsClient = true;
    } else if (options.connection instanceof Redis) {
      this.redis = options.connection as Scripted;
      this.ownsClient = false;
    } else {
      throw configError('connection', 'a redis:// URL or an ioredis client', options.connection);
    }
    // errors surface on the calls that fail; an unhandled 'error' event must not crash the process
    this.redis.on('error', () => undefined);
    defineScripts(this.redis);
  }

  private get anchor(): string {
    return `${this.prefix}anchor`;
  }

  /** True after `close()`: every call then answers STORE_UNAVAILABLE. */
  get isClosed(): boolean {
    return this.closed;
  }
  /** Ready once connected; the client connects and reconnects by itself. */
  whenReady(): undefined {
    return undefined;
  }
  /** Whether an error means the server cannot be reached or cannot serve now (answered as STORE_UNAVAILABLE). */
  isDown(err: unknown): boolean {
    if (!(err instanceof Error)) return false;
    if (err.name === 'ReplyError') return DOWN_REPLY.test(err.message);
    return err.name === 'MaxRetriesPerRequestError' || DOWN_CLIENT.test(err.message) || typeof (err as { errno?: unknown }).errno === 'number';
  }

  /** Connects (when blastwall made the client) and checks the server answers. */
  async init(): Promise<void> {
    if (this.redis.status === 'wait') await this.redis.connect();
    await this.redis.ping();
  }
  async ping(): Promise<void> {
    await this.redis.ping();
  }
  close(): Promise<void> {
    this.closed = true;
    if (this.ownsClient) this.redis.disconnect();
    return Promise.resolve();
  }

  async claim(i: ClaimInput): Promise<ClaimResult> {
    const leaseUntil = i.now + i.leaseMs;
    const r = await this.redis.bwClaim(
      this.anchor,
      this.prefix,
      i.key,
      i.fingerprint,
      i.token,
      String(i.now),
      String(leaseUntil),
      i.owner?.instance ?? '',
      String(i.owner?.epoch ?? 0),
    );
    switch (r[0]) {
      case 'claimed':
        return { state: 'claimed', token: i.token, leaseUntil, takeover: r[1] === '1' };
      case 'mismatch':
        return { state: 'mismatch' };
      case 'completed':
        return { state: 'completed', response: dec(r[1]) as never, completedAt: Number(r[2]) };
      default:
        return { state: 'in-flight', leaseUntil: Number(r[1]) };
    }
  }

  async renew(key: string, token: string, now: number, leaseMs: number): Promise<boolean> {
    return (await this.redis.bwRenew(this.anchor, this.prefix, key, token, String(now + leaseMs))) === 1;
  }

  async release(key: string, token: string): Promise<void> {
    await this.redis.bwRelease(this.anchor, this.prefix, key, token);
  }

  async register(instance: string): Promise<{ epoch: number; released: number }> {
    const [epoch, released] = await this.redis.bwRegister(this.anchor, this.prefix, instance);
    return { epoch: Number(epoch), released: Number(released) };
  }

  async commit(u: Unit): Promise<CommitResult> {
    if (u.sql !== undefined) throw new TypeError('the Redis store has no SQL: Unit.sql is for the SQLite and PostgreSQL stores');
    const now = String(u.now);
    const body = {
      now,
      complete:
        u.complete === undefined
          ? undefined
          : { key: u.complete.key, token: u.complete.token, response: enc(u.complete.response), expiresAt: String(u.complete.expiresAt) },
      message: u.message,
      processed: u.processed,
      effects: (u.effects ?? []).map((e) => ({ collection: e.collection, id: e.id, row: `{"data":${enc(e.data)},"at":${now}}` })),
      outbox: (u.outbox ?? []).map((m) => ({ id: m.id, row: enc({ topic: m.topic, payload: m.payload ?? null, createdAt: u.now }) })),
      versions: (u.versions ?? []).map((w) => ({ entity: w.entity, version: String(w.version), value: enc(w.value) })),
    };
    // cjson turns an empty array into an object; the script only iterates, so send a marker-free shape
    const r = await this.redis.bwCommit(this.anchor, this.prefix, JSON.stringify(body));
    if (r === 'lease-lost' || r === 'duplicate') return { ok: false, reason: r };
    const staleIdx = JSON.parse(r) as number[] | Record<string, never>;
    const versions = u.versions ?? [];
    const stale: VersionedWrite[] = Array.isArray(staleIdx) ? staleIdx.map((i) => versions[i]!) : [];
    return { ok: true, stale };
  }

  async enqueue(queue: string, messages: EnqueueMessage[], now: number): Promise<number> {
    if (messages.length === 0) return 0;
    const args = messages.flatMap((m) => [m.id, enc(m.payload), String(m.availableAt)]);
    return this.redis.bwEnqueue(this.anchor, this.prefix, queue, String(now), ...args);
  }

  async lease(queue: string, max: number, now: number, leaseMs: number): Promise<LeasedMessage[]> {
    const r = await this.redis.bwLease(this.anchor, this.prefix, queue, String(now), String(now + leaseMs), String(max), this.consumer);
    const out: LeasedMessage[] = [];
    for (let i = 0; i < r.length; i += 4) {
      const id = String(r[i]);
      const attempt = Number(r[i + 2]);
      out.push({ id, payload: dec(r[i + 1]), attempt, enqueuedAt: Number(r[i + 3]), leaseToken: leaseToken(id, attempt), leaseUntil: now + leaseMs });
    }
    return out;
  }

  private async settle(queue: string, id: string, token: string, action: string, at: number, reason = ''): Promise<boolean> {
    return (await this.redis.bwSettle(this.anchor, this.prefix, queue, id, token, action, String(at), reason)) === 1;
  }
  ack(queue: string, id: string, token: string, now: number): Promise<boolean> {
    return this.settle(queue, id, token, 'ack', now);
  }
  retryLater(queue: string, id: string, token: string, availableAt: number): Promise<boolean> {
    return this.settle(queue, id, token, 'retry', availableAt);
  }
  deadLetter(queue: string, id: string, token: string, reason: string, now: number): Promise<boolean> {
    return this.settle(queue, id, token, 'dead', now, reason);
  }

  async queueStats(queue: string, now: number): Promise<QueueStats> {
    const Q = `${this.prefix}q:${queue}:`;
    const [[, backlog], [, leased], [, dead], [, oldest]] = (await this.redis
      .multi()
      .zcard(`${Q}backlog`)
      .zcount(`${Q}leases`, `(${now}`, '+inf')
      .llen(`${Q}dead`)
      .zrange(`${Q}backlog`, 0, 0, 'WITHSCORES')
      .exec()) as [[null, number], [null, number], [null, number], [null, string[]]];
    return { backlog, leased, dead, oldestAgeMs: backlog === 0 || oldest[1] === undefined ? 0 : Math.max(0, now - Number(oldest[1])) };
  }

  async deadLetters(queue: string, limit = 100): Promise<DeadLetter[]> {
    const Q = `${this.prefix}q:${queue}:`;
    const ids = await this.redis.lrange(`${Q}dead`, 0, -1);
    const rows = await Promise.all(
      ids.map(async (id) => {
        const [payload, m] = await Promise.all([this.redis.hget(`${Q}payload`, id), this.redis.hgetall(`${Q}m:${id}`)]);
        return { seq: Number(m.seq), letter: { id, payload: dec(payload), attempts: Number(m.attempts), reason: m.reason ?? '', at: Number(m.done_at) } };
      }),
    );
    // in enqueue order, as on the other backends
    return rows
      .sort((a, b) => a.seq - b.seq)
      .slice(0, limit)
      .map((r) => r.letter);
  }

  async outboxPending(limit: number): Promise<OutboxRow[]> {
    const r = await this.redis.zrange(`${this.prefix}outbox:pending`, 0, limit - 1, 'WITHSCORES');
    if (r.length === 0) return [];
    const ids = r.filter((_, i) => i % 2 === 0);
    const rows = await this.redis.hmget(`${this.prefix}outbox`, ...ids);
    return ids.map((id, i) => {
      const row = dec(rows[i]) as { topic: string; payload: unknown; createdAt: number };
      return { id, topic: row.topic, payload: row.payload, createdAt: row.createdAt, seq: Number(r[i * 2 + 1]) };
    });
  }

  async markSent(ids: string[]): Promise<void> {
    if (ids.length > 0) await this.redis.zrem(`${this.prefix}outbox:pending`, ...ids);
  }

  async version(entity: string): Promise<{ version: number; value: unknown } | undefined> {
    const [v, value] = await Promise.all([this.redis.hget(`${this.prefix}ver`, entity), this.redis.hget(`${this.prefix}verval`, entity)]);
    return v === null ? undefined : { version: Number(v), value: dec(value) };
  }

  async effects(collection: string): Promise<Effect[]> {
    const ids = await this.redis.lrange(`${this.prefix}effseq:${collection}`, 0, -1);
    if (ids.length === 0) return [];
    const rows = await this.redis.hmget(`${this.prefix}eff:${collection}`, ...ids);
    return ids.map((id, i) => {
      const row = dec(rows[i]) as { data: unknown; at: number };
      return { collection, id, data: row.data, at: row.at };
    });
  }

  async putQuarantine(item: QuarantineItem): Promise<void> {
    await this.redis.rpush(`${this.prefix}quarantine`, JSON.stringify(item));
  }

  async quarantined(source?: string, limit = 100): Promise<QuarantineItem[]> {
    const all = (await this.redis.lrange(`${this.prefix}quarantine`, 0, -1)).map((s) => JSON.parse(s) as QuarantineItem);
    return all.filter((q) => source === undefined || q.source === source).slice(0, limit);
  }

  async sweep(now: number, doneRetentionMs = 7 * 24 * 3_600_000): Promise<{ expiredKeys: number; doneMessages: number }> {
    const queues = await this.queueNames();
    const [expiredKeys, doneMessages] = await this.redis.bwSweep(this.anchor, this.prefix, String(now), String(now - doneRetentionMs), ...queues);
    return { expiredKeys, doneMessages };
  }

  private async queueNames(): Promise<string[]> {
    const names = new Set<string>();
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${this.prefix}q:*:done`, 'COUNT', 500);
      cursor = next;
      for (const k of keys) names.add(k.slice(this.prefix.length + 2, -':done'.length));
    } while (cursor !== '0');
    return [...names];
  }
}

guardStoreMethods(RedisStore);

/**
 * Makes a Redis store and connects it. A server that cannot be reached does not fail the start: the
 * store is returned anyway, answers STORE_UNAVAILABLE, and the client keeps reconnecting in the
 * background. Other failures (a wrong password, a non-Redis server) reject. Wrong options throw
 * CONFIG_INVALID (the returned Promise rejects).
 *
 * @example
 * ```ts
 * import { createIdempotency } from 'blastwall';
 * import { connectRedisStore } from 'blastwall/stores/redis';
 *
 * const store = await connectRedisStore(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
 * const idempotency = createIdempotency({ store, lease: '30s', ttl: '24h' });
 * // … on shutdown
 * await store.close();
 * ```
 */
export async function connectRedisStore(options: RedisStoreOptions | string): Promise<RedisStore> {
  return startStore(new RedisStore(typeof options === 'string' ? { connection: options } : options));
}

/** @deprecated since 0.2: use `connectRedisStore` (the same function; async factories are named `connectX`). */
export const redisStore = connectRedisStore;
