/**
 * Each fault kind through the wall, on a fake clock (no sleeps): what each boundary does with it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BlastwallError, createWall, type Wall } from '../../src/index.js';
import {
  FakeClock,
  flushMicrotasks,
  InjectedFaultError,
  type FaultEvent,
  fault,
  logNormalFrom,
  seededRandom,
} from '../../src/testing/index.js';

const walls: Wall[] = [];
function wallOf(clock: FakeClock, extra: Record<string, unknown> = {}): Wall {
  const w = createWall({ service: 'chaos', clock, faults: true, healthInterval: '100ms', drift: false, ...extra } as never);
  walls.push(w);
  return w;
}
afterEach(async () => {
  for (const w of walls.splice(0)) await w.close();
});

/** Settles `p` while advancing the fake clock in steps; returns the outcome and the time it took. */
async function settle<T>(clock: FakeClock, p: Promise<T>, step = 5, limit = 60_000): Promise<{ value?: T; error?: unknown; ms: number }> {
  const t0 = clock.now();
  let out: { value?: T; error?: unknown } | undefined;
  p.then(
    (value) => (out = { value }),
    (error: unknown) => (out = { error }),
  );
  await flushMicrotasks();
  for (let t = 0; out === undefined && t <= limit; t += step) await clock.advance(step);
  if (out === undefined) throw new Error('did not settle');
  return { ...out, ms: clock.now() - t0 };
}

const code = (e: unknown) => (e as BlastwallError).code;

describe('latency', () => {
  it('a fixed delay inside the timeout is felt by the caller; beyond it the timeout cuts the attempt', async () => {
    const clock = new FakeClock();
    const wall = wallOf(clock);
    const dep = wall.dependency('payments', { timeout: '100ms', retry: false, breaker: false });
    const h = wall.faults.inject('payments', fault.latency('40ms'), { for: '10s' });
    const ok = await settle(clock, dep.call(() => 'charged'));
    expect(ok.value).toBe('charged');
    expect(ok.ms).toBeGreaterThanOrEqual(40);
    expect(ok.ms).toBeLessThan(100);
    h.stop();
    wall.faults.inject('payments', fault.latency('500ms'), { for: '10s' });
    const slow = await settle(clock, dep.call(() => 'charged'));
    expect(code(slow.error)).toBe('TIMEOUT');
    expect(slow.ms).toBeGreaterThanOrEqual(100);
    expect(slow.ms).toBeLessThan(150);
  });

  it('a { p50, p99 } distribution is a log-normal through both quantiles, and replays with its seed', async () => {
    const dist = logNormalFrom(200, 2000);
    const r = seededRandom(7);
    const xs = Array.from({ length: 20_000 }, () => dist.sample(r)).sort((a, b) => a - b);
    expect(xs[10_000]!).toBeGreaterThan(185);
    expect(xs[10_000]!).toBeLessThan(215);
    expect(xs[19_800]!).toBeGreaterThan(1750);
    expect(xs[19_800]!).toBeLessThan(2300);

    const delays = async (seed: number) => {
      const clock = new FakeClock();
      const wall = wallOf(clock);
      const dep = wall.dependency('recs', { timeout: false, retry: false, breaker: false });
      wall.faults.inject('recs', fault.latency({ p50: '20ms', p99: '200ms' }), { for: '1m', seed });
      const out: number[] = [];
      for (let i = 0; i < 8; i++) out.push((await settle(clock, dep.call(() => 1), 1)).ms);
      return out;
    };
    const a = await delays(42);
    expect(await delays(42)).toEqual(a);
    expect(await delays(43)).not.toEqual(a);
  });

  it('slow calls open a breaker with a slow-call rule', async () => {
    const clock = new FakeClock();
    const wall = wallOf(clock);
    const dep = wall.dependency('payments', {
      timeout: '1s',
      retry: false,
      breaker: { failureRate: 0.5, slowCall: { over: '100ms', rate: 0.5 }, minimumCalls: 5, window: '10s', halfOpenAfter: '5s' },
    });
    wall.faults.inject('payments', fault.latency('200ms'), { for: '1m' });
    for (let i = 0; i < 5; i++) await settle(clock, dep.call(() => 1));
    expect(dep.breaker?.state).toBe('open');
    const refused = await settle(clock, dep.call(() => 1));
    expect(code(refused.error)).toBe('CIRCUIT_OPEN');
    expect(refused.ms).toBe(0);
  });
});

