import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/core/fake-clock.js';
import { untilTurns } from '../support/turns.js';
import { DurableDeferred, DurableQueue, OrderingGuard, OutboxRelay, Quarantine } from '../../src/integrity/queue.js';
import { watchStore } from '../../src/integrity/watch.js';
import { constant } from '../../src/policies/retry/schedule.js';
import { MemoryStore } from '../../src/stores/memory/index.js';
import { SqliteStore } from '../../src/stores/sqlite/index.js';
import type { IntegrityStore } from '../../src/stores/types.js';
import { createWall } from '../../src/wall/wall.js';

const backends: [string, () => IntegrityStore][] = [
  ['memory', () => new MemoryStore()],
  ['sqlite', () => new SqliteStore({ database: ':memory:' })],
];

describe.each(backends)('durable queue on %s', (_name, make) => {
  it('retries on the schedule, then dead-letters after maxAttempts with the last error', async () => {
    const clock = new FakeClock();
    const q = new DurableQueue<{ n: number }>({ store: make(), name: 'emails', clock, maxAttempts: 3, backoff: constant('1s'), lease: '10s' });
    await q.enqueue({ n: 1 }, { id: 'm1' });
    const attempts: number[] = [];
    const failing = ({ attempt }: { attempt: number }): void => {
      attempts.push(attempt);
      throw new Error(`smtp down (${attempt})`);
    };
    expect(await q.pollOnce(failing)).toMatchObject({ retried: 1 });
    expect(await q.pollOnce(failing)).toMatchObject({ processed: 0, retried: 0 }); // not due yet
    await clock.advance(1000);
    expect(await q.pollOnce(failing)).toMatchObject({ retried: 1 });
    await clock.advance(1000);
    expect(await q.pollOnce(failing)).toMatchObject({ dead: 1 });
    expect(attempts).toEqual([1, 2, 3]);
    expect(await q.deadLetters()).toEqual([{ id: 'm1', payload: { n: 1 }, attempts: 3, reason: 'Error: smtp down (3)', at: clock.now() }]);
    expect(await q.queueStats()).toEqual({ backlog: 0, leased: 0, dead: 1, oldestAgeMs: 0 });
  });

  it('a consumer that dies after applying and before acknowledging does not apply twice', async () => {
    const clock = new FakeClock();
    const store = make();
    const q = new DurableQueue<{ amount: number }>({ store, name: 'ledger', clock, lease: '5s' });
    await q.enqueue({ amount: 7 }, { id: 'pay-1' });
    // first consumer: applies (commits its unit with the processed mark) and dies before the ack
    const [m] = await store.lease('ledger', 1, clock.now(), 5000);
    const commit = await store.commit({
      now: clock.now(),
      message: { queue: 'ledger', id: m!.id, leaseToken: m!.leaseToken },
      processed: { group: 'ledger', id: m!.id },
      effects: [{ collection: 'ledger', id: 'pay-1', data: { amount: 7 } }],
    });
    expect(commit.ok).toBe(true);
    expect((await q.queueStats()).backlog).toBe(1);
    await clock.advance(5000);
    let ran = 0;
    const r = await q.pollOnce(() => {
      ran++;
    });
    expect(r).toMatchObject({ duplicates: 1, processed: 0 });
    expect(ran).toBe(1); // the handler may run again (at least once) but its unit does not commit
    expect(await store.effects('ledger')).toHaveLength(1);
    expect(await q.queueStats()).toMatchObject({ backlog: 0 });
  });

  it('exports backlog size and oldest-item age', async () => {
    const clock = new FakeClock();
    const q = new DurableQueue({ store: make(), name: 'q', clock });
    await q.enqueue(1);
    await clock.advance(2000);
    await q.enqueue(2);
    await clock.advance(500);
    expect(await q.queueStats()).toEqual({ backlog: 2, leased: 0, dead: 0, oldestAgeMs: 2500 });
  });

  it('start() polls in the background and stop() leaves no timer', async () => {
    const clock = new FakeClock();
    const q = new DurableQueue<number>({ store: make(), name: 'bg', clock, pollInterval: '100ms', batch: 2 });
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) await q.enqueue(i, { id: `m${i}` });
    q.start(({ payload }) => {
      seen.push(payload);
    });
    for (let i = 0; i < 5; i++) await clock.advance(100);
    await q.stop();
    expect(seen.sort()).toEqual([0, 1, 2, 3, 4]);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('the relay runs in the background until stop(), which leaves no timer', async () => {
    const clock = new FakeClock();
    const store = make();
    const seen: string[] = [];
    const relay = new OutboxRelay({ store, clock, pollInterval: '100ms', batch: 2, publish: (row) => void seen.push(row.id) });
    for (const id of ['a', 'b', 'c']) await store.commit({ now: clock.now(), outbox: [{ id, topic: 't', payload: id }] });
    relay.start();
    await clock.advance(0);
    await clock.advance(100);
    await store.commit({ now: clock.now(), outbox: [{ id: 'd', topic: 't', payload: 'd' }] });
    await clock.advance(100);
    await relay.stop();
    expect(seen).toEqual(['a', 'b', 'c', 'd']);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('outbox → relay → queue → consumer: each committed message is applied once; rolled-back units send nothing', async () => {
    const clock = new FakeClock();
    const store = make();
    const q = new DurableQueue<{ order: string }>({ store, name: 'orders', clock });
    let failNext = true;
    const relay = new OutboxRelay({
      store,
      clock,
      publish: async (row) => {
        await q.enqueue(row.payload as { order: string }, { id: row.id });
        if (failNext) {
          failNext = false;
          throw new Error('crash after publish, before mark');
        }
      },
    });
    for (const o of ['a', 'b', 'c']) await store.commit({ now: clock.now(), outbox: [{ id: `o-${o}`, topic: 'order.created', payload: { order: o } }] });
    expect(await relay.relayOnce()).toBe(0); // published a, failed to mark
    expect(await relay.relayOnce()).toBe(3); // publishes a again (deduped by id), then b and c
    const applied: string[] = [];
    await q.pollOnce(({ payload, work }) => {
      applied.push(payload.order);
      work.effect('shipments', payload.order, payload);
    });
    expect(applied.sort()).toEqual(['a', 'b', 'c']);
    expect(await store.outboxPending(10)).toEqual([]);
  });
});

describe('ordering guard', () => {
  it.each(backends)('%s: applies only newer versions, counts and reports stale ones', async (_n, make) => {
    const stale: number[] = [];
    const guard = new OrderingGuard({ store: make(), clock: new FakeClock(), onStale: (w) => stale.push(w.version) });
    let computed = 0;
    const write = (v: string) => () => {
      computed++;
      return v;
    };
    expect(await guard.apply('acct:1', 2, write('v2'))).toEqual({ applied: true, version: 2 });
    expect(await guard.apply('acct:1', 1, write('v1'))).toEqual({ applied: false, version: 2 });
    expect(await guard.apply('acct:1', 2, write('v2 again'))).toEqual({ applied: false, version: 2 });
    expect(await guard.apply('acct:1', 5, 'v5')).toEqual({ applied: true, version: 5 });
    expect(await guard.current('acct:1')).toEqual({ version: 5, value: 'v5' });
    expect(computed).toBe(1);
    expect(stale).toEqual([1, 2]);
    expect(guard.stats).toEqual({ applied: 2, stale: 2 });
    await expect(guard.apply('', 1, 'x')).rejects.toThrow(/Expected `entity` to be a non-empty string/);
    await expect(guard.apply('e', Number.NaN, 'x')).rejects.toThrow(/Expected `version` to be a finite number/);
  });
});

describe('quarantine', () => {
  it('stores rejected payloads with their reason; they never reach the business write', async () => {
    const store = new MemoryStore();
    const q = new Quarantine({ store, clock: new FakeClock() });
    const check = (p: unknown): string | undefined =>
      typeof (p as { amount?: unknown }).amount === 'number' ? undefined : 'amount: expected a number';
    const writes: unknown[] = [];
    for (const p of [{ amount: 5 }, { amount: 'five' }]) if (await q.admit('payments', p, check)) writes.push(p);
    expect(writes).toEqual([{ amount: 5 }]);
    expect(await q.list('payments')).toMatchObject([{ source: 'payments', reason: 'amount: expected a number', payload: '{"amount":"five"}' }]);
    expect(q.stats).toEqual({ accepted: 1, quarantined: 1 });
  });
});

describe('watchStore', () => {
  it('makes the store a core dependency: failures open its breaker and show in health; it recovers', async () => {
    const clock = new FakeClock();
    const wall = createWall({ service: 't', clock });
    const store = new MemoryStore();
    const watched = watchStore(wall, store, { halfOpenAfter: '1s' });
    const ping = store.ping.bind(store);
    store.ping = () => Promise.reject(new Error('ECONNREFUSED'));
    for (let i = 0; i < 5; i++) await expect(watched.ping()).rejects.toMatchObject({ code: 'DEPENDENCY_FAILED' });
    await expect(watched.ping()).rejects.toMatchObject({ code: 'CIRCUIT_OPEN' });
    expect(wall.health().dependencies['store:memory']).toMatchObject({ state: 'unavailable', breaker: 'open', criticality: 'core' });
    store.ping = ping;
    await clock.advance(1000);
    await watched.ping();
    await watched.ping();
    expect(wall.health().dependencies['store:memory']?.breaker).toBe('closed');
    await wall.close();
  });

  it('createWall({ store }) watches the store as a dependency, exposes it as wall.store and closes it', async () => {
    const store = new MemoryStore();
    const wall = createWall({ service: 't', clock: new FakeClock(), store });
    const q = new DurableQueue({ store: wall.store!, name: 'q', clock: new FakeClock() });
    await q.enqueue(1, { id: 'x' });
    expect(wall.health().dependencies['store:memory']).toMatchObject({ criticality: 'core', breaker: 'closed' });
    expect(wall.health().dependencies['store:memory']?.signals.calls).toBeGreaterThanOrEqual(1);
    await wall.close();
    await expect(store.ping()).rejects.toThrow(/closed/);
    expect(() => createWall({ service: 't', store: { kind: 'x' } as never })).toThrow(/Expected `store` to be an IntegrityStore/);
  });

  it('validates queue options with the field name', () => {
    expect(() => new DurableQueue({ store: new MemoryStore(), name: 'bad name!' })).toThrow(/Expected `name`/);
    expect(() => new DurableQueue({ store: new MemoryStore(), name: 'q', maxAttempts: 0 })).toThrow(/Expected `maxAttempts`/);
    expect(() => new DurableQueue({ store: null as never, name: 'q' })).toThrow(/Expected `store`/);
    expect(() => new OutboxRelay({ store: new MemoryStore(), publish: 'x' as never })).toThrow(/Expected `publish`/);
  });
});

describe('durable deferral for a deferrable dependency', () => {
  it('send() only stores; delivery goes through the dependency boundaries; backlog joins its health signals', async () => {
    const clock = new FakeClock();
    const wall = createWall({ service: 't', clock });
    const email = wall.dependency('email', { criticality: 'deferrable', timeout: '1s', retry: false });
    let up = false;
    const sent: string[] = [];
    const deferred = new DurableDeferred<{ to: string }>(email, {
      store: new SqliteStore({ database: ':memory:' }),
      clock,
      backoff: constant('1s'),
      maxAttempts: 3,
      handler: ({ to }) => {
        if (!up) throw new Error('smtp unreachable');
        sent.push(to);
      },
    });
    await deferred.send({ to: 'a@example.com' }, { id: 'welcome-a' });
    await deferred.send({ to: 'b@example.com' }, { id: 'welcome-b' });
    await deferred.send({ to: 'a@example.com' }, { id: 'welcome-a' }); // same id: stored once
    expect(await deferred.pollOnce()).toMatchObject({ retried: 2 });
    expect(email.counters.calls).toBeGreaterThanOrEqual(2);
    await clock.advance(500);
    expect(wall.health().dependencies.email?.signals).toMatchObject({ backlog: 2, oldestDeferredAgeMs: 500 });
    up = true;
    await clock.advance(500);
    expect(await deferred.pollOnce()).toMatchObject({ processed: 2 });
    expect(sent.sort()).toEqual(['a@example.com', 'b@example.com']);
    expect(wall.health().dependencies.email?.signals).toMatchObject({ backlog: 0 });
    await deferred.stop();
    await wall.close();
  });

  it('while the dependency is down, the backlog reading follows what is sent and what fails to deliver (no successful delivery needed)', async () => {
    const clock = new FakeClock();
    const wall = createWall({ service: 't', clock });
    const email = wall.dependency('email', { criticality: 'deferrable', timeout: '1s', retry: false });
    const store = new SqliteStore({ database: ':memory:' });
    const deferred = new DurableDeferred<{ to: string }>(email, {
      store,
      clock,
      backoff: constant('1s'),
      maxAttempts: 100,
      pollInterval: '100ms',
      handler: () => {
        throw new Error('smtp unreachable');
      },
    });
    const backlog = (): unknown => wall.health().dependencies.email?.signals.backlog;
    for (const to of ['a', 'b', 'c']) await deferred.send({ to }, { id: `welcome-${to}` });
    await untilTurns(() => backlog() === 3, 'the backlog reading after three sends');
    deferred.start();
    await clock.advance(2500); // deliveries keep failing; each failure refreshes the reading
    const signals = wall.health().dependencies.email?.signals;
    expect(signals).toMatchObject({ backlog: 3 });
    expect(signals?.oldestDeferredAgeMs).toBeGreaterThanOrEqual(2000);
    expect(email.counters.calls).toBeGreaterThanOrEqual(3);
    await deferred.stop();
    await wall.close();
    await store.close();
  });
});
