/**
 * The Lua scripts of the Redis store: every call that reads and then writes is one script, so it is atomic
 * on the server. Each takes one key (the prefix's anchor, so it runs in the prefix's hash slot on Redis
 * Cluster) and its arguments as ARGV; {@link defineScripts} defines them on a client as `bwClaim`, `bwRenew`,
 * and so on.
 */
import type { Redis } from 'ioredis';

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

/** An ioredis client with the store's scripts defined on it (see {@link defineScripts}). */
export type Scripted = Redis & {
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

/** Defines every script on `redis` (once per client) and returns it, typed with the script commands. */
export function defineScripts(redis: Redis): Scripted {
  const def = (name: string, lua: string): void => redis.defineCommand(name, { numberOfKeys: 1, lua });
  def('bwClaim', CLAIM);
  def('bwRenew', RENEW);
  def('bwRelease', RELEASE);
  def('bwRegister', REGISTER);
  def('bwCommit', COMMIT);
  def('bwEnqueue', ENQUEUE);
  def('bwLease', LEASE);
  def('bwSettle', SETTLE);
  def('bwSweep', SWEEP);
  return redis as Scripted;
}
