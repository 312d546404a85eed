import { describe, expect, it } from 'vitest';
import { FakeClock, flushMicrotasks } from '../../core/fake-clock.js';
import { operationStorage, type Priority } from '../../core/operation-context.js';
import { bulkhead, type BulkheadOptions, type BulkheadPolicy } from './bulkhead.js';
import { type CallClass, currentCallClass, inBackground, priorityOption, runInBackground } from './priority-lanes.js';

function gate() {
  let open!: () => void;
  const p = new Promise<void>((r) => (open = r));
  return { p, open };
}

/** Runs `fn` as a call of class `cls`: inside an operation of that priority, or as background work. */
function inClass<T>(cls: CallClass, fn: () => T): T {
  if (cls === 'background') return runInBackground(fn);
  return operationStorage.run(
    { operation: 'op', priority: cls as Priority, deadline: Number.POSITIVE_INFINITY, idempotencyKey: undefined, edges: new Set(), degraded: false },
    fn,
  );
}

/** A limit and helpers: `hold(cls, tag)` starts a call that runs until released; `order` records starts. */
function harness(options: Partial<BulkheadOptions> = {}) {
  const clock = new FakeClock();
  const b: BulkheadPolicy = bulkhead({ limit: 4, queue: 100, clock, ...options });
  const order: string[] = [];
  const gates = new Map<string, () => void>();
  const results = new Map<string, Promise<string>>();
  const hold = (cls: CallClass, tag: string, signal?: AbortSignal): Promise<string> => {
    const g = gate();
    gates.set(tag, g.open);
    const p = inClass(cls, () =>
      b.execute(async () => {
        order.push(tag);
        await g.p;
        return tag;
      }, signal),
    );
    const settled = p.catch((e: { code: string }) => `${tag}:${e.code}`);
    results.set(tag, settled);
    return settled;
  };
  const done = async (...tags: string[]) => {
    for (const t of tags) gates.get(t)!();
    await flushMicrotasks();
  };
  return { clock, b, order, hold, done, results };
}

