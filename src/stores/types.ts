/**
 * The durable store behind blastwall's integrity guards: idempotency records, the deferred queue, the
 * outbox, the ordering guard's versions, quarantine and the small effects ledger.
 *
 * Every backend (memory, SQLite, Redis, PostgreSQL) implements this one interface and passes the one
 * conformance suite (test/stores/conformance.ts). Stores never read the server's clock: every call that
 * depends on time takes `now` (whole milliseconds since the epoch, from the injected Clock), so leases
 * and expiry behave the same on every backend and under a fake clock.
 *
 * The one mechanism that makes duplicate execution impossible is {@link Unit}: everything durable a
 * handler wants to write (effects, outbox messages, versioned writes, the caller's own SQL, the
 * completed idempotency response, the consumer's "processed" mark) is committed in one atomic step,
 * fenced by the lease token of the idempotency claim or of the queue message. A handler whose lease was
 * lost (it crashed, stalled past the lease, another process took over) commits nothing.
 *
 * A store that cannot serve a call (server unreachable, file locked by another process, closed) rejects
 * with a BlastwallError of code `STORE_UNAVAILABLE`; other errors are bugs or the caller's own.
 */

export type StoreKind = 'memory' | 'sqlite' | 'redis' | 'postgres';

/** A response kept for replay: what the first execution answered. */
export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * What {@link IntegrityStore.claim} answers for an idempotency key, one of four states. Only `claimed`
 * lets the caller execute; its `token` is the fence that {@link IntegrityStore.commit} (`Unit.complete`),
 * `renew` and `release` must present.
 */
export type ClaimResult =
  /** This caller owns the key until `leaseUntil` (a fresh key, or an expired lease or record taken over). */
  | { state: 'claimed'; token: string; leaseUntil: number; takeover: boolean }
  /** Someone else is executing this key; their lease ends at `leaseUntil`. */
  | { state: 'in-flight'; leaseUntil: number }
  /** The key was used with a different request fingerprint. */
  | { state: 'mismatch' }
  /** Done before: replay `response`. */
  | { state: 'completed'; response: StoredResponse; completedAt: number };

/** The arguments of {@link IntegrityStore.claim}: which key, for which request, for how long. */
export interface ClaimInput {
  /** Scoped key (caller identity + the client's key). */
  key: string;
  /**
   * A digest of the request the key was sent with. A key that is in flight or completed answers
   * `mismatch` to a claim with another fingerprint (the client reused its key for a different request).
   */
  fingerprint: string;
  /** A fresh random token; becomes the fence for this execution if the claim succeeds. */
  token: string;
  /** The caller's clock, whole milliseconds since the epoch (stores never read their own clock). */
  now: number;
  /** Lease length in milliseconds: the claim is held until `now + leaseMs` unless renewed. */
  leaseMs: number;
  /** The incarnation claiming (see {@link IntegrityStore.register}); its next restart releases the lease. */
  owner?: Incarnation;
}

/**
 * One run of a named instance: `instance` is stable across restarts (e.g. a StatefulSet pod name) and
 * unique among live processes; `epoch` is the store-assigned fencing number of this run.
 */
export interface Incarnation {
  instance: string;
  epoch: number;
}

/**
 * A row of the effects ledger, as {@link IntegrityStore.effects} returns it: a record a handler wrote
 * with its unit (`Work.effect`). `(collection, id)` is unique: the first committed write of an id wins
 * and later writes of the same id are ignored, so a ledger row proves the effect happened exactly once.
 */
export interface Effect {
  /** The ledger the row belongs to (a name the application chooses, e.g. `payments`). */
  collection: string;
  /** Unique within `collection`. */
  id: string;
  /** What the handler recorded (stored as JSON: it must survive `JSON.stringify`). */
  data: unknown;
  /** When the unit committed: the `now` of the commit, ms since the epoch. */
  at: number;
}

/** A message to publish after the unit commits; the outbox relay sends it (at least once, in commit order). */
export interface OutboxMessage {
  /** Unique message id (also the consumer's dedupe id). */
  id: string;
  /** Where the relay publishes it; the meaning is the publisher's. */
  topic: string;
  /** The message body (stored as JSON). */
  payload: unknown;
}

/** An outbox message as stored, waiting for the relay ({@link IntegrityStore.outboxPending}). */
export interface OutboxRow extends OutboxMessage {
  /** Insertion order (store-assigned). */
  seq: number;
  /** The `now` of the commit that wrote it, ms since the epoch. */
  createdAt: number;
}

/**
 * A write guarded by a version (the ordering guard): applied only when `version` is greater than the
 * version stored for `entity`, so an event that arrives late cannot overwrite a newer state.
 */
export interface VersionedWrite {
  /** What the version counts for (one row per entity). */
  entity: string;
  /** Must be strictly greater than the stored version to apply; equal or lower is stale. */
  version: number;
  /** The state to keep with the version (stored as JSON). */
  value: unknown;
}

