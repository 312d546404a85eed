/**
 * Issue 17, finding 3: synchronous work inside a dependency's function is latency. The cheap (coarse)
 * clock does not advance within one event-loop turn, so the wall measures each call with `clock.now()` at
 * its start and end. `FakeClock.block(ms)` is synchronous work as the real clock sees it: `now()` moves,
 * the coarse reading does not until the turn ends. One test uses the real clock and a real 50 ms busy loop
 * (a lower bound only: the loop cannot take less; health quantiles are within 2%, the Prometheus sum exact).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { METRIC_NAMES } from '../../src/telemetry/names.js';
import { type Wall, createWall } from '../../src/wall/index.js';
import { FakeClock } from '../../src/testing/index.js';

let wall: Wall | undefined;
afterEach(async () => {
  await wall?.close();
  wall = undefined;
});

function latencySum(text: string, dependency: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${METRIC_NAMES.latency}_sum{`) && l.includes(`dependency="${dependency}"`));
  return Number(line?.split(' ').pop());
}

describe('synchronous work is measured', () => {
  it('a function blocking 50ms (fake clock) is recorded as 50ms by health and Prometheus', async () => {
    const clock = new FakeClock();
    wall = createWall({ service: 's', clock, telemetry: { prometheus: true } });
    const dep = wall.dependency('sync', { timeout: '1s', slo: { latency: { p99: '20ms' } }, health: { minimumCalls: 5 } });
    for (let i = 0; i < 20; i++) {
      expect(
        await dep.call(() => {
          clock.block(50);
          return 'done';
        }),
      ).toBe('done');
      await clock.advance(10);
    }
    expect(dep.totals().p99).toBeGreaterThanOrEqual(50 * 0.98); // the sketch's 2% relative accuracy
    expect(latencySum(await wall.metrics(), 'sync')).toBeCloseTo(20 * 0.05, 3);
    await clock.advance(1000);
    expect(wall.health().dependencies.sync!.state).toBe('delayed');
  });

  it('a real 50ms busy loop on the real clock is recorded as at least 50ms', async () => {
    wall = createWall({ service: 's', telemetry: { prometheus: true } });
    const dep = wall.dependency('busy', { timeout: '1s' });
    await dep.call(() => {
      const end = performance.now() + 50;
      while (performance.now() < end) {
        // synchronous work: no turn boundary, the coarse clock stands still
      }
      return 1;
    });
    // the health sketch keeps quantiles within 2% (a bucket's centre); the Prometheus sum is exact
    expect(dep.totals().p99).toBeGreaterThanOrEqual(50 * 0.98);
    expect(latencySum(await wall.metrics(), 'busy')).toBeGreaterThanOrEqual(0.05);
  });
});
