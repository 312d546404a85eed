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

/** ARGV: prefix, key, fingerprint, token, now, leaseUntil, owner instance ('' for none), owner epoch. */
const CLAIM = `
local k = ARGV[1]..'idem:'..ARGV[2]
local fp, token, now, leaseUntil = ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6]
local r = redis.call('HMGET', k, 'state', 'fp', 'lease_until', 'expires_at', 'response', 'completed_at', 'owner')
local function fresh(takeover)
  if r[7] then redis.call('SREM', ARGV[1]..'owned:'..r[7], ARGV[2]) end
  redis.call('DEL', k)
  redis.call('HSET', k, 'state', 'in-flight', 'fp', fp, 'token', token, 'lease_until', leaseUntil, 'expires_at', leaseUntil)
  if ARGV[7] ~= '' then
    redis.call('HSET', k, 'owner', ARGV[7], 'oepoch', ARGV[8])
    redis.call('SADD', ARGV[1]..'owned:'..ARGV[7], ARGV[2])
  end
  redis.call('ZADD', ARGV[1]..'idem-exp', leaseUntil, ARGV[2])
  return {'claimed', takeover}
end
if not r[1] then return fresh('0') end
if r[1] == 'completed' then
  if tonumber(r[4]) <= now then return fresh('0') end
  if r[2] ~= fp then return {'mismatch'} end
  return {'completed', r[5], r[6]}
end
if tonumber(r[3]) <= now then return fresh('1') end
if r[2] ~= fp then return {'mismatch'} end
return {'in-flight', r[3]}
`;

const RENEW = `
local k = ARGV[1]..'idem:'..ARGV[2]
local r = redis.call('HMGET', k, 'state', 'token')
if r[1] ~= 'in-flight' or r[2] ~= ARGV[3] then return 0 end
redis.call('HSET', k, 'lease_until', ARGV[4], 'expires_at', ARGV[4])
redis.call('ZADD', ARGV[1]..'idem-exp', ARGV[4], ARGV[2])
return 1
`;

const RELEASE = `
local k = ARGV[1]..'idem:'..ARGV[2]
local r = redis.call('HMGET', k, 'state', 'token', 'owner')
if r[1] == 'in-flight' and r[2] == ARGV[3] then
  if r[3] then redis.call('SREM', ARGV[1]..'owned:'..r[3], ARGV[2]) end
  redis.call('DEL', k)
  redis.call('ZREM', ARGV[1]..'idem-exp', ARGV[2])
end
return 1
`;

/**
 * ARGV: prefix, instance. A new epoch for the instance; its keys still in flight under an older epoch are
 * released (token revoked, lease over). The instance's set of owned keys is emptied (completion, release
 * and takeover remove keys from it as they happen).
 */
const REGISTER = `
local P, inst = ARGV[1], ARGV[2]
local epoch = redis.call('HINCRBY', P..'instances', inst, 1)
local owned = P..'owned:'..inst
local released = 0
for _, key in ipairs(redis.call('SMEMBERS', owned)) do
  local k = P..'idem:'..key
  local r = redis.call('HMGET', k, 'state', 'owner', 'oepoch')
  if r[1] == 'in-flight' and r[2] == inst and tonumber(r[3]) < epoch then
    redis.call('HSET', k, 'token', '', 'lease_until', 0, 'expires_at', 0)
    redis.call('HDEL', k, 'owner', 'oepoch')
    redis.call('ZADD', P..'idem-exp', 0, key)
    released = released + 1
  end
end
redis.call('DEL', owned)
return {epoch, released}
`;

