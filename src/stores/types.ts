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

export type ClaimResult =
  /** This caller owns the key until `leaseUntil` (a fresh key, or an expired lease or record taken over). */
  | { state: 'claimed'; token: string; leaseUntil: number; takeover: boolean }
  /** Someone else is executing this key; their lease ends at `leaseUntil`. */
  | { state: 'in-flight'; leaseUntil: number }
  /** The key was used with a different request fingerprint. */
  | { state: 'mismatch' }
  /** Done before: replay `response`. */
  | { state: 'completed'; response: StoredResponse; completedAt: number };

export interface ClaimInput {
  /** Scoped key (caller identity + the client's key). */
  key: string;
  fingerprint: string;
  /** A fresh random token; becomes the fence for this execution if the claim succeeds. */
  token: string;
  now: number;
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

export interface Effect {
  collection: string;
  id: string;
  data: unknown;
  at: number;
}

export interface OutboxMessage {
  /** Unique message id (also the consumer's dedupe id). */
  id: string;
  topic: string;
  payload: unknown;
}

export interface OutboxRow extends OutboxMessage {
  /** Insertion order (store-assigned). */
  seq: number;
  createdAt: number;
}

export interface VersionedWrite {
  entity: string;
  version: number;
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

export type CommitResult =
  | { ok: true; stale: VersionedWrite[] }
  | { ok: false; reason: 'lease-lost' | 'duplicate' };

export interface EnqueueMessage {
  id: string;
  payload: unknown;
  /** Not delivered before this time (ms since epoch). */
  availableAt: number;
}

export interface LeasedMessage {
  id: string;
  payload: unknown;
  /** 1 on the first delivery. */
  attempt: number;
  enqueuedAt: number;
  leaseToken: string;
  leaseUntil: number;
}

export interface DeadLetter {
  id: string;
  payload: unknown;
  attempts: number;
  reason: string;
  at: number;
}

export interface QueueStats {
  /** Messages waiting or leased (not done, not dead). */
  backlog: number;
  leased: number;
  dead: number;
  /** Age of the oldest message in the backlog (0 when empty). */
  oldestAgeMs: number;
}

export interface QuarantineItem {
  source: string;
  reason: string;
  payload: string;
  at: number;
}

export interface IntegrityStore {
  readonly kind: StoreKind;

  /** Creates tables / checks the connection. Idempotent. */
  init(): Promise<void>;
  /** Cheap round trip used as the store's health probe. */
  ping(): Promise<void>;
  close(): Promise<void>;

  // --- idempotency
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
  deadLetter(queue: string, id: string, leaseToken: string, reason: string, now: number): Promise<boolean>;
  queueStats(queue: string, now: number): Promise<QueueStats>;
  deadLetters(queue: string, limit?: number): Promise<DeadLetter[]>;

  // --- outbox relay side
  /** Unsent outbox rows in insertion order (never skips a row that committed late). */
  outboxPending(limit: number): Promise<OutboxRow[]>;
  markSent(ids: string[], now: number): Promise<void>;
  /**
   * Writes an outbox message through the caller's own open transaction (SQL backends): `handle` is the
   * better-sqlite3 Database inside `db.transaction(...)`, or the pg client between BEGIN and COMMIT.
   */
  enqueueOutboxWith?(handle: unknown, message: OutboxMessage, now: number): unknown;

  // --- reads
  version(entity: string): Promise<{ version: number; value: unknown } | undefined>;
  effects(collection: string): Promise<Effect[]>;
  putQuarantine(item: QuarantineItem): Promise<void>;
  quarantined(source?: string, limit?: number): Promise<QuarantineItem[]>;

  /** Deletes expired idempotency records and done messages older than `doneRetentionMs`. */
  sweep(now: number, doneRetentionMs?: number): Promise<{ expiredKeys: number; doneMessages: number }>;
}