describe('error', () => {
  it('retries see it, the budget caps them, the breaker opens, and then the slot is not reached at all', async () => {
    const clock = new FakeClock();
    const wall = wallOf(clock);
    const dep = wall.dependency('payments', {
      timeout: '1s',
      retry: { attempts: 3, backoff: { base: '1ms', max: '1ms', jitter: 'none' }, budget: { ratio: 0.1, minPerSecond: 0.5 } },
      breaker: { failureRate: 0.5, minimumCalls: 10, window: '10s', halfOpenAfter: '5s' },
    });
    const h = wall.faults.inject('payments', fault.error('payments: 503 from upstream'), { for: '1m' });
    let real = 0;
    const first = await settle(clock, dep.call(() => ++real), 1);
    expect(code(first.error)).toBe('DEPENDENCY_FAILED');
    expect((first.error as BlastwallError).cause).toBeInstanceOf(InjectedFaultError);
    expect(h.hits).toBe(3); // one call, three attempts
    const codes: string[] = [];
    for (let i = 0; i < 12; i++) codes.push(code((await settle(clock, dep.call(() => ++real), 1)).error));
    expect(codes).toContain('RETRY_BUDGET_EXHAUSTED');
    expect(codes).toContain('CIRCUIT_OPEN');
    expect(real).toBe(0); // every attempt was the fault's, never the real function
    const hits = h.hits;
    await settle(clock, dep.call(() => ++real), 1);
    expect(h.hits).toBe(hits); // the open breaker refused before the slot
    expect(wall.health().dependencies.payments!.state).toBe('unavailable');
  });

  it('an optional dependency serves its fallback, a cached one its stale value', async () => {
    const clock = new FakeClock();
    const wall = wallOf(clock);
    const recs = wall.dependency('recs', { criticality: 'optional', fallback: () => ['bestsellers'], retry: false, cache: { fresh: '1s', stale: '1m' } });
    expect((await settle(clock, recs.attempt(() => ['socks'], { key: 'u1' }))).value).toMatchObject({ source: 'live', value: ['socks'] });
    wall.faults.inject('recs', fault.error(), { for: '1m' });
    await clock.advance(2000);
    // within `stale`: the cached value at once, and one background refresh, which the fault fails
    const stale = (await settle(clock, recs.attempt(() => ['scarf'], { key: 'u1' }))).value!;
    expect(stale).toMatchObject({ ok: true, source: 'cache', value: ['socks'] });
    const fb = (await settle(clock, recs.attempt(() => ['scarf'], { key: 'u2' }))).value!;
    expect(fb).toMatchObject({ ok: true, source: 'fallback', value: ['bestsellers'] });
  });

  it('an HTTP 503 with Retry-After is a synthetic Response: the wall fails it, and retry waits the hinted time', async () => {
    const clock = new FakeClock();
    const wall = wallOf(clock);
    const dep = wall.dependency('payments', { timeout: '1s', retry: { attempts: 2, backoff: { base: '1ms', max: '1ms', jitter: 'none' }, budget: false }, breaker: false });
    const h = wall.faults.inject('payments', fault.status(503, { retryAfter: '2s' }), { for: '1m' });
    const r = await settle(clock, dep.call(() => new Response('real')), 10);
    expect(code(r.error)).toBe('DEPENDENCY_FAILED');
    expect((r.error as BlastwallError).details).toMatchObject({ status: 503 });
    expect(r.ms).toBeGreaterThanOrEqual(2000); // the second attempt waited for Retry-After
    expect(h.hits).toBe(2);
  });

  it('a 429 with failOnResult off comes back as the synthetic Response itself', async () => {
    const clock = new FakeClock();
    const wall = wallOf(clock);
    const dep = wall.dependency('api', { retry: false, breaker: false, failOnResult: false });
    wall.faults.inject('api', fault.status(429, { retryAfter: '1s' }), { for: '1m' });
    const res = (await settle(clock, dep.call(() => new Response('real')))).value as Response;
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('1');
  });

  it('deferrable work is retried in the background and dead-lettered; the caller is not blocked', async () => {
    const clock = new FakeClock();
    const wall = wallOf(clock);
    const email = wall.dependency('email', { criticality: 'deferrable', retry: { attempts: 2, backoff: { base: '1ms', max: '1ms', jitter: 'none' }, budget: false } });
    wall.faults.inject('email', fault.error('smtp down'), { for: '1m' });
    const receipt = await settle(clock, email.call(() => 'sent'));
    expect(receipt.ms).toBe(0);
    expect(receipt.value).toMatchObject({ id: 1 });
    await clock.advance(50);
    expect(email.deadLetters).toHaveLength(1);
  });
});