/** ARGV: prefix, unit JSON (payloads pre-encoded as strings, numbers as strings). Lease tokens are `id#attempts` (see leaseToken). */
const COMMIT = `
local P = ARGV[1]
local u = cjson.decode(ARGV[2])
if u.complete then
  local r = redis.call('HMGET', P..'idem:'..u.complete.key, 'state', 'token')
  if r[1] ~= 'in-flight' or r[2] ~= u.complete.token then return 'lease-lost' end
end
if u.message then
  local Q = P..'q:'..u.message.queue..':'
  local r = redis.call('HMGET', Q..'m:'..u.message.id, 'state', 'attempts')
  if r[1] ~= 'leased' or (u.message.id..'#'..r[2]) ~= u.message.leaseToken then return 'lease-lost' end
end
if u.processed then
  if redis.call('SADD', P..'proc:'..u.processed.group, u.processed.id) == 0 then return 'duplicate' end
end
for _, e in ipairs(u.effects) do
  if redis.call('HSETNX', P..'eff:'..e.collection, e.id, e.row) == 1 then redis.call('RPUSH', P..'effseq:'..e.collection, e.id) end
end
for _, m in ipairs(u.outbox) do
  if redis.call('HSETNX', P..'outbox', m.id, m.row) == 1 then
    redis.call('ZADD', P..'outbox:pending', redis.call('INCR', P..'seq'), m.id)
  end
end
local stale = {}
for i, w in ipairs(u.versions) do
  local cur = redis.call('HGET', P..'ver', w.entity)
  if cur and tonumber(cur) >= tonumber(w.version) then
    table.insert(stale, i - 1)
  else
    redis.call('HSET', P..'ver', w.entity, w.version)
    redis.call('HSET', P..'verval', w.entity, w.value)
  end
end
if u.complete then
  local k = P..'idem:'..u.complete.key
  local owner = redis.call('HGET', k, 'owner')
  if owner then redis.call('SREM', P..'owned:'..owner, u.complete.key) end
  redis.call('HSET', k, 'state', 'completed', 'response', u.complete.response, 'completed_at', u.now, 'expires_at', u.complete.expiresAt)
  redis.call('ZADD', P..'idem-exp', u.complete.expiresAt, u.complete.key)
end
return cjson.encode(stale)
`;

/** ARGV: prefix, queue, now, then id, payload, availableAt triples. */
const ENQUEUE = `
local Q = ARGV[1]..'q:'..ARGV[2]..':'
local now = tonumber(ARGV[3])
pcall(redis.call, 'XGROUP', 'CREATE', Q..'stream', 'workers', '$', 'MKSTREAM')
local added = 0
for i = 4, #ARGV, 3 do
  local id, payload, avail = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if redis.call('HSETNX', Q..'payload', id, payload) == 1 then
    local seq = redis.call('INCR', Q..'seq')
    redis.call('HSET', Q..'m:'..id, 'state', 'ready', 'attempts', 0, 'enqueued_at', ARGV[3], 'available_at', avail, 'seq', seq)
    redis.call('ZADD', Q..'backlog', ARGV[3], id)
    if tonumber(avail) <= now then
      local entry = redis.call('XADD', Q..'stream', '*', 'id', id)
      redis.call('HSET', Q..'m:'..id, 'entry', entry)
    else
      redis.call('ZADD', Q..'delayed', avail, id)
    end
    added = added + 1
  end
end
return added
`;

/** ARGV: prefix, queue, now, leaseUntil, max, consumer. Returns flat [id, payload, attempts, enqueued_at, ...]. */
const LEASE = `
local Q = ARGV[1]..'q:'..ARGV[2]..':'
local now, leaseUntil, max, consumer = tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5]), ARGV[6]
pcall(redis.call, 'XGROUP', 'CREATE', Q..'stream', 'workers', '$', 'MKSTREAM')
-- due delayed messages become stream entries, in availability order
for _, id in ipairs(redis.call('ZRANGEBYSCORE', Q..'delayed', '-inf', now)) do
  local entry = redis.call('XADD', Q..'stream', '*', 'id', id)
  redis.call('HSET', Q..'m:'..id, 'entry', entry)
  redis.call('ZREM', Q..'delayed', id)
end
local out = {}
local function take(id)
  local attempts = redis.call('HINCRBY', Q..'m:'..id, 'attempts', 1)
  redis.call('HSET', Q..'m:'..id, 'state', 'leased', 'lease_until', leaseUntil)
  redis.call('ZADD', Q..'leases', leaseUntil, id)
  table.insert(out, id)
  table.insert(out, redis.call('HGET', Q..'payload', id))
  table.insert(out, attempts)
  table.insert(out, redis.call('HGET', Q..'m:'..id, 'enqueued_at'))
end
-- expired leases: the entry is claimed again for this consumer
for _, id in ipairs(redis.call('ZRANGEBYSCORE', Q..'leases', '-inf', now, 'LIMIT', 0, max)) do
  local entry = redis.call('HGET', Q..'m:'..id, 'entry')
  redis.call('XCLAIM', Q..'stream', 'workers', consumer, 0, entry)
  take(id)
end
local left = max - #out / 4
if left > 0 then
  local r = redis.call('XREADGROUP', 'GROUP', 'workers', consumer, 'COUNT', left, 'STREAMS', Q..'stream', '>')
  if r then
    for _, e in ipairs(r[1][2]) do take(e[2][2]) end
  end
end
return out
`;