/** The atomic unit: all of it is committed, or none of it. */
export interface Unit {
  /** Complete an idempotency claim: fails with `lease-lost` unless `token` still holds `key`. */
  complete?: { key: string; token: string; response: StoredResponse; expiresAt: number };
  /** Fence on a leased queue message: fails with `lease-lost` unless the lease is still held. */
  message?: { queue: string; id: string; leaseToken: string };
  /** Consumer dedupe: fails with `duplicate` if `(group, id)` was processed before; marks it otherwise. */
  processed?: { group: string; id: string };
  effects?: { collection: string; id: string; data: unknown }[];
  outbox?: OutboxMessage[];
  /** Applied only where `version` is newer than the stored one; the others are reported as stale. */
  versions?: VersionedWrite[];
  /**
   * The caller's own writes in the same transaction (SQL backends only): receives the better-sqlite3
   * Database (synchronous, inside `db.transaction`) or the pg PoolClient (inside BEGIN … COMMIT).
   */
  sql?: (handle: unknown) => unknown;
  now: number;
}

/**
 * What {@link IntegrityStore.commit} answers. `ok: true`: the whole unit was written, except the versioned
 * writes listed in `stale` (an equal or newer version was already stored). `ok: false`: nothing was
 * written; `lease-lost` means the idempotency claim or queue lease named by the unit is no longer held
 * (expired and taken over, or released), `duplicate` means `Unit.processed` was already marked.
 */
export type CommitResult =
  | { ok: true; stale: VersionedWrite[] }
  | { ok: false; reason: 'lease-lost' | 'duplicate' };

/** A message for {@link IntegrityStore.enqueue}. */
export interface EnqueueMessage {
  /** Unique within the queue: a message whose id the queue already holds (waiting, done or dead) is not added again. */
  id: string;
  /** The message body (stored as JSON). */
  payload: unknown;
  /** Not delivered before this time (ms since epoch). */
  availableAt: number;
}

/**
 * A message delivered by {@link IntegrityStore.lease}. The consumer holds it until `leaseUntil`; after
 * that it is delivered again (with a higher `attempt`) and this delivery's `leaseToken` stops working.
 */
export interface LeasedMessage {
  /** The id it was enqueued with. */
  id: string;
  /** The body it was enqueued with (a copy, decoded from JSON). */
  payload: unknown;
  /** 1 on the first delivery. */
  attempt: number;
  /** When it was enqueued, ms since the epoch. */
  enqueuedAt: number;
  /**
   * The fence of this delivery: `ack`, `retryLater`, `deadLetter` and `Unit.message` succeed only with
   * the token of the latest delivery, while its lease is held.
   */
  leaseToken: string;
  /** End of the lease, ms since the epoch (`now + leaseMs` of the lease call). */
  leaseUntil: number;
}

/** A message that was given up on ({@link IntegrityStore.deadLetter}), as {@link IntegrityStore.deadLetters} lists it. */
export interface DeadLetter {
  /** The id it was enqueued with. */
  id: string;
  /** The body it was enqueued with. */
  payload: unknown;
  /** How many deliveries it had. */
  attempts: number;
  /** The reason given to `deadLetter` (e.g. the handler's last error). */
  reason: string;
  /** When it was dead-lettered, ms since the epoch. */
  at: number;
}

/** A queue's depth and age, from {@link IntegrityStore.queueStats}; the figures behind the queue metrics. */
export interface QueueStats {
  /** Messages waiting or leased (not done, not dead). */
  backlog: number;
  /** Messages whose lease has not expired at the `now` asked about (part of `backlog`). */
  leased: number;
  /** Dead-lettered messages (kept until read; `sweep` removes done messages only). */
  dead: number;
  /** Age of the oldest message in the backlog (0 when empty). */
  oldestAgeMs: number;
}

/** A payload that failed validation, kept for inspection (see the `Quarantine` guard). */
export interface QuarantineItem {
  /** Where it came from (the name the caller gave, e.g. a topic or endpoint); the filter of `quarantined`. */
  source: string;
  /** Why it was rejected (the check's answer). */
  reason: string;
  /** The payload as text (JSON for a non-string payload). */
  payload: string;
  /** When it was quarantined, ms since the epoch. */
  at: number;
}

/**
 * The durable store behind the integrity guards (idempotency, the deferred queue, the outbox, the
 * ordering guard, quarantine). Implemented by the memory, SQLite, Redis and PostgreSQL stores, which all
 * pass the same conformance suite. Every call that depends on time takes `now` in whole milliseconds
 * since the epoch from the caller's clock. A store that cannot serve a call rejects with a
 * `BlastwallError` of code `STORE_UNAVAILABLE` (also after `close()`).
 */
export interface IntegrityStore {
  /** Which backend this is (`memory`, `sqlite`, `redis` or `postgres`); names the health dependency `store:<kind>`. */
  readonly kind: StoreKind;

  /** Creates tables / checks the connection. Idempotent. */
  init(): Promise<void>;
  /** Cheap round trip used as the store's health probe. */
  ping(): Promise<void>;
  /**
   * Releases what the store opened (the file handle, the Redis client, the pg pool); a connection or
   * database you passed in stays open. Every later call rejects with STORE_UNAVAILABLE. Calling it
   * again is harmless.
   */
  close(): Promise<void>;

