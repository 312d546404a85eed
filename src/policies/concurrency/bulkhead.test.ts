import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeClock, flushMicrotasks } from '../../core/fake-clock.js';
import { bulkhead } from './index.js';

function gate() {
  let open!: () => void;
  const p = new Promise<void>((r) => (open = r));
  return { p, open };
}

describe('bulkhead', () => {
  it('runs up to the limit, queues FIFO, rejects BULKHEAD_FULL beyond the queue', async () => {
    const b = bulkhead({ limit: 2, queue: 2, clock: new FakeClock() });
    const order: number[] = [];
    const gates = Array.from({ length: 4 }, gate);
    const calls = gates.map((g, i) =>
      b.execute(async () => {
        order.push(i);
        await g.p;
        return i;
      }),
    );
    await flushMicrotasks();
    expect(order).toEqual([0, 1]);
    expect(b.stats()).toMatchObject({ active: 2, queued: 2 });
    await expect(b.execute(() => 'x')).rejects.toMatchObject({ code: 'BULKHEAD_FULL' });
    gates[1]!.open();
    await flushMicrotasks();
    expect(order).toEqual([0, 1, 2]);
    gates[0]!.open();
    await flushMicrotasks();
    expect(order).toEqual([0, 1, 2, 3]);
    gates[2]!.open();
    gates[3]!.open();
    expect(await Promise.all(calls)).toEqual([0, 1, 2, 3]);
    expect(b.stats()).toMatchObject({ active: 0, queued: 0 });
  });

  it('a queued call times out with QUEUE_TIMEOUT and leaves no timer', async () => {
    const clock = new FakeClock();
    const b = bulkhead({ limit: 1, queue: 5, queueTimeout: '200ms', clock });
    const g = gate();
    const first = b.execute(() => g.p);
    const second = b.execute(() => 'late');
    const caught = second.catch((e: { code: string }) => e.code);
    await clock.advance(200);
    expect(await caught).toBe('QUEUE_TIMEOUT');
    expect(clock.pendingTimers()).toBe(0);
    g.open();
    await first;
  });

  it('an aborted waiter frees its place at once', async () => {
    const b = bulkhead({ limit: 1, queue: 1, clock: new FakeClock() });
    const g = gate();
    const first = b.execute(() => g.p);
    const ac = new AbortController();
    const waiting = b.execute(() => 'never', ac.signal);
    await flushMicrotasks();
    await expect(b.execute(() => 'x')).rejects.toMatchObject({ code: 'BULKHEAD_FULL' });
    ac.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'ABORTED' });
    const third = b.execute(() => 'third');
    expect(b.stats().queued).toBe(1);
    g.open();
    await first;
    expect(await third).toBe('third');
  });

  it('setLimit raises the limit and admits queued calls at once', async () => {
    const b = bulkhead({ limit: 1, queue: 3, clock: new FakeClock() });
    const g = gate();
    let started = 0;
    const calls = Array.from({ length: 3 }, () =>
      b.execute(async () => {
        started++;
        await g.p;
      }),
    );
    await flushMicrotasks();
    expect(started).toBe(1);
    b.setLimit(3);
    await flushMicrotasks();
    expect(started).toBe(3);
    g.open();
    await Promise.all(calls);
  });

  it('never exceeds its limit under random aborts and completions (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 5 }),
        fc.array(fc.constantFrom('start', 'abort', 'finish', 'tick'), { minLength: 10, maxLength: 120 }),
        async (limit, queue, script) => {
          const b = bulkhead({ limit, queue, clock: new FakeClock() });
          let running = 0;
          let peak = 0;
          const finishers: (() => void)[] = [];
          const aborters: AbortController[] = [];
          const all: Promise<unknown>[] = [];
          for (const step of script) {
            if (step === 'start') {
              const ac = new AbortController();
              aborters.push(ac);
              all.push(
                b
                  .execute(
                    () =>
                      new Promise<void>((resolve) => {
                        running++;
                        peak = Math.max(peak, running);
                        finishers.push(() => {
                          running--;
                          resolve();
                        });
                      }),
                    ac.signal,
                  )
                  .catch(() => undefined),
              );
            } else if (step === 'abort') aborters.shift()?.abort();
            else if (step === 'finish') finishers.shift()?.();
            await flushMicrotasks(3);
            if (b.stats().active > limit || b.stats().queued > queue) return false;
          }
          while (finishers.length > 0 || b.stats().active > 0) {
            finishers.shift()?.();
            await flushMicrotasks(3);
          }
          await Promise.all(all);
          return peak <= limit && b.stats().active === 0 && b.stats().queued === 0;
        },
      ),
      { numRuns: 150 },
    );
  });
});
