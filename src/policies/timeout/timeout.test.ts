import { describe, expect, it } from 'vitest';
import { FakeClock, flushMicrotasks } from '../../core/fake-clock.js';
import { schedulerFor } from '../../core/scheduler.js';
import { timeout } from './index.js';

describe('timeout', () => {
  it('rejects with TIMEOUT at its deadline and aborts ctx.signal', async () => {
    const clock = new FakeClock();
    const t = timeout('100ms', { clock, name: 'db' });
    let aborted: unknown;
    const p = t.execute((ctx) => {
      ctx.signal.addEventListener('abort', () => (aborted = ctx.signal.reason));
      return new Promise(() => undefined);
    });
    const caught = p.catch((e: unknown) => e);
    await clock.advance(99);
    expect(aborted).toBeUndefined();
    await clock.advance(1);
    const err = await caught;
    expect(err).toMatchObject({ code: 'TIMEOUT', dependency: 'db' });
    expect(aborted).toBe(err);
  });

  it('fires within one scheduler tick of its deadline for calls with different start times', async () => {
    const clock = new FakeClock();
    const t = timeout('50ms', { clock });
    const firedAt: number[] = [];
    const starts: number[] = [];
    for (let i = 0; i < 5; i++) {
      starts.push(clock.now());
      void t.execute(() => new Promise(() => undefined)).catch(() => firedAt.push(clock.now()));
      await clock.advance(7);
    }
    await clock.advance(100);
    expect(firedAt.map((f, i) => f - starts[i]!)).toEqual([50, 50, 50, 50, 50]);
  });

  it('uses one shared timer for all pending calls, and none after they settle', async () => {
    const clock = new FakeClock();
    const t = timeout('1s', { clock });
    const resolvers: (() => void)[] = [];
    const calls = Array.from({ length: 100 }, () => t.execute(() => new Promise<void>((r) => resolvers.push(r))));
    await flushMicrotasks();
    expect(clock.pendingTimers()).toBe(1);
    for (const r of resolvers) r();
    await Promise.all(calls);
    await clock.advance(1000); // the idle timer fires once and disarms
    expect(clock.pendingTimers()).toBe(0);
    expect(schedulerFor(clock).armed).toBe(false);
  });

  it('allocates no AbortController when the function never reads ctx.signal', async () => {
    const clock = new FakeClock();
    const t = timeout('1s', { clock });
    const Original = globalThis.AbortController;
    let created = 0;
    globalThis.AbortController = class extends Original {
      constructor() {
        super();
        created++;
      }
    };
    try {
      for (let i = 0; i < 100; i++) await t.execute(() => i);
      expect(created).toBe(0);
      await t.execute((ctx) => ctx.signal.aborted);
      expect(created).toBe(1);
    } finally {
      globalThis.AbortController = Original;
    }
  });

  it('a call with a closer deadline is capped and fails with DEADLINE_EXCEEDED', async () => {
    const clock = new FakeClock();
    const t = timeout('1s', { clock });
    const { startCall } = await import('../../core/policy.js');
    const p = startCall(clock, (ctx) => t.run(ctx, () => new Promise(() => undefined)), () => undefined, undefined, (ctx) => {
      ctx.deadline = clock.now() + 300;
    }).catch((e: { code: string }) => [e.code, clock.now()]);
    const t0 = clock.now();
    await clock.advance(1000);
    expect(await p).toEqual(['DEADLINE_EXCEEDED', t0 + 300]);
  });

  it('a function that throws synchronously rejects, and a sync value resolves', async () => {
    const t = timeout('1s', { clock: new FakeClock() });
    await expect(
      t.execute(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    expect(await t.execute(() => 42)).toBe(42);
  });
});
