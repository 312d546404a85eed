/**
 * The in-memory store: tests and single-process use where nothing needs to survive a restart. It is
 * also the reference model the conformance suite compares every other backend with.
 */
import type {
  ClaimInput,
  ClaimResult,
  CommitResult,
  DeadLetter,
  Effect,
  EnqueueMessage,
  Incarnation,
  IntegrityStore,
  LeasedMessage,
  OutboxMessage,
  OutboxRow,
  QuarantineItem,
  QueueStats,
  StoredResponse,
  Unit,
  VersionedWrite,
} from '../types.js';
import { leaseToken as tokenOf } from '../options.js';
import { storeClosed } from '../unavailable.js';

const leaseToken = (m: QueueMsg): string => tokenOf(m.id, m.attempts);

interface KeyRecord {
  fingerprint: string;
  state: 'in-flight' | 'completed';
  token: string;
  leaseUntil: number;
  owner?: Incarnation | undefined;
  response?: StoredResponse;
  completedAt?: number;
  expiresAt: number;
}

interface QueueMsg {
  id: string;
  payload: unknown;
  seq: number;
  enqueuedAt: number;
  availableAt: number;
  state: 'ready' | 'leased' | 'done' | 'dead';
  attempts: number;
  leaseUntil: number;
  doneAt: number;
  reason: string;
}

const clone = <T>(v: T): T => (v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T));

/**
 * The in-memory {@link IntegrityStore}: everything lives in this process's heap and is lost on exit or
 * restart, so it is meant for tests, demos and single-process use where nothing must survive. Each call
 * runs to completion before the next (no await inside), so every call, `commit` included, is atomic
 * within the process; values are copied in and out (JSON round trip), so a caller cannot change stored
 * data by mutating what it passed or got back. `Unit.sql` is not supported (`commit` rejects with a
 * TypeError). After `close()` every call rejects with STORE_UNAVAILABLE. It is the reference model the
 * conformance suite checks the other backends against.
 */
export class MemoryStore implements IntegrityStore {
  readonly kind = 'memory' as const;
  private readonly keys = new Map<string, KeyRecord>();
  private readonly queues = new Map<string, Map<string, QueueMsg>>();
  private readonly processedIds = new Set<string>();
  private readonly effectRows = new Map<string, Effect>();
  private readonly outboxRows = new Map<string, OutboxRow & { sent: boolean }>();
  private readonly versions = new Map<string, { version: number; value: unknown }>();
  private readonly quarantine: QuarantineItem[] = [];
  private readonly epochs = new Map<string, number>();
  private seq = 0;
  private closed = false;

