/**
 * Call classes through the wall: a dependency's concurrency limit sees the priority of the operation a
 * call runs in, and the library's own background work (deferred delivery, durable queue consumers, the
 * outbox relay, cache refreshes) as `background`. Asserted through the limit's state: background calls
 * wait or hold their share while a critical call gets a slot at once.
 */
import { describe, expect, it } from 'vitest';
import { FakeClock, flushMicrotasks } from '../../src/core/fake-clock.js';
import { BlastwallError } from '../../src/core/errors.js';
import { DurableQueue, OutboxRelay } from '../../src/integrity/queue.js';
import { currentCallClass, runInBackground } from '../../src/policies/concurrency/index.js';
import { MemoryStore } from '../../src/stores/memory/index.js';
import { createWall } from '../../src/wall/wall.js';

function gates() {
  const open: (() => void)[] = [];
  const wait = () => new Promise<void>((r) => open.push(r));
  const release = async (n = open.length) => {
    for (const o of open.splice(0, n)) o();
    await flushMicrotasks();
  };
  return { wait, release, get held() {
    return open.length;
  } };
}

function setup(limit = 4) {
  const clock = new FakeClock();
  const wall = createWall({ service: 'shop', clock });
  const db = wall.dependency('db', { timeout: false, breaker: false, concurrency: { limit, queue: 100 } });
  const checkout = wall.operation('checkout', { priority: 'critical' });
  const g = gates();
  /** A critical call from checkout that holds its slot until released; resolves once it started. */
  const critical = () => checkout.run(() => db.call(() => g.wait()));
  return { clock, wall, db, checkout, g, critical };
}

