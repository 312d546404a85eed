import { describe, expect, it } from 'vitest';
import { FakeClock } from '../core/fake-clock.js';
import { type BurnRateAlert, BurnRateMonitor } from './burn-rate.js';
import { RobustDriftDetector } from './detector.js';
import { LikelihoodDriftDetector } from './likelihood.js';
import { type DriftAlert, DriftMonitor } from './monitor.js';

describe('burn-rate alerts (multi-window, multi-burn-rate)', () => {
  it('pages on the 6h/30m rule, then the 1h/5m rule, and clears each when its short window recovers', () => {
    const clock = new FakeClock(Date.parse('2026-11-20T00:00:00Z'));
    const m = new BurnRateMonitor('checkout', 0.999, clock);
    const alerts: (BurnRateAlert & { minute: number })[] = [];
    let minute = 0;
    m.alerts.subscribe((a) => alerts.push({ ...a, minute }));
    const run = (minutes: number, errorRatio: number) => {
      for (let i = 0; i < minutes; i++) {
        m.record(1000 * (1 - errorRatio), 1000 * errorRatio);
        m.evaluate();
        clock.set(clock.now() + 60_000);
        minute++;
      }
    };
    run(60, 0); // an hour of clean traffic
    run(60, 0.02); // 2% errors: burn 20× the budget
    run(60, 0);
    const raised = alerts.filter((a) => a.state === 'raised').map((a) => [a.rule, a.minute]);
    // with one hour of history the 3-day average already burns ≥ 1× after ~4 minutes at 20×
    expect(raised.map((r) => r[0])).toEqual(['10% of budget in 3d', '5% of budget in 6h', '2% of budget in 1h']);
    const at6h = raised[1]![1] as number;
    const at1h = raised[2]![1] as number;
    expect(at6h - 60).toBeGreaterThanOrEqual(25); // 20k/(60+k) ≥ 6 → k ≥ 25.7
    expect(at6h - 60).toBeLessThanOrEqual(27);
    expect(at1h - 60).toBeGreaterThanOrEqual(43); // 20k/60 ≥ 14.4 → k ≥ 43.2
    expect(at1h - 60).toBeLessThanOrEqual(45);
    const cleared = alerts.filter((a) => a.state === 'cleared').map((a) => [a.rule, a.minute - 120]);
    expect(cleared).toEqual([
      ['2% of budget in 1h', expect.any(Number)],
      ['5% of budget in 6h', expect.any(Number)],
    ]);
    expect(cleared[0]![1]).toBeLessThanOrEqual(6); // the 5m window empties of errors
    // the ticket rule's 3-day window still burns above 1× an hour later: it stays raised
    expect(alerts.filter((a) => a.rule === '10% of budget in 3d').map((a) => a.state)).toEqual(['raised']);
  });

  it('a few calls prove nothing: no alert below the minimum number of events', () => {
    const clock = new FakeClock();
    const m = new BurnRateMonitor('db', 0.99, clock);
    const alerts: BurnRateAlert[] = [];
    m.alerts.subscribe((a) => alerts.push(a));
    m.record(0, 3);
    m.evaluate();
    expect(alerts).toEqual([]);
  });
});

describe('drift monitor', () => {
  it('raises one alert when a latency ramp leaves its baseline, with onset and levels, and clears once after it returns', () => {
    const clock = new FakeClock();
    const m = new DriftMonitor(clock, { confirm: 3, clearAfter: 5 });
    const alerts: DriftAlert[] = [];
    m.alerts.subscribe((a) => alerts.push(a));
    let seed = 3;
    const noise = () => {
      seed = (seed * 48271) % 2147483647;
      return (seed / 2147483647 - 0.5) * 4;
    };
    const feed = (v: number) => {
      m.observe('payments.latency.p99', v);
      clock.set(clock.now() + 60_000);
    };
    for (let i = 0; i < 200; i++) feed(100 + noise());
    expect(alerts).toEqual([]);
    for (let i = 0; i < 60; i++) feed(100 * 1.02 ** i + noise()); // +2% per minute
    expect(alerts.filter((a) => a.state === 'raised')).toHaveLength(1);
    const raised = alerts[0]!;
    expect(raised).toMatchObject({ signal: 'payments.latency.p99', state: 'raised' });
    expect(raised.baseline).toBeGreaterThan(95);
    expect(raised.baseline).toBeLessThan(105);
    expect(raised.level).toBeGreaterThan(110);
    expect(raised.onset).toBeLessThanOrEqual(raised.at);
    for (let i = 0; i < 400; i++) feed(100 + noise());
    expect(alerts.map((a) => a.state)).toEqual(['raised', 'cleared']);
    expect(m.active()).toEqual([]);
  });
});