  init(): Promise<void> {
    return Promise.resolve();
  }
  ping(): Promise<void> {
    return this.closed ? Promise.reject(storeClosed('memory')) : Promise.resolve();
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  claim(i: ClaimInput): Promise<ClaimResult> {
    if (this.closed) return Promise.reject(storeClosed('memory'));
    const r = this.keys.get(i.key);
    const fresh = (takeover: boolean): ClaimResult => {
      const leaseUntil = i.now + i.leaseMs;
      this.keys.set(i.key, { fingerprint: i.fingerprint, state: 'in-flight', token: i.token, leaseUntil, expiresAt: leaseUntil, owner: i.owner && { ...i.owner } });
      return { state: 'claimed', token: i.token, leaseUntil, takeover };
    };
    if (r === undefined) return Promise.resolve(fresh(false));
    if (r.state === 'completed') {
      if (r.expiresAt <= i.now) return Promise.resolve(fresh(false));
      if (r.fingerprint !== i.fingerprint) return Promise.resolve({ state: 'mismatch' });
      return Promise.resolve({ state: 'completed', response: clone(r.response!), completedAt: r.completedAt! });
    }
    if (r.leaseUntil <= i.now) return Promise.resolve(fresh(true));
    if (r.fingerprint !== i.fingerprint) return Promise.resolve({ state: 'mismatch' });
    return Promise.resolve({ state: 'in-flight', leaseUntil: r.leaseUntil });
  }

  renew(key: string, token: string, now: number, leaseMs: number): Promise<boolean> {
    if (this.closed) return Promise.reject(storeClosed('memory'));
    const r = this.keys.get(key);
    if (r === undefined || r.state !== 'in-flight' || r.token !== token) return Promise.resolve(false);
    r.leaseUntil = now + leaseMs;
    r.expiresAt = r.leaseUntil;
    return Promise.resolve(true);
  }

  release(key: string, token: string): Promise<void> {
    if (this.closed) return Promise.reject(storeClosed('memory'));
    const r = this.keys.get(key);
    if (r !== undefined && r.state === 'in-flight' && r.token === token) this.keys.delete(key);
    return Promise.resolve();
  }

  register(instance: string): Promise<{ epoch: number; released: number }> {
    if (this.closed) return Promise.reject(storeClosed('memory'));
    const epoch = (this.epochs.get(instance) ?? 0) + 1;
    this.epochs.set(instance, epoch);
    let released = 0;
    for (const r of this.keys.values()) {
      if (r.state !== 'in-flight' || r.owner?.instance !== instance || r.owner.epoch >= epoch) continue;
      // revoke the token: the old execution can neither renew nor commit; the next claim takes over
      Object.assign(r, { token: '', leaseUntil: 0, expiresAt: 0, owner: undefined });
      released++;
    }
    return Promise.resolve({ epoch, released });
  }

  commit(u: Unit): Promise<CommitResult> {
    if (this.closed) return Promise.reject(storeClosed('memory'));
    // checks first, then writes: nothing is applied unless everything can be
    if (u.complete !== undefined) {
      const r = this.keys.get(u.complete.key);
      if (r === undefined || r.state !== 'in-flight' || r.token !== u.complete.token) return Promise.resolve({ ok: false, reason: 'lease-lost' });
    }
    if (u.message !== undefined) {
      const m = this.queues.get(u.message.queue)?.get(u.message.id);
      if (m === undefined || m.state !== 'leased' || leaseToken(m) !== u.message.leaseToken) return Promise.resolve({ ok: false, reason: 'lease-lost' });
    }
    const pkey = u.processed === undefined ? '' : `${u.processed.group}\u0000${u.processed.id}`;
    if (u.processed !== undefined && this.processedIds.has(pkey)) return Promise.resolve({ ok: false, reason: 'duplicate' });
    if (u.sql !== undefined) return Promise.reject(new TypeError('the memory store has no SQL: Unit.sql is for the SQLite and PostgreSQL stores'));
    if (u.processed !== undefined) this.processedIds.add(pkey);
    for (const e of u.effects ?? []) {
      const k = `${e.collection}\u0000${e.id}`;
      if (!this.effectRows.has(k)) this.effectRows.set(k, { collection: e.collection, id: e.id, data: clone(e.data), at: u.now });
    }
    for (const m of u.outbox ?? []) this.addOutbox(m, u.now);
    const stale: VersionedWrite[] = [];
    for (const w of u.versions ?? []) {
      const cur = this.versions.get(w.entity);
      if (cur !== undefined && cur.version >= w.version) stale.push(w);
      else this.versions.set(w.entity, { version: w.version, value: clone(w.value) });
    }
    if (u.complete !== undefined) {
      const r = this.keys.get(u.complete.key)!;
      r.state = 'completed';
      r.response = clone(u.complete.response);
      r.completedAt = u.now;
      r.expiresAt = u.complete.expiresAt;
    }
    return Promise.resolve({ ok: true, stale });
  }

  private addOutbox(m: OutboxMessage, now: number): void {
    if (this.outboxRows.has(m.id)) return;
    this.outboxRows.set(m.id, { id: m.id, topic: m.topic, payload: clone(m.payload), seq: ++this.seq, createdAt: now, sent: false });
  }

  private queue(name: string): Map<string, QueueMsg> {
    let q = this.queues.get(name);
    if (q === undefined) this.queues.set(name, (q = new Map()));
    return q;
  }

  enqueue(queue: string, messages: EnqueueMessage[], now: number): Promise<number> {
    if (this.closed) return Promise.reject(storeClosed('memory'));
    const q = this.queue(queue);
    let added = 0;
    for (const m of messages) {
      if (q.has(m.id)) continue;
      q.set(m.id, {
        id: m.id,
        payload: clone(m.payload),
        seq: ++this.seq,
        enqueuedAt: now,
        availableAt: m.availableAt,
        state: 'ready',
        attempts: 0,
        leaseUntil: 0,
        doneAt: 0,
        reason: '',
      });
      added++;
    }
    return Promise.resolve(added);
  }

  lease(queue: string, max: number, now: number, leaseMs: number): Promise<LeasedMessage[]> {
    if (this.closed) return Promise.reject(storeClosed('memory'));
    const due = [...this.queue(queue).values()]
      .filter((m) => (m.state === 'ready' && m.availableAt <= now) || (m.state === 'leased' && m.leaseUntil <= now))
      .sort((a, b) => a.availableAt - b.availableAt || a.seq - b.seq)
      .slice(0, max);
    return Promise.resolve(
      due.map((m) => {
        m.state = 'leased';
        m.attempts++;
        m.leaseUntil = now + leaseMs;
        return { id: m.id, payload: clone(m.payload), attempt: m.attempts, enqueuedAt: m.enqueuedAt, leaseToken: leaseToken(m), leaseUntil: m.leaseUntil };
      }),
    );
  }

  private held(queue: string, id: string, token: string): QueueMsg | undefined {
    const m = this.queues.get(queue)?.get(id);
    return m !== undefined && m.state === 'leased' && leaseToken(m) === token ? m : undefined;
  }

  ack(queue: string, id: string, token: string, now: number): Promise<boolean> {
    if (this.closed) return Promise.reject(storeClosed('memory'));
    const m = this.held(queue, id, token);
    if (m === undefined) return Promise.resolve(false);
    m.state = 'done';
    m.doneAt = now;
    return Promise.resolve(true);
  }

  retryLater(queue: string, id: string, token: string, availableAt: number): Promise<boolean> {
    if (this.closed) return Promise.reject(storeClosed('memory'));
    const m = this.held(queue, id, token);
    if (m === undefined) return Promise.resolve(false);
    m.state = 'ready';
    m.availableAt = availableAt;
    return Promise.resolve(true);
  }

  deadLetter(queue: string, id: string, token: string, reason: string, now: number): Promise<boolean> {
    if (this.closed) return Promise.reject(storeClosed('memory'));
    const m = this.held(queue, id, token);
    if (m === undefined) return Promise.resolve(false);
    m.state = 'dead';
    m.reason = reason;
    m.doneAt = now;
    return Promise.resolve(true);
  }

  queueStats(queue: string, now: number): Promise<QueueStats> {
    if (this.closed) return Promise.reject(storeClosed('memory'));
    let backlog = 0;
    let leased = 0;
    let dead = 0;
    let oldest = Number.POSITIVE_INFINITY;
    for (const m of this.queue(queue).values()) {
      if (m.state === 'dead') dead++;
      if (m.state !== 'ready' && m.state !== 'leased') continue;
      backlog++;
      if (m.state === 'leased' && m.leaseUntil > now) leased++;
      oldest = Math.min(oldest, m.enqueuedAt);
    }
    return Promise.resolve({ backlog, leased, dead, oldestAgeMs: backlog === 0 ? 0 : Math.max(0, now - oldest) });
  }

  deadLetters(queue: string, limit = 100): Promise<DeadLetter[]> {
    if (this.closed) return Promise.reject(storeClosed('memory'));
    return Promise.resolve(
      [...this.queue(queue).values()]
        .filter((m) => m.state === 'dead')
        .sort((a, b) => a.seq - b.seq)
        .slice(0, limit)
        .map((m) => ({ id: m.id, payload: clone(m.payload), attempts: m.attempts, reason: m.reason, at: m.doneAt })),
    );
  }

  outboxPending(limit: number): Promise<OutboxRow[]> {
    if (this.closed) return Promise.reject(storeClosed('memory'));
    return Promise.resolve(
      [...this.outboxRows.values()]
        .filter((r) => !r.sent)
        .sort((a, b) => a.seq - b.seq)
        .slice(0, limit)
        .map((r) => ({ id: r.id, topic: r.topic, payload: clone(r.payload), seq: r.seq, createdAt: r.createdAt })),
    );
  }

  markSent(ids: string[]): Promise<void> {
    if (this.closed) return Promise.reject(storeClosed('memory'));
    for (const id of ids) {
      const r = this.outboxRows.get(id);
      if (r !== undefined) r.sent = true;
    }
    return Promise.resolve();
  }

  version(entity: string): Promise<{ version: number; value: unknown } | undefined> {
    if (this.closed) return Promise.reject(storeClosed('memory'));
    const v = this.versions.get(entity);
    return Promise.resolve(v === undefined ? undefined : { version: v.version, value: clone(v.value) });
  }

  effects(collection: string): Promise<Effect[]> {
    if (this.closed) return Promise.reject(storeClosed('memory'));
    return Promise.resolve(
      [...this.effectRows.values()].filter((e) => e.collection === collection).map((e) => ({ ...e, data: clone(e.data) })),
    );
  }

  putQuarantine(item: QuarantineItem): Promise<void> {
    if (this.closed) return Promise.reject(storeClosed('memory'));
    this.quarantine.push({ ...item });
    return Promise.resolve();
  }

  quarantined(source?: string, limit = 100): Promise<QuarantineItem[]> {
    if (this.closed) return Promise.reject(storeClosed('memory'));
    return Promise.resolve(this.quarantine.filter((q) => source === undefined || q.source === source).slice(0, limit).map((q) => ({ ...q })));
  }

  sweep(now: number, doneRetentionMs = 7 * 24 * 3_600_000): Promise<{ expiredKeys: number; doneMessages: number }> {
    if (this.closed) return Promise.reject(storeClosed('memory'));
    let expiredKeys = 0;
    let doneMessages = 0;
    for (const [k, r] of this.keys) {
      if (r.expiresAt <= now) {
        this.keys.delete(k);
        expiredKeys++;
      }
    }
    for (const q of this.queues.values()) {
      for (const [id, m] of q) {
        if (m.state === 'done' && m.doneAt + doneRetentionMs <= now) {
          q.delete(id);
          doneMessages++;
        }
      }
    }
    return Promise.resolve({ expiredKeys, doneMessages });
  }
}


/**
 * Creates an in-memory store (tests and single-process demos: nothing survives a restart).
 *
 * @example
 * ```ts
 * import { createIdempotency } from 'blastwall';
 * import { createMemoryStore } from 'blastwall/stores/memory';
 *
 * const store = createMemoryStore();
 * const idempotency = createIdempotency({ store });
 * const first = await idempotency.execute({ key: 'order-42' }, () => ({ charged: 100 }));
 * const again = await idempotency.execute({ key: 'order-42' }, () => ({ charged: 100 }));
 * console.log(first.replayed, again.replayed); // false true
 * ```
 */
export function createMemoryStore(): MemoryStore {
  return new MemoryStore();
}

/** @deprecated since 0.2: use `createMemoryStore` (the same function, named by the `createX` scheme). */
export const memoryStore = createMemoryStore;
