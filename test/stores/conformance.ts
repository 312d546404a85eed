/**
 * The one conformance suite every IntegrityStore backend must pass, including a model-based test
 * (fast-check commands) that drives the backend and the in-memory model with the same random command
 * sequence and compares every answer.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/stores/memory/index.js';
import type { IntegrityStore, LeasedMessage, StoredResponse } from '../../src/stores/types.js';

export interface ConformanceTarget {
  name: string;
  /** A fresh, empty store (its own namespace). */
  make(): Promise<IntegrityStore>;
  /** Whether Unit.sql / enqueueOutboxWith are supported, and how to open a caller transaction. */
  sql?: {
    /** Runs `fn` inside the caller's own transaction on the store's database; rolls back when `rollback`. */
    inCallerTx(store: IntegrityStore, fn: (handle: unknown) => unknown, rollback: boolean): Promise<void>;
  };
  /** Skip reason (service unavailable). */
  skip?: string | undefined;
}

const resp = (body: string, status = 201): StoredResponse => ({ status, headers: { 'content-type': 'application/json' }, body });
const T0 = 1_700_000_000_000;

export function storeConformance(target: ConformanceTarget): void {
  const d = target.skip !== undefined ? describe.skip : describe;
  d(`store conformance: ${target.name}`, () => {
    const withStore = async (fn: (s: IntegrityStore) => Promise<void>): Promise<void> => {
      const s = await target.make();
      try {
        await fn(s);
      } finally {
        await s.close();
      }
    };

    it('claims a fresh key, refuses a concurrent claim, detects a different fingerprint', () =>
      withStore(async (s) => {
        const a = await s.claim({ key: 'k1', fingerprint: 'f', token: 't1', now: T0, leaseMs: 1000 });
        expect(a).toEqual({ state: 'claimed', token: 't1', leaseUntil: T0 + 1000, takeover: false });
        expect(await s.claim({ key: 'k1', fingerprint: 'f', token: 't2', now: T0 + 10, leaseMs: 1000 })).toEqual({
          state: 'in-flight',
          leaseUntil: T0 + 1000,
        });
        expect(await s.claim({ key: 'k1', fingerprint: 'other', token: 't3', now: T0 + 10, leaseMs: 1000 })).toEqual({ state: 'mismatch' });
      }));

    it('completes atomically with effects, outbox and versions, then replays', () =>
      withStore(async (s) => {
        await s.claim({ key: 'k', fingerprint: 'f', token: 't', now: T0, leaseMs: 1000 });
        const r = await s.commit({
          now: T0 + 5,
          complete: { key: 'k', token: 't', response: resp('{"ok":1}'), expiresAt: T0 + 60_000 },
          effects: [{ collection: 'payments', id: 'p1', data: { amount: 5 } }],
          outbox: [{ id: 'm1', topic: 'payment.created', payload: { id: 'p1' } }],
          versions: [{ entity: 'acct:1', version: 3, value: { balance: 5 } }],
        });
        expect(r).toEqual({ ok: true, stale: [] });
        expect(await s.claim({ key: 'k', fingerprint: 'f', token: 't2', now: T0 + 10, leaseMs: 1000 })).toEqual({
          state: 'completed',
          response: resp('{"ok":1}'),
          completedAt: T0 + 5,
        });
        expect(await s.claim({ key: 'k', fingerprint: 'g', token: 't2', now: T0 + 10, leaseMs: 1000 })).toEqual({ state: 'mismatch' });
        expect((await s.effects('payments')).map((e) => [e.id, e.data, e.at])).toEqual([['p1', { amount: 5 }, T0 + 5]]);
        expect((await s.outboxPending(10)).map((m) => [m.id, m.topic, m.payload])).toEqual([['m1', 'payment.created', { id: 'p1' }]]);
        expect(await s.version('acct:1')).toEqual({ version: 3, value: { balance: 5 } });
      }));

    it('a lost lease commits nothing; the key is taken over after the lease, not after the expiry', () =>
      withStore(async (s) => {
        await s.claim({ key: 'k', fingerprint: 'f', token: 'old', now: T0, leaseMs: 1000 });
        const t = await s.claim({ key: 'k', fingerprint: 'f', token: 'new', now: T0 + 1000, leaseMs: 1000 });
        expect(t).toMatchObject({ state: 'claimed', token: 'new', takeover: true });
        const late = await s.commit({
          now: T0 + 1001,
          complete: { key: 'k', token: 'old', response: resp('late'), expiresAt: T0 + 86_400_000 },
          effects: [{ collection: 'payments', id: 'late', data: 1 }],
          outbox: [{ id: 'late', topic: 't', payload: 1 }],
          versions: [{ entity: 'e', version: 1, value: 'late' }],
        });
        expect(late).toEqual({ ok: false, reason: 'lease-lost' });
        expect(await s.effects('payments')).toEqual([]);
        expect(await s.outboxPending(10)).toEqual([]);
        expect(await s.version('e')).toBeUndefined();
        expect(await s.renew('k', 'old', T0 + 1001, 1000)).toBe(false);
        expect(await s.renew('k', 'new', T0 + 1500, 1000)).toBe(true);
        expect(await s.claim({ key: 'k', fingerprint: 'f', token: 'x', now: T0 + 2100, leaseMs: 1000 })).toEqual({
          state: 'in-flight',
          leaseUntil: T0 + 2500,
        });
      }));

    it('release frees the key at once; release with a stale token does nothing', () =>
      withStore(async (s) => {
        await s.claim({ key: 'k', fingerprint: 'f', token: 'a', now: T0, leaseMs: 1000 });
        await s.release('k', 'zzz');
        expect((await s.claim({ key: 'k', fingerprint: 'f', token: 'b', now: T0, leaseMs: 1000 })).state).toBe('in-flight');
        await s.release('k', 'a');
        expect((await s.claim({ key: 'k', fingerprint: 'g', token: 'b', now: T0, leaseMs: 1000 })).state).toBe('claimed');
      }));

    it('completed records expire: the key is new again and sweep deletes it', () =>
      withStore(async (s) => {
        await s.claim({ key: 'k', fingerprint: 'f', token: 'a', now: T0, leaseMs: 1000 });
        await s.commit({ now: T0, complete: { key: 'k', token: 'a', response: resp('x'), expiresAt: T0 + 5000 } });
        expect((await s.claim({ key: 'k', fingerprint: 'f', token: 'b', now: T0 + 4999, leaseMs: 1000 })).state).toBe('completed');
        expect(await s.sweep(T0 + 5000)).toMatchObject({ expiredKeys: 1 });
        expect(await s.claim({ key: 'k', fingerprint: 'g', token: 'c', now: T0 + 5000, leaseMs: 1000 })).toMatchObject({
          state: 'claimed',
          takeover: false,
        });
      }));

    it('ordering guard: only newer versions apply; stale ones are reported', () =>
      withStore(async (s) => {
        expect(await s.commit({ now: T0, versions: [{ entity: 'a', version: 5, value: 'v5' }] })).toEqual({ ok: true, stale: [] });
        const r = await s.commit({
          now: T0,
          versions: [
            { entity: 'a', version: 4, value: 'v4' },
            { entity: 'a', version: 5, value: 'v5bis' },
            { entity: 'b', version: 1, value: 'b1' },
          ],
        });
        expect(r).toEqual({
          ok: true,
          stale: [
            { entity: 'a', version: 4, value: 'v4' },
            { entity: 'a', version: 5, value: 'v5bis' },
          ],
        });
        expect(await s.version('a')).toEqual({ version: 5, value: 'v5' });
        await s.commit({ now: T0, versions: [{ entity: 'a', version: 9, value: 'v9' }] });
        expect(await s.version('a')).toEqual({ version: 9, value: 'v9' });
        expect(await s.version('b')).toEqual({ version: 1, value: 'b1' });
      }));

    it('consumer dedupe: a processed id commits once', () =>
      withStore(async (s) => {
        const u = { now: T0, processed: { group: 'g', id: 'm1' }, effects: [{ collection: 'c', id: 'e1', data: 1 }] };
        expect(await s.commit(u)).toEqual({ ok: true, stale: [] });
        expect(await s.commit({ ...u, effects: [{ collection: 'c', id: 'e2', data: 2 }] })).toEqual({ ok: false, reason: 'duplicate' });
        expect((await s.effects('c')).map((e) => e.id)).toEqual(['e1']);
        expect(await s.commit({ ...u, processed: { group: 'other', id: 'm1' }, effects: [] })).toEqual({ ok: true, stale: [] });
      }));

    it('queue: dedupes ids, respects availableAt, leases in order, redelivers after the lease with a new token', () =>
      withStore(async (s) => {
        expect(
          await s.enqueue(
            'q',
            [
              { id: 'a', payload: { n: 1 }, availableAt: T0 },
              { id: 'b', payload: { n: 2 }, availableAt: T0 },
              { id: 'c', payload: { n: 3 }, availableAt: T0 + 500 },
            ],
            T0,
          ),
        ).toBe(3);
        expect(await s.enqueue('q', [{ id: 'a', payload: { n: 99 }, availableAt: T0 }], T0)).toBe(0);
        const first = await s.lease('q', 10, T0 + 1, 1000);
        expect(first.map((m) => [m.id, m.payload, m.attempt, m.leaseUntil])).toEqual([
          ['a', { n: 1 }, 1, T0 + 1001],
          ['b', { n: 2 }, 1, T0 + 1001],
        ]);
        expect(await s.lease('q', 10, T0 + 100, 1000)).toEqual([]);
        expect(await s.queueStats('q', T0 + 100)).toEqual({ backlog: 3, leased: 2, dead: 0, oldestAgeMs: 100 });
        const [a, b] = first as [LeasedMessage, LeasedMessage];
        expect(await s.ack('q', 'a', a.leaseToken, T0 + 200)).toBe(true);
        expect(await s.ack('q', 'a', a.leaseToken, T0 + 200)).toBe(false);
        const again = await s.lease('q', 10, T0 + 1001, 1000);
        expect(again.map((m) => [m.id, m.attempt])).toEqual([
          ['b', 2],
          ['c', 1],
        ]);
        expect(again[0]!.leaseToken).not.toBe(b.leaseToken);
        expect(await s.ack('q', 'b', b.leaseToken, T0 + 1002)).toBe(false);
        expect(await s.retryLater('q', 'b', again[0]!.leaseToken, T0 + 5000)).toBe(true);
        expect(await s.deadLetter('q', 'c', again[1]!.leaseToken, 'poison', T0 + 1003)).toBe(true);
        expect(await s.lease('q', 10, T0 + 4999, 1000)).toEqual([]);
        const b3 = await s.lease('q', 10, T0 + 5000, 1000);
        expect(b3.map((m) => [m.id, m.attempt])).toEqual([['b', 3]]);
        expect(await s.queueStats('q', T0 + 5000)).toEqual({ backlog: 1, leased: 1, dead: 1, oldestAgeMs: 5000 });
        expect(await s.deadLetters('q')).toEqual([{ id: 'c', payload: { n: 3 }, attempts: 1, reason: 'poison', at: T0 + 1003 }]);
        expect(await s.enqueue('q', [{ id: 'c', payload: null, availableAt: T0 }], T0)).toBe(0);
        expect(await s.queueStats('other', T0)).toEqual({ backlog: 0, leased: 0, dead: 0, oldestAgeMs: 0 });
      }));

    it('a unit fenced on a queue message commits only while the lease is held', () =>
      withStore(async (s) => {
        await s.enqueue('q', [{ id: 'm', payload: 1, availableAt: T0 }], T0);
        const [m1] = await s.lease('q', 1, T0, 100);
        const [m2] = await s.lease('q', 1, T0 + 100, 100);
        expect(await s.commit({ now: T0 + 101, message: { queue: 'q', id: 'm', leaseToken: m1!.leaseToken }, effects: [{ collection: 'c', id: 'x', data: 1 }] })).toEqual({
          ok: false,
          reason: 'lease-lost',
        });
        expect(await s.commit({ now: T0 + 101, message: { queue: 'q', id: 'm', leaseToken: m2!.leaseToken }, effects: [{ collection: 'c', id: 'y', data: 1 }] })).toEqual({
          ok: true,
          stale: [],
        });
        expect((await s.effects('c')).map((e) => e.id)).toEqual(['y']);
      }));

    it('outbox: pending in insertion order until marked sent; sweep drops old done messages', () =>
      withStore(async (s) => {
        for (let i = 0; i < 5; i++) await s.commit({ now: T0 + i, outbox: [{ id: `m${i}`, topic: 't', payload: i }] });
        await s.commit({ now: T0 + 9, outbox: [{ id: 'm0', topic: 't', payload: 'dup' }] });
        expect((await s.outboxPending(3)).map((r) => r.id)).toEqual(['m0', 'm1', 'm2']);
        await s.markSent(['m1', 'm0'], T0 + 10);
        expect((await s.outboxPending(10)).map((r) => [r.id, r.payload])).toEqual([
          ['m2', 2],
          ['m3', 3],
          ['m4', 4],
        ]);
        await s.enqueue('q', [{ id: 'd', payload: 1, availableAt: T0 }], T0);
        const [d] = await s.lease('q', 1, T0, 100);
        await s.ack('q', 'd', d!.leaseToken, T0 + 1);
        expect(await s.sweep(T0 + 1000, 500)).toEqual({ expiredKeys: 0, doneMessages: 1 });
      }));

    it('quarantine keeps payloads with their reason, listable by source', () =>
      withStore(async (s) => {
        await s.putQuarantine({ source: 'payments', reason: 'amount: expected number', payload: '{"amount":"x"}', at: T0 });
        await s.putQuarantine({ source: 'orders', reason: 'bad', payload: '{}', at: T0 + 1 });
        expect(await s.quarantined('payments')).toEqual([{ source: 'payments', reason: 'amount: expected number', payload: '{"amount":"x"}', at: T0 }]);
        expect((await s.quarantined()).length).toBe(2);
      }));

    if (target.sql !== undefined) {
      const sql = target.sql;
      it('outbox inside the caller’s own transaction: a rollback sends nothing', () =>
        withStore(async (s) => {
          await sql.inCallerTx(s, (h) => s.enqueueOutboxWith!(h, { id: 'rolled', topic: 't', payload: 1 }, T0), true);
          await sql.inCallerTx(s, (h) => s.enqueueOutboxWith!(h, { id: 'kept', topic: 't', payload: 2 }, T0), false);
          expect((await s.outboxPending(10)).map((r) => r.id)).toEqual(['kept']);
        }));
    }

    if (target.sql === undefined) {
      it('refuses Unit.sql (no SQL on this backend) and writes nothing of the unit', () =>
        withStore(async (s) => {
          await expect(s.commit({ now: T0, sql: () => undefined, effects: [{ collection: 'c', id: 'x', data: 1 }] })).rejects.toThrow(/no SQL/);
          expect(await s.effects('c')).toEqual([]);
        }));
    }

    it('a restarted instance releases the leases of its previous incarnation; live instances and finished keys are untouched', () =>
      withStore(async (s) => {
        const a1 = await s.register('node-a', T0);
        expect(a1).toEqual({ epoch: 1, released: 0 });
        const b1 = await s.register('node-b', T0);
        expect(b1.epoch).toBe(1);
        const claim = (key: string, token: string, owner?: { instance: string; epoch: number }, now = T0): ReturnType<IntegrityStore['claim']> =>
          s.claim({ key, fingerprint: 'f', token, now, leaseMs: 30_000, ...(owner ? { owner } : {}) });
        await claim('held-by-a', 'ta', { instance: 'node-a', epoch: 1 });
        await claim('held-by-b', 'tb', { instance: 'node-b', epoch: 1 });
        await claim('no-owner', 'tn');
        await claim('done-by-a', 'td', { instance: 'node-a', epoch: 1 });
        expect(await s.commit({ now: T0, complete: { key: 'done-by-a', token: 'td', response: resp('done'), expiresAt: T0 + 60_000 } })).toMatchObject({ ok: true });

        // node-a crashes and starts again: its old lease is released, fenced against the old execution
        expect(await s.register('node-a', T0 + 500)).toEqual({ epoch: 2, released: 1 });
        expect(await claim('held-by-a', 'ta2', { instance: 'node-a', epoch: 2 }, T0 + 600)).toMatchObject({ state: 'claimed', token: 'ta2', takeover: true });
        expect(await s.renew('held-by-a', 'ta', T0 + 600, 30_000)).toBe(false);
        expect(
          await s.commit({ now: T0 + 600, complete: { key: 'held-by-a', token: 'ta', response: resp('zombie'), expiresAt: T0 + 60_000 }, effects: [{ collection: 'z', id: 'z', data: 1 }] }),
        ).toEqual({ ok: false, reason: 'lease-lost' });
        expect(await s.effects('z')).toEqual([]);
        // another live instance's lease, an unowned lease and a completed key are kept
        expect(await claim('held-by-b', 'x', { instance: 'node-a', epoch: 2 }, T0 + 600)).toEqual({ state: 'in-flight', leaseUntil: T0 + 30_000 });
        expect(await claim('no-owner', 'x', undefined, T0 + 600)).toEqual({ state: 'in-flight', leaseUntil: T0 + 30_000 });
        expect(await claim('done-by-a', 'x', undefined, T0 + 600)).toMatchObject({ state: 'completed', response: resp('done') });
        // the new incarnation's own lease survives until the next restart
        expect(await s.register('node-b', T0 + 700)).toEqual({ epoch: 2, released: 1 });
        expect(await s.register('node-a', T0 + 800)).toEqual({ epoch: 3, released: 1 });
        expect(await s.register('node-a', T0 + 900)).toEqual({ epoch: 4, released: 0 });
      }));

    it('a closed store answers every call with STORE_UNAVAILABLE (a BlastwallError), never a TypeError', async () => {
      const s = await target.make();
      await s.close();
      const calls: [string, () => Promise<unknown>][] = [
        ['ping', () => s.ping()],
        ['claim', () => s.claim({ key: 'k', fingerprint: 'f', token: 't', now: T0, leaseMs: 1000 })],
        ['renew', () => s.renew('k', 't', T0, 1000)],
        ['commit', () => s.commit({ now: T0, effects: [{ collection: 'c', id: 'x', data: 1 }] })],
        ['enqueue', () => s.enqueue('q', [{ id: 'a', payload: 1, availableAt: T0 }], T0)],
        ['lease', () => s.lease('q', 1, T0, 1000)],
        ['queueStats', () => s.queueStats('q', T0)],
        ['outboxPending', () => s.outboxPending(10)],
        ['version', () => s.version('e')],
        ['register', () => s.register('node', T0)],
      ];
      for (const [name, call] of calls) {
        const err = await call().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err, name).toMatchObject({ name: 'BlastwallError', code: 'STORE_UNAVAILABLE' });
      }
    });

    it('model-based (fast-check commands): the backend answers every random command like the in-memory model', async () => {
      await fc.assert(
        fc.asyncProperty(fc.commands([commandArb.map((c) => new StoreCommand(c))], { maxCommands: 60, size: 'max' }), async (cmds) => {
          const real = await target.make();
          const model: Side = { store: new MemoryStore(), tokens: new Map(), now: T0 };
          try {
            await fc.asyncModelRun(() => ({ model, real: { store: real, tokens: new Map(), now: T0 } }), cmds);
          } finally {
            await real.close();
          }
        }),
        { numRuns: 60, seed: 42 },
      );
    }, 60_000);
  });
}

