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
});