describe('hang', () => {
  it('never settles until the attempt timeout aborts it', async () => {
    const clock = new FakeClock();
    const wall = wallOf(clock);
    const dep = wall.dependency('recs', { timeout: '150ms', retry: false, breaker: false });
    wall.faults.inject('recs', fault.hang(), { for: '1m' });
    const r = await settle(clock, dep.call(() => 1));
    expect(code(r.error)).toBe('TIMEOUT');
    expect(r.ms).toBeGreaterThanOrEqual(150);
    expect(r.ms).toBeLessThan(200);
  });

  it('with no timeout and no deadline, the end of the injection releases the attempt: nothing is left hanging', async () => {
    const clock = new FakeClock();
    const wall = wallOf(clock);
    const dep = wall.dependency('recs', { timeout: false, retry: false, breaker: false });
    const before = clock.pendingTimers();
    wall.faults.inject('recs', fault.hang(), { for: '2s' });
    const r = await settle(clock, dep.call(() => 1), 100);
    expect(r.ms).toBeGreaterThanOrEqual(2000);
    expect((r.error as BlastwallError).cause).toBeInstanceOf(InjectedFaultError);
    expect(wall.faults.active()).toEqual([]);
    expect(clock.pendingTimers()).toBe(before);
  });
});

describe('corrupt', () => {
  const charge = z.object({ id: z.string() });
  it('responses fail validation: quarantined, never returned, the dependency turns corrupt', async () => {
    const clock = new FakeClock();
    const wall = wallOf(clock);
    const quarantined: unknown[] = [];
    const dep = wall.dependency('payments', {
      validate: charge,
      retry: false,
      breaker: false,
      quarantine: (p) => quarantined.push(p),
      health: { minimumCalls: 5, minDwellMs: 0 },
    });
    wall.faults.inject('payments', fault.corrupt(), { for: '1m' });
    const errors: string[] = [];
    for (let i = 0; i < 10; i++) errors.push(code((await settle(clock, dep.call(() => ({ id: `ch_${i}` })))).error));
    expect(new Set(errors)).toEqual(new Set(['INVALID_RESPONSE']));
    expect(quarantined[0]).toEqual(['corrupted']); // an object reshaped into an array
    expect(wall.health().dependencies.payments!.state).toBe('corrupt');
  });

  it('a replacement function mutates the real value', async () => {
    const clock = new FakeClock();
    const wall = wallOf(clock);
    const dep = wall.dependency('payments', { validate: charge, retry: false, breaker: false });
    wall.faults.inject('payments', fault.corrupt((v: { id: string }) => ({ ...v, id: 42 })), { for: '1m' });
    const r = await settle(clock, dep.call(() => ({ id: 'ch_1' })));
    expect(code(r.error)).toBe('INVALID_RESPONSE');
  });
});

describe('flap and slowDrip', () => {
  it('flap: down for `down` of every period, then up', async () => {
    const clock = new FakeClock();
    const wall = wallOf(clock);
    const dep = wall.dependency('payments', { retry: false, breaker: false });
    wall.faults.inject('payments', fault.flap({ period: '1s', down: '400ms' }), { for: '1m' });
    const seen: string[] = [];
    for (const at of [100, 500, 500, 400]) {
      await clock.advance(at);
      seen.push((await settle(clock, dep.call(() => 'up'), 1)).value ?? 'down');
    }
    // t = 100 (down), 600 (up), 1100 (down), 1500 (up)
    expect(seen).toEqual(['down', 'up', 'down', 'up']);
  });

  it('slowDrip: latency grows linearly over the window', async () => {
    const clock = new FakeClock();
    const wall = wallOf(clock);
    const dep = wall.dependency('payments', { timeout: false, retry: false, breaker: false });
    wall.faults.inject('payments', fault.slowDrip({ from: '10ms', to: '210ms' }), { for: '10s' });
    const early = (await settle(clock, dep.call(() => 1), 1)).ms;
    await clock.advance(5000);
    const mid = (await settle(clock, dep.call(() => 1), 1)).ms;
    await clock.advance(4800);
    const late = (await settle(clock, dep.call(() => 1), 1)).ms;
    expect(early).toBeGreaterThanOrEqual(10);
    expect(early).toBeLessThan(13);
    expect(Math.abs(mid - 110)).toBeLessThanOrEqual(3);
    expect(late).toBeGreaterThan(195);
  });
});