type Command =
  | { op: 'claim'; key: string; fp: string; dt: number }
  | { op: 'complete'; key: string; dt: number; effect: string }
  | { op: 'release'; key: string; dt: number }
  | { op: 'renew'; key: string; dt: number }
  | { op: 'enqueue'; id: string; delay: number; dt: number }
  | { op: 'lease'; max: number; dt: number }
  | { op: 'ack'; id: string; dt: number }
  | { op: 'retry'; id: string; delay: number; dt: number }
  | { op: 'dead'; id: string; dt: number }
  | { op: 'version'; entity: string; version: number; dt: number }
  | { op: 'sweep'; dt: number };

const keyArb = fc.constantFrom('k1', 'k2', 'k3');
const idArb = fc.constantFrom('a', 'b', 'c');
const dtArb = fc.integer({ min: 0, max: 700 });
const commandArb: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ op: fc.constant('claim' as const), key: keyArb, fp: fc.constantFrom('f1', 'f2'), dt: dtArb }),
  fc.record({ op: fc.constant('complete' as const), key: keyArb, dt: dtArb, effect: fc.constantFrom('x', 'y') }),
  fc.record({ op: fc.constant('release' as const), key: keyArb, dt: dtArb }),
  fc.record({ op: fc.constant('renew' as const), key: keyArb, dt: dtArb }),
  fc.record({ op: fc.constant('enqueue' as const), id: idArb, delay: fc.integer({ min: 0, max: 800 }), dt: dtArb }),
  // every due message: the order among messages due at once is best-effort on Streams, so compare sets
  fc.record({ op: fc.constant('lease' as const), max: fc.constant(10), dt: dtArb }),
  fc.record({ op: fc.constant('ack' as const), id: idArb, dt: dtArb }),
  fc.record({ op: fc.constant('retry' as const), id: idArb, delay: fc.integer({ min: 0, max: 800 }), dt: dtArb }),
  fc.record({ op: fc.constant('dead' as const), id: idArb, dt: dtArb }),
  fc.record({ op: fc.constant('version' as const), entity: fc.constantFrom('e1', 'e2'), version: fc.integer({ min: 0, max: 6 }), dt: dtArb }),
  fc.record({ op: fc.constant('sweep' as const), dt: dtArb }),
);