/** ARGV: prefix, queue, id, token, action (ack|retry|dead), now/availableAt, reason. */
const SETTLE = `
local Q = ARGV[1]..'q:'..ARGV[2]..':'
local id, action = ARGV[3], ARGV[5]
local r = redis.call('HMGET', Q..'m:'..id, 'state', 'attempts', 'entry')
if r[1] ~= 'leased' or (id..'#'..r[2]) ~= ARGV[4] then return 0 end
redis.call('XACK', Q..'stream', 'workers', r[3])
redis.call('XDEL', Q..'stream', r[3])
redis.call('ZREM', Q..'leases', id)
if action == 'ack' then
  redis.call('HSET', Q..'m:'..id, 'state', 'done', 'done_at', ARGV[6])
  redis.call('ZREM', Q..'backlog', id)
  redis.call('ZADD', Q..'done', ARGV[6], id)
elseif action == 'retry' then
  redis.call('HSET', Q..'m:'..id, 'state', 'ready', 'available_at', ARGV[6])
  redis.call('ZADD', Q..'delayed', ARGV[6], id)
else
  redis.call('HSET', Q..'m:'..id, 'state', 'dead', 'done_at', ARGV[6], 'reason', ARGV[7])
  redis.call('ZREM', Q..'backlog', id)
  redis.call('RPUSH', Q..'dead', id)
end
return 1
`;

const SWEEP = `
local P, now = ARGV[1], ARGV[2]
local keys = redis.call('ZRANGEBYSCORE', P..'idem-exp', '-inf', now)
for _, k in ipairs(keys) do
  local owner = redis.call('HGET', P..'idem:'..k, 'owner')
  if owner then redis.call('SREM', P..'owned:'..owner, k) end
  redis.call('DEL', P..'idem:'..k)
end
if #keys > 0 then redis.call('ZREMRANGEBYSCORE', P..'idem-exp', '-inf', now) end
local done = 0
for i = 4, #ARGV do
  local Q = P..'q:'..ARGV[i]..':'
  local ids = redis.call('ZRANGEBYSCORE', Q..'done', '-inf', ARGV[3])
  for _, id in ipairs(ids) do
    redis.call('DEL', Q..'m:'..id)
    redis.call('HDEL', Q..'payload', id)
    done = done + 1
  end
  if #ids > 0 then redis.call('ZREMRANGEBYSCORE', Q..'done', '-inf', ARGV[3]) end
end
return {#keys, done}
`;

type Scripted = Redis & {
  bwClaim(anchor: string, ...args: string[]): Promise<string[]>;
  bwRenew(anchor: string, ...args: string[]): Promise<number>;
  bwRelease(anchor: string, ...args: string[]): Promise<number>;
  bwRegister(anchor: string, ...args: string[]): Promise<[number, number]>;
  bwCommit(anchor: string, ...args: string[]): Promise<string>;
  bwEnqueue(anchor: string, ...args: string[]): Promise<number>;
  bwLease(anchor: string, ...args: string[]): Promise<(string | number)[]>;
  bwSettle(anchor: string, ...args: string[]): Promise<number>;
  bwSweep(anchor: string, ...args: string[]): Promise<[number, number]>;
};

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
    const def = (name: string, lua: string): void => this.redis.defineCommand(name, { numberOfKeys: 1, lua });
    def('bwClaim', CLAIM);
    def('bwRenew', RENEW);
    def('bwRelease', RELEASE);
    def('bwRegister', REGISTER);
    def('bwCommit', COMMIT);
    def('bwEnqueue', ENQUEUE);
    def('bwLease', LEASE);
    def('bwSettle', SETTLE);
    def('bwSweep', SWEEP);
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
