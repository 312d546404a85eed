import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type Dependency, type HealthState, type Wall, type WallEvent, createWall } from '../../src/index.js';
import { FakeClock } from '../../src/testing/index.js';

/** Makes one call that takes `ms` of fake time; `failures` first attempts fail before the last one's result. */
async function callTaking(clock: FakeClock, dep: Dependency, ms: number, opts: { failFirst?: number; failAll?: boolean; value?: unknown } = {}) {
  let attempt = 0;
  const p = dep
    .call(() => {
      attempt++;
      if (opts.failAll || attempt <= (opts.failFirst ?? 0)) return Promise.reject(new Error('boom'));
      return new Promise((resolve) => clock.setTimer(() => resolve(opts.value ?? 'ok'), ms));
    })
    .catch(() => undefined);
  await clock.advance(ms);
  await p;
}

function setup(clock: FakeClock) {
  const wall = createWall({ service: 'shop', clock, healthInterval: '1s' });
  const events: WallEvent[] = [];
  wall.onEvent((e) => events.push(e));
  const dep = wall.dependency('payments', {
    timeout: '1s',
    retry: { attempts: 2, backoff: 0, budget: false },
    breaker: { failureRate: 0.5, minimumCalls: 10, window: { calls: 10 }, halfOpenAfter: '5s' },
    slo: { latency: { p99: '100ms' }, availability: 0.99 },
    health: { window: '10s', minDwellMs: 2000 },
    validate: z.object({ ok: z.boolean() }),
  });
  const transitions = () => events.filter((e) => e.type === 'health').map((e) => `${e.from}→${e.to}`);
  return { wall, dep, events, transitions };
}

const good = { value: { ok: true } };

describe('health states', () => {
  it('walks healthy → delayed → retrying → unavailable → healthy, each with a reason', async () => {
    const clock = new FakeClock();
    const { wall, dep, transitions } = setup(clock);
    for (let i = 0; i < 20; i++) await callTaking(clock, dep, 10, good);
    expect(wall.health().dependencies.payments).toMatchObject({ state: 'healthy', criticality: 'core' });

    for (let i = 0; i < 20; i++) await callTaking(clock, dep, 300, good);
    const delayed = wall.health().dependencies.payments!;
    expect(delayed.state).toBe('delayed');
    expect(delayed.reason).toMatch(/p99 \d+ms above the 100ms objective/);
    expect(wall.health().status).toBe('degraded');

    for (let i = 0; i < 10; i++) await callTaking(clock, dep, 10, { ...good, failFirst: 1 });
    expect(wall.health().dependencies.payments).toMatchObject({ state: 'retrying' });
    expect(wall.health().dependencies.payments!.reason).toMatch(/retry ratio/);

    for (let i = 0; i < 10; i++) await callTaking(clock, dep, 10, { failAll: true });
    const down = wall.health();
    expect(down.dependencies.payments).toMatchObject({ state: 'unavailable', breaker: 'open' });
    expect(down.status).toBe('unavailable');

    await clock.advance(11_000); // breaker half-opens after 5s; the 10s signal window empties
    for (let i = 0; i < 20; i++) await callTaking(clock, dep, 10, good);
    const back = wall.health();
    expect(back.dependencies.payments).toMatchObject({ state: 'healthy', breaker: 'closed' });
    expect(back.status).toBe('ok');
    expect(transitions()).toEqual(['healthy→delayed', 'delayed→retrying', 'retrying→unavailable', 'unavailable→healthy']);
    await wall.close();
  });

  it('responses failing validation make the dependency corrupt', async () => {
    const clock = new FakeClock();
    const { wall, dep, transitions } = setup(clock);
    for (let i = 0; i < 20; i++) await callTaking(clock, dep, 10, good);
    for (let i = 0; i < 3; i++) await callTaking(clock, dep, 10, { value: { ok: 'yes' } });
    const h = wall.health().dependencies.payments!;
    expect(h.state).toBe('corrupt');
    expect(h.reason).toMatch(/failed validation/);
    expect(transitions()).toEqual(['healthy→corrupt']);
    await wall.close();
  });

  it('the health timer emits transitions without anyone asking, and close() stops it', async () => {
    const clock = new FakeClock();
    const { wall, dep, transitions } = setup(clock);
    for (let i = 0; i < 20; i++) await callTaking(clock, dep, 300, good);
    await clock.advance(1000);
    expect(transitions()).toEqual(['healthy→delayed']);
    await wall.close();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('does not flap when p99 hovers around its objective with ±10% noise (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.double({ min: -0.1, max: 0.1, noNaN: true }), { minLength: 40, maxLength: 120 }), async (noise) => {
        const clock = new FakeClock();
        const wall = createWall({ service: 's', clock, healthInterval: '1s' });
        const states: HealthState[] = [];
        wall.onEvent((e) => {
          if (e.type === 'health') states.push(e.to);
        });
        const dep = wall.dependency('db', { timeout: '1s', slo: { latency: { p99: '100ms' } }, health: { window: '5s', minDwellMs: 1000 } });
        for (const n of noise) await callTaking(clock, dep, 100 * (1 + n));
        wall.health();
        await wall.close();
        return states.length <= 1;
      }),
      { numRuns: 25 },
    );
  });

  it('an optional dependency that is unavailable degrades the service but never makes it unavailable', async () => {
    const clock = new FakeClock();
    const wall = createWall({ service: 's', clock });
    const recs = wall.dependency('recs', { criticality: 'optional', fallback: [], breaker: { minimumCalls: 5, window: { calls: 5 } } });
    for (let i = 0; i < 10; i++) await recs.call(() => Promise.reject(new Error('x')));
    const h = wall.health();
    expect(h.dependencies.recs!.state).toBe('unavailable');
    expect(h.status).toBe('degraded');
    await wall.close();
  });
});

export type { Wall };
