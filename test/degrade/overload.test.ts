import { describe, expect, it } from 'vitest';
import { AdmissionController, type Ticket } from '../../src/degrade/admission.js';
import { Gradient2Limit } from '../../src/policies/adaptive-concurrency/gradient2.js';
import { throttle } from '../../src/policies/throttle/index.js';
import { type BlastwallError } from '../../src/index.js';
import { FakeClock, flushMicrotasks } from '../../src/testing/index.js';

const settle = <T>(p: Promise<T>) =>
  p.then(
    (v) => ({ ok: true as const, v }),
    (e: BlastwallError) => ({ ok: false as const, code: e.code }),
  );

describe('admission control', () => {
  it('queues beyond the limit and starts waiters highest class first', async () => {
    const clock = new FakeClock();
    const a = new AdmissionController({ limit: 1, clock });
    const first = await a.admit('critical');
    const order: string[] = [];
    const waits = (['sheddable', 'critical-plus', 'sheddable-plus', 'critical'] as const).map((p) =>
      a.admit(p).then((t) => {
        order.push(p);
        t.release();
      }),
    );
    first.release();
    await Promise.all(waits);
    expect(order).toEqual(['critical-plus', 'critical', 'sheddable-plus', 'sheddable']);
    a.close();
  });

  it('CoDel: 100 ms of queueing allowed while the queue empties regularly, 5 ms once it has stood for 100 ms', async () => {
    const clock = new FakeClock();
    const a = new AdmissionController({ limit: 1, queue: 100, target: '5ms', interval: '100ms', clock });
    let t = await a.admit('sheddable');
    const w1 = settle(a.admit('sheddable'));
    await clock.advance(50); // waited 50 ms: within the 100 ms allowance of a queue that was just empty
    t.release();
    const r1 = await w1;
    expect(r1.ok).toBe(true);
    t = (r1 as { v: Ticket }).v;
    // now the queue stands: w2 waits from t=50; w3 arrives 90 ms later
    const endedAt: number[] = [];
    const w2 = settle(a.admit('sheddable')).then((r) => (endedAt.push(clock.now()), r));
    await clock.advance(90);
    const w3 = settle(a.admit('sheddable')).then((r) => (endedAt.push(clock.now()), r));
    await clock.advance(20);
    // once the queue has not been empty for 100 ms, w3 is dropped after ~5-10 ms of waiting, not 100
    expect(await w2).toEqual({ ok: false, code: 'SHED' });
    expect(await w3).toEqual({ ok: false, code: 'SHED' });
    expect(endedAt[1]! - (clock.now() - 20)).toBeLessThanOrEqual(15);
    t.release();
    a.close();
  });

  it('CoDel bounds sheddable waiters; critical waiters are refused only past their own deadline or maxWait', async () => {
    const clock = new FakeClock();
    const a = new AdmissionController({ limit: 1, queue: 100, target: '5ms', interval: '100ms', maxWait: '300ms', clock });
    const t = await a.admit('critical');
    const crit = settle(a.admit('critical'));
    const low = settle(a.admit('sheddable'));
    const tight = settle(a.admit('critical', { deadlineMs: 50 }));
    await clock.advance(120); // the queue has stood for over 100 ms: sheddable is past 5 ms
    expect(await low).toEqual({ ok: false, code: 'SHED' });
    expect(await tight).toEqual({ ok: false, code: 'DEADLINE_EXCEEDED' }); // its own deadline passed
    t.release();
    const c = await crit; // waited 120 ms: within its own allowance (maxWait 300 ms)
    expect(c.ok).toBe(true);
    const u = (c as { v: Ticket }).v;
    const late = settle(a.admit('critical'));
    await clock.advance(310);
    expect(await late).toEqual({ ok: false, code: 'DEADLINE_EXCEEDED' }); // waited past maxWait
    u.release();
    a.close();
  });

  it('a full queue makes room by shedding the newest lower-class waiter, never a higher one', async () => {
    const clock = new FakeClock();
    const a = new AdmissionController({ limit: 1, queue: 2, clock });
    const t = await a.admit('critical');
    const low = settle(a.admit('sheddable'));
    const mid = settle(a.admit('critical'));
    const high = settle(a.admit('critical-plus'));
    expect(await low).toEqual({ ok: false, code: 'SHED' });
    expect(await settle(a.admit('sheddable'))).toEqual({ ok: false, code: 'SHED' });
    t.release();
    expect((await high).ok).toBe(true);
    a.close();
    await mid;
  });

});