describe('rate, operations, seed', () => {
  it('a rate hits that share of attempts, the same ones for the same seed', async () => {
    const hitsFor = async (seed: string) => {
      const clock = new FakeClock();
      const wall = wallOf(clock);
      const dep = wall.dependency('payments', { retry: false, breaker: false });
      wall.faults.inject('payments', fault.error(), { for: '1m', rate: 0.3, seed });
      const pattern: boolean[] = [];
      for (let i = 0; i < 400; i++) pattern.push((await settle(clock, dep.call(() => 1), 1)).error !== undefined);
      return pattern;
    };
    const a = await hitsFor('drill-1');
    const share = a.filter(Boolean).length / a.length;
    expect(share).toBeGreaterThan(0.24);
    expect(share).toBeLessThan(0.36);
    expect(await hitsFor('drill-1')).toEqual(a);
  });

  it('operations: only attempts inside those operations are hit', async () => {
    const clock = new FakeClock();
    const wall = wallOf(clock);
    const dep = wall.dependency('payments', { retry: false, breaker: false });
    const checkout = wall.operation('checkout');
    const refund = wall.operation('refund');
    wall.faults.inject('payments', fault.error(), { for: '1m', operations: ['checkout'] });
    expect((await settle(clock, checkout.run(() => dep.call(() => 1)))).error).toBeDefined();
    expect((await settle(clock, refund.run(() => dep.call(() => 1)))).value).toBe(1);
    expect((await settle(clock, dep.call(() => 1))).value).toBe(1);
  });
});

