import { describe, expect, it } from 'vitest';
import { type WallEvent, createWall } from '../../src/index.js';
import { FakeClock } from '../../src/testing/index.js';

describe('drift and burn rate in the wall', () => {
  it('flags a dependency whose latency drifts up, once, before it breaks its objective, and records burn-rate pages', async () => {
    const clock = new FakeClock();
    const wall = createWall({ service: 's', clock, healthInterval: '1s' });
    const db = wall.dependency('db', { timeout: '5s', slo: { latency: { p99: '400ms' }, availability: 0.999 }, health: { window: '5s' }, breaker: false });
    const events: WallEvent[] = [];
    wall.onEvent((e) => events.push(e));
    let seed = 11;
    const jitter = () => {
      seed = (seed * 48271) % 2147483647;
      return 1 + (seed / 2147483647 - 0.5) * 0.1;
    };
    let latency = 50;
    const second = async (fail = false) => {
      // ten calls per second
      for (let i = 0; i < 10; i++) {
        const ms = latency * jitter();
        void db.call(() => new Promise((r, j) => clock.setTimer(() => (fail ? j(new Error('x')) : r('ok')), ms))).catch(() => undefined);
        await clock.advance(100);
      }
    };
    for (let s = 0; s < 120; s++) await second();
    let breachAt: number | undefined;
    for (let s = 0; s < 120 && breachAt === undefined; s++) {
      latency *= 1.03;
      await second();
      if (wall.health().dependencies.db!.state === 'delayed') breachAt = clock.now();
    }
    const raised = events.filter((e) => e.type === 'drift' && e.state === 'raised' && e.signal === 'latency.p99');
    expect(raised).toHaveLength(1);
    expect(breachAt).toBeDefined();
    expect(raised[0]!.at).toBeLessThan(breachAt!);
    expect(raised[0]).toMatchObject({ dependency: 'db' });
    // now everything fails: the 1h/5m page fires once
    latency = 10;
    for (let s = 0; s < 400; s++) await second(true);
    const burns = events.filter((e) => e.type === 'burn-rate' && e.state === 'raised').map((e) => e.type === 'burn-rate' && e.rule);
    expect(burns).toContain('2% of budget in 1h');
    expect(new Set(burns).size).toBe(burns.length);
    await wall.close();
  });

  it('flags the cache age of a cached dependency whose refresh keeps failing, once, while its callers still get answers', async () => {
    const clock = new FakeClock();
    const wall = createWall({ service: 's', clock, healthInterval: '1s' });
    const recs = wall.dependency('recs', { criticality: 'optional', fallback: [], timeout: '1s', cache: { fresh: '10s', stale: '1h' }, breaker: false, retry: false });
    const events: WallEvent[] = [];
    wall.onEvent((e) => events.push(e));
    let failing = false;
    const load = () => (failing ? Promise.reject(new Error('recommender down')) : Promise.resolve(['a', 'b']));
    const ages: number[] = [];
    const second = async () => {
      for (let i = 0; i < 10; i++) {
        const r = await recs.attempt(load, { key: 'home' });
        expect(r.ok).toBe(true); // optional and cached: the caller always gets an answer
        ages.push(r.ageMs);
        await clock.advance(100);
      }
    };
    // healthy: refreshed every 10 s, so the oldest age served each second cycles from 0 to 10 s
    for (let s = 0; s < 300; s++) await second();
    const before = events.filter((e) => e.type === 'drift' && e.signal === 'cache.ageMs');
    expect(before).toHaveLength(0);
    expect(Math.max(...ages)).toBeLessThanOrEqual(10_100);
    failing = true;
    let raisedAtAge: number | undefined;
    for (let s = 0; s < 600 && raisedAtAge === undefined; s++) {
      await second();
      if (events.some((e) => e.type === 'drift' && e.state === 'raised' && e.signal === 'cache.ageMs')) raisedAtAge = ages.at(-1);
    }
    const raised = events.filter((e) => e.type === 'drift' && e.state === 'raised' && e.signal === 'cache.ageMs');
    expect(raised).toHaveLength(1);
    expect(raised[0]).toMatchObject({ dependency: 'recs' });
    // seen while the values were still well inside the one-hour stale limit
    expect(raisedAtAge).toBeDefined();
    expect(raisedAtAge!).toBeLessThan(120_000);
    await wall.close();
  });
});