describe('Gradient2 adaptive limit', () => {
  it('grows while latency holds and shrinks when latency rises, within its floor and ceiling', () => {
    const g = new Gradient2Limit({ initial: 20, min: 4, max: 200 });
    for (let i = 0; i < 300; i++) g.sample(10, g.limit);
    const grown = g.limit;
    expect(grown).toBeGreaterThan(100);
    for (let i = 0; i < 200; i++) g.sample(60, g.limit);
    expect(g.limit).toBeLessThan(grown / 2);
    for (let i = 0; i < 2000; i++) g.sample(500, g.limit);
    expect(g.limit).toBeGreaterThanOrEqual(4);
    for (let i = 0; i < 5000; i++) g.sample(1, g.limit);
    expect(g.limit).toBeLessThanOrEqual(200);
  });

  it('ignores samples taken while the service was not using its limit', () => {
    const g = new Gradient2Limit({ initial: 50, min: 4, max: 200 });
    for (let i = 0; i < 100; i++) g.sample(500, 3);
    expect(g.limit).toBe(50);
  });
});

describe('client-side adaptive throttling', () => {
  it('rejects locally with probability max(0, (requests − 2·accepts) / (requests + 1))', async () => {
    const clock = new FakeClock();
    let roll = 0.99;
    const t = throttle({ clock, random: () => roll, window: '2m' });
    for (let i = 0; i < 10; i++) await t.execute(() => 'ok');
    expect(t.probability()).toBe(0);
    for (let i = 0; i < 30; i++) await t.execute(() => Promise.reject(new Error('503'))).catch(() => undefined);
    // 40 requests, 10 accepts: (40 − 20) / 41
    expect(t.probability()).toBeCloseTo(20 / 41, 10);
    roll = 0.1;
    await expect(t.execute(() => 'never')).rejects.toMatchObject({ code: 'THROTTLED', retryable: false });
    // the window forgets: after 2 minutes nothing is throttled
    await clock.advance(121_000);
    expect(t.probability()).toBe(0);
  });
});

describe('adaptive concurrency on a dependency', () => {
  it('lowers the limit when the dependency slows down and raises it again when it recovers', async () => {
    const { createWall } = await import('../../src/index.js');
    const clock = new FakeClock();
    const wall = createWall({ service: 's', clock });
    const dep = wall.dependency('db', { timeout: '5s', concurrency: { adaptive: { initial: 20, min: 2, max: 100 }, queue: 1000 } });
    let latency = 10;
    const wave = async (n: number) => {
      const calls = Array.from({ length: n }, () => dep.call(() => new Promise((r) => clock.setTimer(() => r('ok'), latency))));
      for (let i = 0; i < 50 && (await Promise.race([Promise.all(calls).then(() => true), Promise.resolve(false)])) === false; i++) await clock.advance(latency);
      await Promise.all(calls);
    };
    for (let i = 0; i < 20; i++) await wave(dep.adaptive!.limit);
    const fast = dep.adaptive!.limit;
    expect(fast).toBeGreaterThan(20);
    latency = 200;
    for (let i = 0; i < 10; i++) await wave(dep.adaptive!.limit);
    const slow = dep.adaptive!.limit;
    expect(slow).toBeLessThan(fast);
    expect(slow).toBeGreaterThanOrEqual(2);
    expect(wall.topology().dependencies[0]!.boundaries.concurrency).toMatchObject({ adaptive: true, min: 2, max: 100 });
    await wall.close();
  });
});

describe('critical reserve', () => {
  it('sheddable work leaves a share of the limit to critical work', async () => {
    const clock = new FakeClock();
    const a = new AdmissionController({ limit: 10, queue: 100, clock });
    const sheddable: Ticket[] = [];
    for (let i = 0; i < 8; i++) sheddable.push(await a.admit('sheddable'));
    // the 9th sheddable request waits: 20% of the limit is kept for the critical classes
    let ninth = false;
    const waiting = a.admit('sheddable').then((t) => {
      ninth = true;
      return t;
    });
    await flushMicrotasks();
    expect(ninth).toBe(false);
    expect(a.snapshot()).toMatchObject({ inflight: 8, queued: 1 });
    const critical = [await a.admit('critical'), await a.admit('critical-plus')];
    expect(a.snapshot().inflight).toBe(10);
    for (const t of [...critical, ...sheddable]) t.release();
    (await waiting).release();
    expect(ninth).toBe(true);
    a.close();
  });
});
