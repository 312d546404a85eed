import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type AttemptContext, BlastwallError, createWall, type DependencySpec, type ErrorCode } from '../../src/index.js';
import { FakeClock, flushMicrotasks } from '../../src/testing/index.js';

/** A function that never settles until its attempt is aborted. */
const hang = (ctx: AttemptContext) =>
  new Promise<string>((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true }));

interface Fault {
  name: string;
  code: ErrorCode;
  spec: Partial<DependencySpec>;
  /** Brings the dependency into the faulty condition, then makes the call that must meet it. */
  run(call: (fn: (ctx: AttemptContext) => unknown, opts?: { request?: unknown; key?: string }) => Promise<unknown>, clock: FakeClock): Promise<unknown>;
}

const faults: Fault[] = [
  {
    name: 'timeout',
    code: 'TIMEOUT',
    spec: { timeout: '100ms' },
    async run(call, clock) {
      const p = call(hang);
      await clock.advance(100);
      return p;
    },
  },
  {
    name: 'thrown error',
    code: 'DEPENDENCY_FAILED',
    spec: {},
    run: (call) =>
      call(() => {
        throw new Error('connection reset');
      }),
  },
  {
    name: 'breaker open',
    code: 'CIRCUIT_OPEN',
    spec: { breaker: { minimumCalls: 2, failureRate: 1, window: { calls: 2 } } },
    async run(call) {
      const boom = () => Promise.reject(new Error('down'));
      await call(boom).catch(() => undefined);
      await call(boom).catch(() => undefined);
      return call(() => 'never reached');
    },
  },
  {
    name: 'concurrency full',
    code: 'BULKHEAD_FULL',
    spec: { concurrency: { limit: 1, queue: 0 } },
    async run(call) {
      // the blocker holds its own cache key: concurrent calls for one key would share a single flight
      void call(hang, { key: 'blocker' }).catch(() => undefined);
      await flushMicrotasks();
      return call(() => 'never reached');
    },
  },
  {
    name: 'invalid response',
    code: 'INVALID_RESPONSE',
    spec: { validate: z.object({ amount: z.number() }) },
    run: (call) => call(() => ({ amount: 'ten' })),
  },
  {
    name: 'payload too large (response)',
    code: 'PAYLOAD_TOO_LARGE',
    spec: { payload: { maxResponseBytes: 16 } },
    run: (call) => call(() => 'x'.repeat(17)),
  },
  {
    name: 'payload too large (request)',
    code: 'PAYLOAD_TOO_LARGE',
    spec: { payload: { maxRequestBytes: 8 } },
    run: (call) => call(() => 'fine', { request: { body: 'far too long' } }),
  },
];

describe.each(faults)('fault: $name', (fault) => {
  it(`core throws ${fault.code} naming the dependency`, async () => {
    const clock = new FakeClock();
    const wall = createWall({ service: 't', clock });
    const dep = wall.dependency('payments', { criticality: 'core', ...fault.spec });
    const err = await fault.run((fn, o) => dep.call(fn, o), clock).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BlastwallError);
    expect((err as BlastwallError).code).toBe(fault.code);
    expect((err as BlastwallError).dependency).toBe('payments');
    await wall.close();
  });

  it('optional returns the fallback with source "fallback" and never throws', async () => {
    const clock = new FakeClock();
    const wall = createWall({ service: 't', clock });
    const dep = wall.dependency('recs', { criticality: 'optional', fallback: (e: BlastwallError) => `fallback:${e.code}`, ...fault.spec });
    const value = await fault.run((fn, o) => dep.call(fn, o), clock);
    expect(value).toBe(`fallback:${fault.code}`);
    await wall.close();
  });

  it('optional serves the last good value from the cache with its age', async () => {
    const clock = new FakeClock();
    const wall = createWall({ service: 't', clock });
    const dep = wall.dependency('recs', { criticality: 'optional', fallback: 'fb', cache: { stale: '10m', revalidate: false }, ...fault.spec });
    const good = fault.code === 'INVALID_RESPONSE' ? { amount: 1 } : 'ok';
    expect(await dep.attempt(() => good)).toMatchObject({ ok: true, source: 'live', degraded: false });
    await clock.advance(1500);
    let outcome: unknown;
    await fault.run(async (fn, o) => {
      outcome = await dep.attempt(fn, o);
      return outcome;
    }, clock);
    expect(outcome).toMatchObject({ ok: true, value: good, source: 'cache', degraded: true });
    expect((outcome as { ageMs: number }).ageMs).toBeGreaterThanOrEqual(1500);
    expect((outcome as { error: BlastwallError }).error.code).toBe(fault.code);
    await wall.close();
  });

  it('deferrable returns at once with a receipt, whatever the work does', async () => {
    const clock = new FakeClock();
    const wall = createWall({ service: 't', clock, closeGrace: 0 });
    const dep = wall.dependency('email', { criticality: 'deferrable', retry: false, ...fault.spec });
    let settled = false;
    const p = dep.call(hang).then((r) => {
      settled = true;
      return r;
    });
    await flushMicrotasks();
    expect(settled).toBe(true);
    expect(await p).toMatchObject({ id: 1 });
    await wall.close();
  });
});

describe('per-call overrides', () => {
  it('a call site can use an optional dependency as core and give its own fallback', async () => {
    const wall = createWall({ service: 't', clock: new FakeClock() });
    const dep = wall.dependency('recs', { criticality: 'optional', fallback: [] });
    const boom = () => Promise.reject(new Error('x'));
    await expect(dep.call(boom, { criticality: 'core' })).rejects.toMatchObject({ code: 'DEPENDENCY_FAILED' });
    expect(await dep.call(boom, { fallback: ['site'] })).toEqual(['site']);
    await wall.close();
  });

  it('deferrable rejects QUEUE_FULL when its bounded queue is full', async () => {
    const wall = createWall({ service: 't', clock: new FakeClock(), closeGrace: 0 });
    const dep = wall.dependency('email', { criticality: 'deferrable', deferred: { maxQueue: 2, workers: 1 }, retry: false });
    await dep.call(hang); // taken by the worker
    await flushMicrotasks();
    await dep.call(hang);
    await dep.call(hang);
    await expect(dep.call(hang)).rejects.toMatchObject({ code: 'QUEUE_FULL', dependency: 'email' });
    expect((await wall.close()).droppedDeferred).toBe(2);
  });

  it('the quarantine hook receives the rejected payload and the caller never sees it', async () => {
    const wall = createWall({ service: 't', clock: new FakeClock() });
    const seen: unknown[] = [];
    const dep = wall.dependency('prices', {
      validate: z.object({ price: z.number().positive() }),
      quarantine: (payload) => seen.push(payload),
    });
    await expect(dep.call(() => ({ price: -3 }))).rejects.toMatchObject({ code: 'INVALID_RESPONSE' });
    expect(seen).toEqual([{ price: -3 }]);
    expect(await dep.call(() => ({ price: 3 }))).toEqual({ price: 3 });
    await wall.close();
  });
});