describe('call classes at a concurrency limit', () => {
  it('a call takes the class of its operation, background work is background, an operation inside background wins', () => {
    expect(currentCallClass()).toBe('critical');
    expect(inClass('sheddable', currentCallClass)).toBe('sheddable');
    expect(runInBackground(currentCallClass)).toBe('background');
    expect(inClass('sheddable-plus', () => runInBackground(currentCallClass))).toBe('background');
    expect(runInBackground(() => inClass('critical-plus', currentCallClass))).toBe('critical-plus');
    expect(runInBackground(() => inClass('critical-plus', inBackground))).toBe(false);
  });

  it('waiters are served highest class first, FIFO within a class', async () => {
    const h = harness({ limit: 2, priority: { reserved: 0 } });
    void h.hold('critical', 'run1');
    void h.hold('critical', 'run2');
    void h.hold('background', 'bg1');
    void h.hold('sheddable', 'sh1');
    void h.hold('critical', 'cr1');
    void h.hold('sheddable', 'sh2');
    void h.hold('critical-plus', 'cp1');
    await flushMicrotasks();
    expect(h.b.stats()).toMatchObject({ active: 2, queued: 5 });
    expect(h.b.waiting('sheddable')).toBe(2);
    await h.done('run1');
    expect(h.order.at(-1)).toBe('cp1');
    await h.done('run2');
    expect(h.order.at(-1)).toBe('cr1');
    await h.done('cp1');
    expect(h.order.at(-1)).toBe('sh1');
    await h.done('cr1');
    expect(h.order.at(-1)).toBe('sh2');
    await h.done('sh1', 'sh2');
    expect(h.order).toEqual(['run1', 'run2', 'cp1', 'cr1', 'sh1', 'sh2', 'bg1']);
    await h.done('bg1');
    expect(h.b.stats()).toMatchObject({ active: 0, queued: 0, backgroundActive: 0 });
  });

  it('keeps reserved slots for critical classes: other calls wait while a critical call still starts', async () => {
    const h = harness({ limit: 5, priority: { reserved: 0.4 } });
    expect(h.b.stats().reserved).toBe(2);
    for (let i = 0; i < 4; i++) void h.hold('sheddable', `sh${i}`);
    await flushMicrotasks();
    expect(h.b.stats()).toMatchObject({ active: 3, queued: 1 });
    void h.hold('critical', 'cr1');
    void h.hold('critical-plus', 'cp1');
    void h.hold('critical', 'cr2');
    await flushMicrotasks();
    expect(h.order).toEqual(['sh0', 'sh1', 'sh2', 'cr1', 'cp1']);
    expect(h.b.waiting('critical')).toBe(1);
    // a critical call ends: the critical waiter gets the slot, not the older sheddable one
    await h.done('cr1');
    expect(h.order.at(-1)).toBe('cr2');
    await h.done('sh0');
    expect(h.order.at(-1)).toBe('cr2'); // 4 still run: sh3 may not take a reserved slot
    await h.done('cp1');
    expect(h.order.at(-1)).toBe('cr2'); // sh1, sh2 and cr2 run: 3 = 5 − 2 reserved
    await h.done('sh1');
    expect(h.order.at(-1)).toBe('sh3');
  });

  it('by default 20% of the limit is reserved (at least 1 from a limit of 2), none under a limit of 1', () => {
    expect(bulkhead({ limit: 1 }).stats().reserved).toBe(0);
    expect(bulkhead({ limit: 2 }).stats().reserved).toBe(1);
    expect(bulkhead({ limit: 8 }).stats().reserved).toBe(1);
    expect(bulkhead({ limit: 10 }).stats().reserved).toBe(2);
    expect(bulkhead({ limit: 10, priority: false }).stats().reserved).toBe(0);
  });

  it('a sheddable call that finds only reserved slots and no queue room is refused, naming the reservation', async () => {
    const h = harness({ limit: 2, queue: 0 });
    void h.hold('sheddable', 'sh1');
    await flushMicrotasks();
    expect(await h.hold('sheddable', 'sh2')).toBe('sh2:BULKHEAD_FULL');
    await expect(inClass('sheddable', () => h.b.execute(() => 1))).rejects.toThrow(/kept for critical calls/);
    void h.hold('critical', 'cr1');
    await flushMicrotasks();
    expect(h.order).toEqual(['sh1', 'cr1']);
  });

  it('background work uses idle slots (all but the reserved ones) when nothing else runs', async () => {
    const h = harness({ limit: 8 });
    for (let i = 0; i < 8; i++) void h.hold('background', `bg${i}`);
    await flushMicrotasks();
    expect(h.b.stats()).toMatchObject({ active: 7, backgroundActive: 7, queued: 1 });
  });

  it('under contention background holds at most its share: a finishing background call is not replaced, none is cancelled', async () => {
    // the share alone (the scavenger, which decides how much of the share background uses, is off here)
    const h = harness({ limit: 8, priority: { reserved: 0.25, background: 0.25, scavenger: false } });
    for (let i = 0; i < 8; i++) void h.hold('background', `bg${i}`);
    await flushMicrotasks();
    expect(h.b.stats()).toMatchObject({ active: 6, backgroundActive: 6, queued: 2 });
    void h.hold('sheddable', 'sh1');
    await flushMicrotasks();
    expect(h.b.waiting('sheddable')).toBe(1); // the 6 unreserved slots are taken
    await h.done('bg0');
    expect(h.order.at(-1)).toBe('sh1'); // it goes before the background waiters
    // while sh1 runs, background calls that end are not replaced until background is under 2 of 8
    for (let i = 1; i < 4; i++) await h.done(`bg${i}`);
    expect(h.b.stats()).toMatchObject({ backgroundActive: 2, queued: 2 });
    await h.done('bg4');
    expect(h.b.stats()).toMatchObject({ backgroundActive: 2, queued: 1 }); // bg6 takes bg4's place: within the share
    expect(h.order.at(-1)).toBe('bg6');
    // sh1 ends: once no other call has started for `idleAfter` (100ms), background takes the idle slots again
    await h.done('sh1');
    expect(h.b.stats()).toMatchObject({ backgroundActive: 2, queued: 1 });
    await h.clock.advance(99);
    expect(h.b.stats()).toMatchObject({ backgroundActive: 2, queued: 1 });
    await h.clock.advance(1);
    expect(h.b.stats()).toMatchObject({ backgroundActive: 3, queued: 0 });
  });

  it('with idleAfter: 0 background takes idle slots as soon as nothing else runs or waits', async () => {
    const h = harness({ limit: 4, priority: { background: 0.25, idleAfter: 0 } });
    void h.hold('critical', 'cr1');
    void h.hold('background', 'bg1');
    void h.hold('background', 'bg2');
    await flushMicrotasks();
    expect(h.b.stats()).toMatchObject({ backgroundActive: 1, queued: 1 });
    await h.done('cr1');
    expect(h.b.stats()).toMatchObject({ backgroundActive: 2, queued: 0 });
    expect(h.clock.pendingTimers()).toBe(0);
  });

  it('background: 0 keeps background work to idle times only', async () => {
    const h = harness({ limit: 4, priority: { background: 0 } });
    void h.hold('critical', 'cr1');
    void h.hold('background', 'bg1');
    await flushMicrotasks();
    expect(h.order).toEqual(['cr1']);
    await h.done('cr1');
    expect(h.order).toEqual(['cr1']);
    await h.clock.advance(100);
    expect(h.order).toEqual(['cr1', 'bg1']);
  });

  it('a full queue makes room for a higher class by refusing the newest waiter of the lowest class', async () => {
    const h = harness({ limit: 1, queue: 2 });
    void h.hold('critical', 'run');
    void h.hold('background', 'bg1');
    void h.hold('background', 'bg2');
    await flushMicrotasks();
    void h.hold('critical', 'cr1');
    await flushMicrotasks();
    expect(await h.results.get('bg2')).toBe('bg2:BULKHEAD_FULL');
    expect(await h.hold('background', 'bg3')).toBe('bg3:BULKHEAD_FULL'); // nothing lower to displace
    await h.done('run');
    expect(h.order).toEqual(['run', 'cr1']);
  });

  for (const cls of ['critical-plus', 'critical', 'sheddable-plus', 'sheddable', 'background'] as const) {
    it(`a ${cls} waiter leaves at once on abort and on its queue timeout, and the next waiter moves up`, async () => {
      const h = harness({ limit: 1, queueTimeout: '100ms', priority: { reserved: 0 } });
      void h.hold('critical-plus', 'run');
      const ac = new AbortController();
      const aborted = h.hold(cls, 'a', ac.signal);
      const timed = h.hold(cls, 't');
      await flushMicrotasks();
      expect(h.b.waiting(cls)).toBe(2);
      ac.abort();
      expect(await aborted).toBe('a:ABORTED');
      expect(h.b.waiting(cls)).toBe(1);
      await h.clock.advance(100);
      expect(await timed).toBe('t:QUEUE_TIMEOUT');
      expect(h.b.stats()).toMatchObject({ queued: 0, active: 1 });
      expect(h.clock.pendingTimers()).toBe(0);
      await h.done('run');
      expect(h.order).toEqual(['run']);
    });
  }

  it('priority: false is one FIFO queue for every class (the behaviour before call classes)', async () => {
    const h = harness({ limit: 1, priority: false });
    void h.hold('background', 'bg0');
    void h.hold('background', 'bg1');
    void h.hold('sheddable', 'sh');
    void h.hold('critical-plus', 'cp');
    await flushMicrotasks();
    expect(h.b.stats()).toMatchObject({ backgroundActive: 0, queued: 3 });
    for (const t of ['bg0', 'bg1', 'sh']) await h.done(t);
    expect(h.order).toEqual(['bg0', 'bg1', 'sh', 'cp']);
  });

  it('setLimit recomputes the reservation and admits waiters; adopt keeps in-flight calls and waiters', async () => {
    const h = harness({ limit: 2, priority: { reserved: 0.5 } });
    void h.hold('sheddable', 'sh1');
    void h.hold('sheddable', 'sh2');
    await flushMicrotasks();
    expect(h.order).toEqual(['sh1']);
    h.b.setLimit(4);
    await flushMicrotasks();
    expect(h.order).toEqual(['sh1', 'sh2']);
    h.b.adopt(bulkhead({ limit: 1, queue: 5, priority: false }));
    void h.hold('critical', 'cr');
    await flushMicrotasks();
    expect(h.b.stats()).toMatchObject({ active: 2, limit: 1, queue: 5, queued: 1, reserved: 0 });
    await h.done('sh1');
    expect(h.order).toEqual(['sh1', 'sh2']); // still 1 running, at the new limit of 1
    await h.done('sh2');
    expect(h.order).toEqual(['sh1', 'sh2', 'cr']);
  });

  it('checks its options at declaration, naming the field, the expectation and the value', () => {
    expect(() => bulkhead({ limit: 2, priority: { reserved: 1 } })).toThrow(
      'Expected `concurrency.priority.reserved` to be a ratio ≥ 0 and < 1 (the rest of the limit must stay open to other classes), got `1` (number)',
    );
    expect(() => bulkhead({ limit: 2, priority: { background: 1.5 } })).toThrow('Expected `concurrency.priority.background` to be a ratio between 0 and 1, got `1.5`');
    expect(() => bulkhead({ limit: 2, priority: { shared: 1 } as never })).toThrow('Unknown option `concurrency.priority.shared`');
    expect(() => bulkhead({ limit: 2, priority: true as never })).toThrow('Expected `concurrency.priority` to be { reserved?, background?, idleAfter?, scavenger? } or false, got `true`');
    expect(() => bulkhead({ limit: 2, priority: { idleAfter: -1 } })).toThrow('`concurrency.priority.idleAfter`');
    expect(priorityOption('p', { reserved: 0, background: 1 })).toEqual({ reserved: 0, background: 1, idleAfterMs: 100, scavenger: { target: 0.1, min: 0.25, intervalMs: 250 } });
    expect(priorityOption('p', { idleAfter: '1s', scavenger: false })).toEqual({ reserved: 0.2, background: 0.25, idleAfterMs: 1000, scavenger: false });
  });
});
