import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { bulkhead, circuitBreaker, pipeline, realClock, retry, timeout } from '../../src/index.js';
import { schedulerFor } from '../../src/core/scheduler.js';
import { FakeClock } from '../../src/testing/index.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function heapMB(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1024 / 1024;
}

function resources(): string[] {
  return process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'PipeWrap');
}

function fullPipeline(clock: typeof realClock | FakeClock) {
  return pipeline(
    bulkhead({ limit: 64, queue: 128, clock }),
    circuitBreaker({ clock, minimumCalls: 20, window: '30s' }),
    retry({ clock, attempts: 3, backoff: { base: '10ms', max: '100ms' }, budget: { ratio: 0.1, minPerSecond: 10 } }),
    timeout('50ms', { clock }),
  );
}

describe('no leaks', () => {
  it('1,000,000 calls through the full pipeline (real clock): no timer or handle left, heap growth < 5 MB', async () => {
    const p = fullPipeline(realClock);
    const fn = () => 1;
    const before = resources();
    const timersBefore = realClock.pendingTimers();
    // warm up, then measure
    for (let i = 0; i < 20_000; i++) await p.execute(fn);
    const heapBefore = heapMB();
    for (let i = 0; i < 1_000_000; i++) await p.execute(fn);
    const heapAfter = heapMB();
    // the shared deadline timer is unref'd once nothing is pending, and close() disarms it
    expect(schedulerFor(realClock).pending).toBe(0);
    schedulerFor(realClock).close();
    expect(realClock.pendingTimers()).toBe(timersBefore);
    expect(resources()).toEqual(before);
    expect(heapAfter - heapBefore).toBeLessThan(5);
  }, 120_000);

  it('with failures, retries, timeouts and aborts (fake clock): every timer is released', async () => {
    const clock = new FakeClock();
    const p = fullPipeline(clock);
    let n = 0;
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 2000; i++) {
      const ac = new AbortController();
      const kind = n++ % 4;
      calls.push(
        p
          .execute(
            (ctx) =>
              kind === 0
                ? 'ok'
                : kind === 1
                  ? Promise.reject(new Error('x'))
                  : new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true })),
            ac.signal,
          )
          .catch(() => undefined),
      );
      if (kind === 3) ac.abort();
      if (i % 100 === 0) await clock.advance(60);
    }
    await clock.advance(10_000);
    await Promise.all(calls);
    await clock.advance(1000);
    expect(clock.pendingTimers()).toBe(0);
  });
});