/** One side of the comparison: a store, the lease tokens it handed out, and the simulated time. */
interface Side {
  store: IntegrityStore;
  tokens: Map<string, string>;
  now: number;
}

/** A fast-check command: runs the same operation on the model and the backend and compares the answers. */
class StoreCommand implements fc.AsyncCommand<Side, Side> {
  constructor(readonly c: Command) {}
  check(): boolean {
    return true;
  }
  async run(model: Side, real: Side): Promise<void> {
    model.now += this.c.dt;
    real.now += this.c.dt;
    const expected = await runCommand(model.store, this.c, model.now, model.tokens);
    const actual = await runCommand(real.store, this.c, real.now, real.tokens);
    expect(actual, JSON.stringify(this.c)).toEqual(expected);
  }
  toString(): string {
    return JSON.stringify(this.c);
  }
}

let tokenSeq = 0;
/** Runs one command; lease tokens are opaque per backend, so each side keeps its own last token per key/message. */
async function runCommand(s: IntegrityStore, c: Command, now: number, tokens: Map<string, string>): Promise<unknown> {
  const LEASE = 1000;
  switch (c.op) {
    case 'claim': {
      const token = `tok${++tokenSeq}`;
      const r = await s.claim({ key: c.key, fingerprint: c.fp, token, now, leaseMs: LEASE });
      if (r.state === 'claimed') tokens.set(`key:${c.key}`, token);
      return r.state === 'claimed' ? { state: r.state, leaseUntil: r.leaseUntil, takeover: r.takeover } : r;
    }
    case 'complete': {
      const token = tokens.get(`key:${c.key}`) ?? 'none';
      return s.commit({
        now,
        complete: { key: c.key, token, response: { status: 200, headers: {}, body: c.effect }, expiresAt: now + 3000 },
        effects: [{ collection: 'm', id: `${c.key}:${c.effect}`, data: c.effect }],
      });
    }
    case 'release':
      await s.release(c.key, tokens.get(`key:${c.key}`) ?? 'none');
      return null;
    case 'renew':
      return s.renew(c.key, tokens.get(`key:${c.key}`) ?? 'none', now, LEASE);
    case 'enqueue':
      return s.enqueue('q', [{ id: c.id, payload: { id: c.id }, availableAt: now + c.delay }], now);
    case 'lease': {
      const ms = await s.lease('q', c.max, now, LEASE);
      for (const m of ms) tokens.set(`msg:${m.id}`, m.leaseToken);
      return ms
        .map((m) => ({ id: m.id, attempt: m.attempt, payload: m.payload, enqueuedAt: m.enqueuedAt, leaseUntil: m.leaseUntil }))
        .sort((x, y) => x.id.localeCompare(y.id));
    }
    case 'ack':
      return s.ack('q', c.id, tokens.get(`msg:${c.id}`) ?? 'none', now);
    case 'retry':
      return s.retryLater('q', c.id, tokens.get(`msg:${c.id}`) ?? 'none', now + c.delay);
    case 'dead':
      return s.deadLetter('q', c.id, tokens.get(`msg:${c.id}`) ?? 'none', 'r', now);
    case 'version': {
      const r = await s.commit({ now, versions: [{ entity: c.entity, version: c.version, value: c.version }] });
      return { r, v: await s.version(c.entity) };
    }
    case 'sweep': {
      const r = await s.sweep(now, 500);
      return { r, stats: await s.queueStats('q', now), effects: (await s.effects('m')).map((e) => e.id).sort(), dead: await s.deadLetters('q') };
    }
  }
}