describe('safe by construction', () => {
  it('every injection ends by itself (default 5 minutes), and start and end are events and timeline entries', async () => {
    const clock = new FakeClock();
    const entries: { kind: string; title: string }[] = [];
    const wall = wallOf(clock, { timeline: { record: (e: { kind: string; title: string }) => entries.push(e) } });
    wall.dependency('payments', { retry: false, breaker: false });
    const events: FaultEvent[] = [];
    wall.onEvent((e) => {
      if (e.type === 'fault') events.push(e);
    });
    const h = wall.faults.inject('payments', fault.error(), {});
    expect(h.endsAt - h.startedAt).toBe(300_000);
    await clock.advance(299_999);
    expect(h.active).toBe(true);
    await clock.advance(1);
    expect(h.active).toBe(false);
    expect(await h.ended).toBe('expired');
    expect(events.map((e) => e.state)).toEqual(['started', 'ended']);
    expect(entries.filter((e) => e.kind === 'fault').map((e) => e.title)).toEqual([
      'fault injected on payments: error: injected fault: error (100% of attempts, for 5m)',
      'fault on payments ended (expired): error: injected fault: error; hit 0 of 0 attempts',
    ]);
  });

  it('stop(), clear() and close() end injections; the slot is removed and calls are real again', async () => {
    const clock = new FakeClock();
    const wall = wallOf(clock);
    const dep = wall.dependency('payments', { retry: false, breaker: false });
    const a = wall.faults.inject('payments', fault.error(), { for: '1m' });
    wall.faults.inject('payments', fault.latency('5ms'), { for: '1m' });
    expect(a.stop()).toBe(true);
    expect(a.stop()).toBe(false);
    expect(wall.faults.active()).toHaveLength(1);
    expect(wall.faults.clear()).toBe(1);
    expect((await settle(clock, dep.call(() => 'real'))).value).toBe('real');
    expect((dep as unknown as { faultSlot: unknown }).faultSlot).toBeUndefined();
    const b = wall.faults.inject('payments', fault.error(), { for: '1m' });
    await wall.close();
    expect(b.active).toBe(false);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('durations are capped; every field is validated at declaration, naming it', () => {
    const wall = wallOf(new FakeClock(), { faults: { maxDuration: '10m' } });
    wall.dependency('payments', {});
    const msg = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(code(e)).toBe('CONFIG_INVALID');
        return (e as Error).message;
      }
      throw new Error('expected CONFIG_INVALID');
    };
    expect(msg(() => wall.faults.inject('payments', fault.error(), { for: '1h' }))).toMatch(/^Expected `options\.for` to be a duration between 1ms and 600000ms/);
    expect(msg(() => wall.faults.inject('payments', { kind: 'explode' } as never))).toMatch(/^Expected `fault\.kind` to be one of 'latency', 'error'/);
    expect(msg(() => wall.faults.inject('payments', fault.latency(-5 as never)))).toMatch(/^Expected `fault\.delay` to be a duration ≥ 0ms.*got `-5` \(number\)/);
    expect(msg(() => wall.faults.inject('payments', fault.latency({ p50: '2s', p99: '1s' })))).toMatch(/^Expected `fault\.p99` to be a duration ≥ p50 \(2s\)/);
    expect(msg(() => wall.faults.inject('payments', fault.error(), { rate: 1.5 }))).toMatch(/^Expected `options\.rate` to be a ratio > 0 and ≤ 1, got `1\.5`/);
    expect(msg(() => wall.faults.inject('payments', fault.status(700)))).toMatch(/^Expected `fault\.status` to be an integer between 400 and 599/);
    expect(msg(() => wall.faults.inject('payments', fault.flap({ period: '1s', down: '2s' })))).toMatch(/^Expected `fault\.down`/);
    expect(msg(() => wall.faults.inject('payments', { kind: 'flap', period: '1s', fault: { kind: 'flap', period: '1s' } } as never))).toMatch(/^Expected `fault\.fault\.kind` to be one of/);
    expect(msg(() => wall.faults.inject('paymnts', fault.error()))).toMatch(/^Expected `dependency` to be the name of a declared dependency, got `"paymnts"`/);
    expect(msg(() => wall.faults.inject('payments', fault.error(), { operations: [] }))).toMatch(/^Expected `options\.operations`/);
    expect(wall.faults.active()).toEqual([]); // nothing half-applied
  });

  it('off unless enabled: inject throws a clear error and no dependency gets a slot', async () => {
    const clock = new FakeClock();
    const saved = process.env.BLASTWALL_FAULTS;
    delete process.env.BLASTWALL_FAULTS;
    try {
      const off = createWall({ service: 'off', clock });
      walls.push(off);
      const dep = off.dependency('payments', {});
      expect(off.faults.enabled).toBe(false);
      expect(() => off.faults.inject('payments', fault.error())).toThrow(/Fault injection is off for this wall: create it with createWall\(\{ faults: true \}\) or run the process with BLASTWALL_FAULTS=1/);
      expect(off.faults.active()).toEqual([]);
      expect((dep as unknown as { faultSlot: unknown }).faultSlot).toBeUndefined();
      process.env.BLASTWALL_FAULTS = '1';
      const on = createWall({ service: 'on', clock });
      walls.push(on);
      expect(on.faults.enabled).toBe(true);
      expect(() => createWall({ service: 'x', clock, faults: 'yes' } as never)).toThrow(/Expected `faults` to be a boolean or \{ maxDuration\?, seed\? \}/);
    } finally {
      if (saved === undefined) delete process.env.BLASTWALL_FAULTS;
      else process.env.BLASTWALL_FAULTS = saved;
    }
  });

  it('a throwing corrupt replacement or error factory is a fault like any other, not a crash', async () => {
    const clock = new FakeClock();
    const wall = wallOf(clock);
    const dep = wall.dependency('payments', { retry: false, breaker: false });
    wall.faults.inject('payments', fault.corrupt(() => {
      throw new Error('bug in the replacement');
    }), { for: '1m' });
    const r = await settle(clock, dep.call(() => ({ id: 'x' })));
    expect(code(r.error)).toBe('DEPENDENCY_FAILED');
    expect(r.error).toBeInstanceOf(BlastwallError);
  });
});
