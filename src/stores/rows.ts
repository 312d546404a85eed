/**
 * What the stores share in how they keep values and read them back: payloads and responses are kept as
 * JSON text (`undefined` as `null`), and the SQL stores (SQLite, PostgreSQL) read the same columns into the
 * same records. A row's JSON columns come back as text from SQLite and already parsed from PostgreSQL
 * (`jsonb`), so each reader takes the store's `decode`; numbers go through `num` (PostgreSQL returns
 * `bigint` columns as strings).
 */
import { leaseToken } from './lease-token.js';
import type { ClaimInput, ClaimResult, DeadLetter, Effect, LeasedMessage, OutboxRow, QuarantineItem, QueueStats } from './types.js';

/** One row of a SQL store's query, by column name. */
export type Row = Record<string, unknown>;

/** How a store reads a JSON column back: parse the text (SQLite), or take it as it is (PostgreSQL `jsonb`). */
export type Decode = (column: unknown) => unknown;

/** A value as the JSON text a store keeps (`undefined` is kept as `null`). */
export const toJson = (v: unknown): string => JSON.stringify(v === undefined ? null : v);

/** JSON text a store kept, parsed back (`null` when there is none). */
export const fromJson: Decode = (s) => (typeof s === 'string' ? JSON.parse(s) : null);

/** A numeric column as a number (`null` and missing as 0). */
export const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));

/**
 * How a claim finds the key's idempotency row: `'fresh'` when the key is free (no row, or a completed
 * record past its expiry), `'takeover'` when an in-flight lease has run out, otherwise the answer as it
 * stands (`mismatch`, `completed`, `in-flight`). For the first two the store writes the claim.
 */
export function judgeClaim(r: Row | undefined, i: ClaimInput, decode: Decode): ClaimResult | 'fresh' | 'takeover' {
  if (r === undefined) return 'fresh';
  if (r.state === 'completed') {
    if (num(r.expires_at) <= i.now) return 'fresh';
    if (r.fingerprint !== i.fingerprint) return { state: 'mismatch' };
    return { state: 'completed', response: decode(r.response) as never, completedAt: num(r.completed_at) };
  }
  if (num(r.lease_until) <= i.now) return 'takeover';
  if (r.fingerprint !== i.fingerprint) return { state: 'mismatch' };
  return { state: 'in-flight', leaseUntil: num(r.lease_until) };
}

/** A queue row just leased (`id, payload, attempts, enqueued_at, lease_until`). */
export function leasedOf(r: Row, decode: Decode): LeasedMessage {
  const id = r.id as string;
  return {
    id,
    payload: decode(r.payload),
    attempt: num(r.attempts),
    enqueuedAt: num(r.enqueued_at),
    leaseToken: leaseToken(id, num(r.attempts)),
    leaseUntil: num(r.lease_until),
  };
}

/** A queue's counts (`backlog, leased, dead, oldest`: the oldest enqueue time in the backlog) at `now`. */
export function queueStatsOf(r: Row | undefined, now: number): QueueStats {
  const backlog = num(r?.backlog);
  return {
    backlog,
    leased: num(r?.leased),
    dead: num(r?.dead),
    oldestAgeMs: backlog === 0 || r?.oldest === null ? 0 : Math.max(0, now - num(r?.oldest)),
  };
}

/** A dead queue row (`id, payload, attempts, reason, done_at`). */
export function deadLetterOf(r: Row, decode: Decode): DeadLetter {
  return { id: r.id as string, payload: decode(r.payload), attempts: num(r.attempts), reason: r.reason as string, at: num(r.done_at) };
}

/** An outbox row (`seq, id, topic, payload, created_at`). */
export function outboxRowOf(r: Row, decode: Decode): OutboxRow {
  return { seq: num(r.seq), id: r.id as string, topic: r.topic as string, payload: decode(r.payload), createdAt: num(r.created_at) };
}

/** An effects-ledger row (`collection, id, data, at`). */
export function effectOf(r: Row, decode: Decode): Effect {
  return { collection: r.collection as string, id: r.id as string, data: decode(r.data), at: num(r.at) };
}

/** A quarantine row (`source, reason, payload, at`; the payload is kept as the text it was given). */
export function quarantineItemOf(r: Row): QuarantineItem {
  return { source: r.source as string, reason: r.reason as string, payload: r.payload as string, at: num(r.at) };
}