describe('priority at a dependency limit, through the wall', () => {
  it('a call takes the priority of its operation; background work and operations inside it choose the class', async () => {
    const { wall, checkout } = setup();
    const report = wall.operation('report', { priority: 'sheddable' });
    expect(await checkout.run(() => currentCallClass())).toBe('critical');
    expect(await report.run(() => currentCallClass())).toBe('sheddable');
    expect(await checkout.run(() => runInBackground(() => currentCallClass()))).toBe('background');
    expect(await runInBackground(() => report.run(() => currentCallClass()))).toBe('sheddable');
    await wall.close();
  });

  it('deferred delivery runs as background: it holds at most the unreserved slots and a critical call still starts', async () => {
    const clock = new FakeClock();
    const wall = createWall({ service: 'shop', clock });
    const mail = wall.dependency('mail', { criticality: 'deferrable', timeout: false, retry: false, breaker: false, concurrency: { limit: 4, queue: 10 }, deferred: { workers: 8 } });
    const g = gates();
    for (let i = 0; i < 6; i++) await mail.call(() => g.wait());
    await flushMicrotasks();
    expect(mail.bulkhead!.stats()).toMatchObject({ active: 3, backgroundActive: 3, reserved: 1 });
    expect(mail.bulkhead!.waiting('background')).toBe(3);
    const op = wall.operation('send-receipt', { priority: 'critical' });
    void op.run(() => mail.call(() => g.wait(), { criticality: 'core' }));
    await flushMicrotasks();
    expect(mail.bulkhead!.stats()).toMatchObject({ active: 4, backgroundActive: 3 });
    expect(mail.bulkhead!.waiting('background')).toBe(3);
    // the critical call and 3 deliveries end; the critical call started lately, so background keeps to its share (1 of 4)
    await g.release();
    expect(mail.bulkhead!.stats()).toMatchObject({ active: 1, backgroundActive: 1 });
    expect(mail.bulkhead!.waiting('background')).toBe(2);
    // 100ms (idleAfter) with no other call: background takes the idle slots again
    await clock.advance(100);
    expect(mail.bulkhead!.stats()).toMatchObject({ active: 3, backgroundActive: 3 });
    await g.release();
    expect(mail.counters.deferredDone).toBe(6);
    expect(mail.bulkhead!.stats()).toMatchObject({ active: 0, queued: 0, backgroundActive: 0 });
    await wall.close();
  });

  it('durable queue consumers run as background: they wait while a critical call gets a slot', async () => {
    const { wall, db, g, critical } = setup(4);
    const q = new DurableQueue<number>({ store: new MemoryStore(), name: 'jobs', clock: wall.clock, concurrency: 5, batch: 5 });
    for (let i = 0; i < 5; i++) await q.enqueue(i);
    const poll = q.pollOnce(() => db.call(() => g.wait()));
    await flushMicrotasks();
    expect(db.bulkhead!.stats()).toMatchObject({ active: 3, backgroundActive: 3 });
    expect(db.bulkhead!.waiting('background')).toBe(2);
    void critical();
    await flushMicrotasks();
    expect(db.bulkhead!.stats()).toMatchObject({ active: 4, backgroundActive: 3 });
    while (g.held > 0) await g.release();
    expect(await poll).toMatchObject({ processed: 5 });
    await wall.close();
  });

  it('the outbox relay publishes as background', async () => {
    const { wall, db, g } = setup(4);
    const store = new MemoryStore();
    await store.commit({ now: 0, outbox: [{ id: 'a', topic: 't', payload: 1 }] });
    const classes: string[] = [];
    const relay = new OutboxRelay({ store, clock: wall.clock, publish: () => db.call(() => (classes.push(currentCallClass()), g.wait())) });
    const sent = relay.relayOnce();
    await flushMicrotasks();
    expect(db.bulkhead!.stats()).toMatchObject({ active: 1, backgroundActive: 1 });
    await g.release();
    expect(await sent).toBe(1);
    expect(classes).toEqual(['background']);
    await wall.close();
  });

  it('a cache background refresh runs as background, the first load as the operation it serves', async () => {
    const { clock, wall, checkout } = setup();
    const prices = wall.dependency('prices', {
      criticality: 'optional',
      fallback: 0,
      timeout: false,
      breaker: false,
      concurrency: { limit: 4, queue: 10 },
      cache: { fresh: '1s', stale: '1m' },
    });
    const g = gates();
    const classes: string[] = [];
    const load = () => (classes.push(currentCallClass()), g.wait().then(() => 42));
    const first = checkout.run(() => prices.call(load, { key: 'p' }));
    await flushMicrotasks();
    await g.release();
    expect(await first).toBe(42);
    await clock.advance(2000);
    expect(await checkout.run(() => prices.call(load, { key: 'p' }))).toBe(42); // stale, refreshed in the background
    expect(prices.bulkhead!.stats()).toMatchObject({ active: 1, backgroundActive: 1 });
    await g.release();
    expect(classes).toEqual(['critical', 'background']);
    await wall.close();
  });

  it('a waiter leaves at its operation deadline, in its own class and as background work', async () => {
    const { clock, wall, db, critical } = setup(2);
    const report = wall.operation('report', { priority: 'sheddable', deadline: '100ms' });
    void critical();
    await flushMicrotasks();
    expect(db.bulkhead!.stats()).toMatchObject({ active: 1, reserved: 1 });
    const shed = report.run(() => db.call(() => 1)).catch((e: BlastwallError) => e.code);
    const bg = report.run(() => runInBackground(() => db.call(() => 1))).catch((e: BlastwallError) => e.code);
    await flushMicrotasks();
    expect(db.bulkhead!.waiting('sheddable')).toBe(1);
    expect(db.bulkhead!.waiting('background')).toBe(1);
    await clock.advance(100);
    expect([await shed, await bg]).toEqual(['DEADLINE_EXCEEDED', 'DEADLINE_EXCEEDED']);
    expect(db.bulkhead!.stats()).toMatchObject({ active: 1, queued: 0 });
    await wall.close();
  });

  it('live configuration changes the limit and the classes in place: calls in flight keep their slots', async () => {
    const { wall, db, g, critical } = setup(2);
    const limiter = db.bulkhead!;
    void critical();
    void critical();
    void critical();
    await flushMicrotasks();
    expect(limiter.stats()).toMatchObject({ active: 2, queued: 1 });
    wall.configure({ dependencies: { db: { concurrency: { limit: 4, queue: 100, priority: false } } } }, { reason: 'test', by: 'me' });
    await flushMicrotasks();
    expect(db.bulkhead).toBe(limiter);
    expect(limiter.stats()).toMatchObject({ active: 3, queued: 0, limit: 4, reserved: 0 });
    expect(limiter.priority).toBe(false);
    wall.configure({ dependencies: { db: { concurrency: { limit: 1, queue: 100 } } } }, { reason: 'test', by: 'me' });
    void critical();
    await flushMicrotasks();
    expect(limiter.stats()).toMatchObject({ active: 3, queued: 1, limit: 1 }); // nothing is stopped; the new call waits
    await g.release(3);
    expect(limiter.stats()).toMatchObject({ active: 1, queued: 0 });
    await g.release();
    expect(limiter.stats()).toMatchObject({ active: 0, queued: 0 });
    await wall.close();
  });

  it('the concurrency section checks `priority` at declaration, naming the field', async () => {
    const wall = createWall({ service: 'shop', clock: new FakeClock() });
    expect(() => wall.dependency('a', { concurrency: { limit: 4, priority: { reserved: 2 } } })).toThrow(
      'Expected `a.concurrency.priority.reserved` to be a ratio between 0 and 1, got `2` (number)',
    );
    expect(() => wall.dependency('b', { concurrency: { adaptive: true, priority: { background: -1 } } })).toThrow('`b.concurrency.priority.background`');
    const c = wall.dependency('c', { concurrency: { adaptive: { initial: 10 }, queue: 5, priority: { reserved: 0.5 } } });
    expect(c.adaptive!.bulkhead.stats()).toMatchObject({ limit: 10, reserved: 5 });
    expect(wall.dependency('d', { concurrency: { limit: 8, priority: false } }).boundaries.concurrency).toEqual({ limit: 8, queue: 0, priority: false });
    await wall.close();
  });
});