describe('drift monitor: seasonal CUSUM and pluggable detectors', () => {
  function gaussian(seed: number): () => number {
    let s = seed;
    const u = () => {
      s = (s * 48271) % 2147483647;
      return s / 2147483647;
    };
    return () => Math.sqrt(-2 * Math.log(u() + 1e-12)) * Math.cos(2 * Math.PI * u());
  }
  const SEASON = 288; // a day of five-minute intervals
  function feed(m: DriftMonitor, clock: FakeClock, values: number[]): number[] {
    return values.map((v) => {
      clock.set(clock.now() + 300_000);
      return m.observe('api.latency.p99', v);
    });
  }
  const daily = (t: number, g: () => number, growthPerSeason: number, start: number) =>
    100 * (1 + 0.3 * Math.sin((2 * Math.PI * t) / SEASON)) * (1 + (t < start ? 0 : (growthPerSeason * (t - start)) / SEASON)) * (1 + 0.05 * g());

  it('a slow rise under a daily pattern (+15% a day) raises an alert within a day, none before it began', () => {
    for (const seed of [1, 2, 3]) {
      const clock = new FakeClock();
      const m = new DriftMonitor(clock, { seasonLength: SEASON, clearAfter: 30 });
      const raised: number[] = [];
      let t = 0;
      m.alerts.subscribe((a) => a.state === 'raised' && raised.push(t));
      const g = gaussian(seed);
      const start = 3 * SEASON;
      for (; t < start + 2 * SEASON; t++) feed(m, clock, [daily(t, g, 0.15, start)]);
      expect(raised.filter((x) => x < start)).toEqual([]);
      expect(raised.length).toBeGreaterThanOrEqual(1);
      expect(raised[0]! - start).toBeLessThan(SEASON); // the curve is then only ~15% higher: far from a 2× breach
    }
  });

  it('the same pattern without the rise raises nothing for a week', () => {
    const clock = new FakeClock();
    const m = new DriftMonitor(clock, { seasonLength: SEASON, clearAfter: 30 });
    const raised: number[] = [];
    m.alerts.subscribe((a) => a.state === 'raised' && raised.push(a.at));
    const g = gaussian(4);
    feed(m, clock, Array.from({ length: 8 * SEASON }, (_, t) => daily(t, g, 0, 0)));
    expect(raised).toEqual([]);
  });

  it('a step that recovers raises once, clears within 30 intervals of the recovery, and is not alerted again a season later', () => {
    const clock = new FakeClock();
    const m = new DriftMonitor(clock, { seasonLength: SEASON, clearAfter: 6 });
    const states: [string, number][] = [];
    let t = 0;
    m.alerts.subscribe((a) => states.push([a.state, t]));
    const g = gaussian(5);
    const start = 3 * SEASON;
    const end = start + 24; // two hours at +60%
    for (; t < end + SEASON; t++) feed(m, clock, [daily(t, g, 0, 0) * (t >= start && t < end ? 1.6 : 1)]);
    expect(states.map((s) => s[0])).toEqual(['raised', 'cleared']);
    expect(states[0]![1]).toBeGreaterThanOrEqual(start);
    // the capped CUSUM decays from h = 20 below 0.56·h in ~18 intervals, then clearAfter (6) low intervals
    expect(states[1]![1] - end).toBeLessThanOrEqual(30);
    expect(m.active()).toEqual([]);
  });

  it('takes any detector from a factory, refuses a factory that does not make one, and survives one that throws later', () => {
    const clock = new FakeClock();
    const m = new DriftMonitor(clock, { detector: () => new LikelihoodDriftDetector({ warmup: 40, window: 100 }), raiseAt: 0.47, confirm: 1 });
    const alerts: DriftAlert[] = [];
    m.alerts.subscribe((a) => alerts.push(a));
    const g = gaussian(6);
    for (let i = 0; i < 300; i++) m.observe('q.backlog', 50 + g());
    for (let i = 0; i < 5; i++) m.observe('q.backlog', 90 + g());
    expect(alerts.map((a) => a.state)).toContain('raised');

    expect(() => new DriftMonitor(clock, { detector: (() => 42) as never })).toThrow(/Expected `drift.detector` to be a function returning a Detector/);
    let calls = 0;
    const flaky = new DriftMonitor(clock, {
      detector: () => {
        if (++calls > 1) throw new Error('boom');
        return new RobustDriftDetector();
      },
    });
    expect(flaky.observe('a', 1)).toBe(0); // the factory throws on this signal's first value: the value is lost, nothing else
    const broken = new DriftMonitor(clock, {
      detector: () => ({
        update: () => {
          throw new Error('broken detector');
        },
        reset: () => undefined,
      }),
    });
    expect(broken.observe('b', 1)).toBe(0);
    expect(broken.active()).toEqual([]);
  });
});