  // --- idempotency
  /**
   * Claims an idempotency key atomically (two concurrent claims of a free key: exactly one is `claimed`).
   * A fresh key, an expired completed record or an expired lease is claimed (`takeover` is true for an
   * expired lease: the earlier execution may have left nothing or may still run, fenced out). Otherwise
   * the answer is `in-flight`, `completed` (replay the stored response) or `mismatch` (same key, other
   * fingerprint).
   */
  claim(input: ClaimInput): Promise<ClaimResult>;
  /** Extends a held lease; false when the lease was lost. */
  renew(key: string, token: string, now: number, leaseMs: number): Promise<boolean>;
  /** Gives a claim back (the execution failed and left nothing behind); no-op when not held. */
  release(key: string, token: string): Promise<void>;
  /**
   * Starts a new incarnation of `instance`: its fencing epoch goes up by one (1 on first use), and every
   * idempotency key still in flight under an earlier epoch of the same instance is released at once
   * (its token is revoked, so the old execution, if it still runs, commits nothing). Keys held by other
   * instances, unowned keys and completed keys are untouched.
   */
  register(instance: string, now: number): Promise<{ epoch: number; released: number }>;

  // --- the atomic unit
  /**
   * Writes a {@link Unit} all at once or not at all. The fences are checked first (`complete`, then
   * `message`, then `processed`); when one fails nothing is written and the answer says why. Versioned
   * writes that are not newer are skipped and listed in `stale`; the rest of the unit still commits.
   * A unit with `sql` rejects with a TypeError on the memory and Redis stores, and on SQLite when `sql`
   * returns a Promise (the transaction is rolled back).
   */
  commit(unit: Unit): Promise<CommitResult>;

  // --- deferred queue (at-least-once with leases)
  /** Adds messages; a message whose id is already known (waiting, done or dead) is ignored. Returns how many were added. */
  enqueue(queue: string, messages: EnqueueMessage[], now: number): Promise<number>;
  /** Leases up to `max` available messages (due and not leased, or whose lease expired). */
  lease(queue: string, max: number, now: number, leaseMs: number): Promise<LeasedMessage[]>;
  /** Done: removes the message from the backlog. False when the lease was lost. */
  ack(queue: string, id: string, leaseToken: string, now: number): Promise<boolean>;
  /** Puts the message back, available at `availableAt`. False when the lease was lost. */
  retryLater(queue: string, id: string, leaseToken: string, availableAt: number): Promise<boolean>;
  /**
   * Gives up on a leased message: it leaves the backlog and is kept with `reason` for
   * {@link IntegrityStore.deadLetters}; it is never delivered again. False when the lease was lost.
   */
  deadLetter(queue: string, id: string, leaseToken: string, reason: string, now: number): Promise<boolean>;
  /** The backlog, live leases, dead letters and oldest-message age of `queue` as of `now` (all zero for an unknown queue). */
  queueStats(queue: string, now: number): Promise<QueueStats>;
  /** Dead-lettered messages of `queue` in the order they were enqueued, at most `limit` (default 100). */
  deadLetters(queue: string, limit?: number): Promise<DeadLetter[]>;

  // --- outbox relay side
  /** Unsent outbox rows in insertion order (never skips a row that committed late). */
  outboxPending(limit: number): Promise<OutboxRow[]>;
  /**
   * Marks outbox rows as published, so `outboxPending` no longer returns them. Unknown or already-sent
   * ids are ignored. Call it after the publish succeeded: a crash between the two publishes again (at
   * least once), which the consumer's dedupe on the message id absorbs.
   */
  markSent(ids: string[], now: number): Promise<void>;
  /**
   * Writes an outbox message through the caller's own open transaction (SQL backends): `handle` is the
   * better-sqlite3 Database inside `db.transaction(...)`, or the pg client between BEGIN and COMMIT.
   */
  enqueueOutboxWith?(handle: unknown, message: OutboxMessage, now: number): unknown;

  // --- reads
  /** The stored version and value of `entity` (the latest applied {@link VersionedWrite}), or undefined when none was written. */
  version(entity: string): Promise<{ version: number; value: unknown } | undefined>;
  /** Every effect row of `collection`, in the order they were committed (no limit: the ledger is meant for checks and tests). */
  effects(collection: string): Promise<Effect[]>;
  /** Appends a quarantined payload (no dedupe: the same payload rejected twice is kept twice). */
  putQuarantine(item: QuarantineItem): Promise<void>;
  /** Quarantined payloads in the order they were stored, only those of `source` when given, at most `limit` (default 100). */
  quarantined(source?: string, limit?: number): Promise<QuarantineItem[]>;

  /** Deletes expired idempotency records and done messages older than `doneRetentionMs`. */
  sweep(now: number, doneRetentionMs?: number): Promise<{ expiredKeys: number; doneMessages: number }>;
}
