import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type AttemptContext, BlastwallError, createWall } from '../../src/index.js';
import { FakeClock } from '../../src/testing/index.js';

function hanging(starts: number[], clock: FakeClock) {
  return (ctx: AttemptContext) => {
    starts.push(clock.now());
    return new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true }));
  };
}

async function settle<T>(p: Promise<T>): Promise<{ value?: T; error?: BlastwallError }> {
  return p.then(
    (value) => ({ value }),
    (error: BlastwallError) => ({ error }),
  );
}

describe('deadlines', () => {
  it('a 1s operation calling an 800ms-timeout dependency with 3 attempts never runs past 1s; the attempt that cannot fit is not started', async () => {
    const clock = new FakeClock();
    const wall = createWall({ service: 's', clock });
    const dep = wall.dependency('payments', { timeout: '800ms', retry: { attempts: 3, backoff: 0, budget: false } });
    const op = wall.operation('checkout', { deadline: '1s', priority: 'critical' });
    const starts: number[] = [];
    const t0 = clock.now();
    let endedAt = Number.NaN;
    const p = settle(op.run(() => dep.call(hanging(starts, clock)))).then((r) => {
      endedAt = clock.now();
      return r;
    });
    await clock.advance(2000);
    const r = await p;
    expect(starts.map((s) => s - t0)).toEqual([0]);
    // the retry that cannot fit is not started; the caller gets the attempt's own failure, final at this layer
    expect(r.error).toMatchObject({ code: 'TIMEOUT', retryable: false });
    expect(r.error?.details?.retry).toMatch(/attempt 2 not started/);
    expect(endedAt - t0).toBeLessThanOrEqual(1000);
    await wall.close();
  });

  it('attempts that fit are started; the last one is capped by the deadline', async () => {
    const clock = new FakeClock();
    const wall = createWall({ service: 's', clock });
    const dep = wall.dependency('payments', { timeout: '300ms', retry: { attempts: 4, backoff: 0, budget: false } });
    const op = wall.operation('checkout', { deadline: '1s' });
    const starts: number[] = [];
    const t0 = clock.now();
    const p = settle(op.run(() => dep.call(hanging(starts, clock))));
    await clock.advance(2000);
    const r = await p;
    // 0-300, 300-600, 600-900: a fourth would need 300ms with 100ms left
    expect(starts.map((s) => s - t0)).toEqual([0, 300, 600]);
    expect(r.error).toMatchObject({ code: 'TIMEOUT', retryable: false });
    await wall.close();
  });

  it('a call inside an operation uses the smaller of its timeout and the remaining deadline', async () => {
    const clock = new FakeClock();
    const wall = createWall({ service: 's', clock });
    const dep = wall.dependency('db', { timeout: '800ms', retry: false });
    const op = wall.operation('read', { deadline: '500ms' });
    let endedAt = Number.NaN;
    const t0 = clock.now();
    const p = settle(op.run(() => dep.call(hanging([], clock)))).then((r) => {
      endedAt = clock.now();
      return r;
    });
    await clock.advance(1000);
    expect((await p).error?.code).toBe('DEADLINE_EXCEEDED');
    expect(endedAt - t0).toBe(500);
    await wall.close();
  });

  it('a deadline passed in from the caller (e.g. a header) caps the operation; work with no time left is not started', async () => {
    const clock = new FakeClock();
    const wall = createWall({ service: 's', clock });
    const op = wall.operation('read', { deadline: '5s' });
    let ran = false;
    await expect(
      op.run(
        () => {
          ran = true;
        },
        { deadlineMs: 0 },
      ),
    ).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    expect(ran).toBe(false);
    const dep = wall.dependency('db', { timeout: '800ms', retry: false });
    const t0 = clock.now();
    let endedAt = Number.NaN;
    const p = settle(op.run(() => dep.call(hanging([], clock)), { deadlineMs: 120 })).then((r) => {
      endedAt = clock.now();
      return r;
    });
    await clock.advance(1000);
    expect((await p).error?.code).toBe('DEADLINE_EXCEEDED');
    expect(endedAt - t0).toBe(120);
    await wall.close();
  });

  it('once successes show what an attempt takes, a retry that fits in that time is started even if a whole timeout would not fit', async () => {
    const clock = new FakeClock();
    const wall = createWall({ service: 's', clock, healthInterval: '1s' });
    const dep = wall.dependency('api', { timeout: '10s', retry: { attempts: 2, backoff: 0, budget: false } });
    const op = wall.operation('page', { deadline: '1s' });
    const slowOk = () => new Promise((r) => clock.setTimer(() => r('ok'), 50));
    for (let i = 0; i < 20; i++) {
      const p = dep.call(slowOk);
      await clock.advance(50);
      await p;
    }
    await clock.advance(1000); // a health evaluation learns the ~50 ms p99
    let n = 0;
    const p = op.run(() =>
      dep.call(() => {
        n++;
        return n === 1 ? Promise.reject(new Error('flaky')) : slowOk();
      }),
    );
    await clock.advance(100);
    expect(await p).toBe('ok');
    expect(n).toBe(2);
    await wall.close();
  });

  it('a run may carry its own priority class, validated', async () => {
    const { currentOperation } = await import('../../src/index.js');
    const wall = createWall({ service: 's', clock: new FakeClock() });
    const op = wall.operation('browse', { priority: 'sheddable' });
    expect(await op.run(() => currentOperation()?.priority)).toBe('sheddable');
    expect(await op.run(() => currentOperation()?.priority, { priority: 'critical' })).toBe('critical');
    await expect(op.run(() => 1, { priority: 'vip' as never })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await wall.close();
  });

  it('records the observed edges operation → dependency in the topology', async () => {
    const clock = new FakeClock();
    const wall = createWall({ service: 'shop', clock });
    const pay = wall.dependency('payments', { timeout: '1s' });
    wall.dependency('email', { criticality: 'deferrable', timeout: '1s' });
    const recs = wall.dependency('recs', { criticality: 'optional', fallback: [], timeout: '150ms' });
    const checkout = wall.operation('checkout', { priority: 'critical', deadline: '2s' });
    await checkout.run(async () => {
      await pay.call(() => 'charged');
      await recs.call(() => ['a']);
    });
    const t = wall.topology();
    expect(t.operations).toEqual([
      {
        name: 'checkout',
        priority: 'critical',
        deadlineMs: 2000,
        calls: ['payments', 'recs'],
        counts: { requests: 1, failed: 0, degraded: 0, shed: 0 },
        // where it was declared: this file, the line of `wall.operation('checkout', …)`
        source: { file: fileURLToPath(import.meta.url), line: expect.any(Number) as number, column: expect.any(Number) as number },
      },
    ]);
    expect(t.edges).toEqual([
      { from: 'checkout', to: 'payments' },
      { from: 'checkout', to: 'recs' },
    ]);
    expect(t.dependencies.map((d) => [d.name, d.criticality])).toEqual([
      ['payments', 'core'],
      ['email', 'deferrable'],
      ['recs', 'optional'],
    ]);
    expect(t.dependencies[0]!.boundaries).toMatchObject({ timeoutMs: 1000, breaker: { failureRate: 0.5 } });
    expect(JSON.parse(JSON.stringify(t))).toEqual(t);
    await wall.close();
  });
});
