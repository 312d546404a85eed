import { describe, expect, it } from 'vitest';
import type { Clock } from '../../core/clock.js';
import { FakeClock, flushMicrotasks } from '../../core/fake-clock.js';
import { createWall } from '../../wall/wall.js';
import { bulkhead, type BulkheadOptions } from './bulkhead.js';
import { runInBackground } from './priority-lanes.js';
import { scavengerOption } from './scavenger.js';

/**
 * A steady simulated load on a limit of 8 (background share 2 slots) on a fake clock: calls of another
 * class arriving at random (a seeded Poisson process, `fgEvery` ms apart on average, so that they do not
 * phase-lock with the background's pacing) whose latency is `J × (1 + k × background calls running when
 * it starts)`, J spread as 0.8 + an exponential of mean 0.2 (drawn as a low-discrepancy sequence, so that
 * an interval's statistics are near exact: the background's harm is known, and `k` can change mid-run),
 * plus 2 ms for a share `tail × background calls running` of them (a call that found the CPU taken),
 * and `workers` background
 * workers that each run one call of `bgMs` after another. Records the window at each step and the
 * background's slot-time (occupancy), per step.
 */
function simulate(options: { k: number; tail?: number; fgEvery?: number; scavenger?: NonNullable<Exclude<BulkheadOptions['priority'], false>>['scavenger'] }) {
  const clock = new FakeClock();
  const b = bulkhead({ limit: 8, queue: 1000, clock, priority: { reserved: 0.25, background: 0.25, ...(options.scavenger === undefined ? {} : { scavenger: options.scavenger }) } });
  const sim = { k: options.k, tail: options.tail ?? 0, fgEvery: options.fgEvery ?? 1.3, bgMs: 2, workers: 8 };
  let nth = 0;
  /** The i-th value of J: 0.8 plus the exponential (mean 0.2) quantile of the golden-ratio sequence. */
  const spread = () => 0.8 - 0.2 * Math.log(1 - ((++nth * 0.6180339887498949) % 1));
  const sleep = (ms: number) => new Promise<void>((r) => clock.setTimer(r, ms));
  let running = true;
  let bgSlotMs = 0;
  let bgCalls = 0;
  let fgCalls = 0;
  let fgLatency = 0;
  let fgErrors = 0;
  let seed = 7;
  const uniform = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const foreground = async () => {
    while (running) {
      const started = clock.now();
      void b
        .execute(() => {
          const n = b.stats().backgroundActive;
          return sleep(spread() * (1 + sim.k * n) + (uniform() < sim.tail * n ? 2 : 0));
        })
        .then(
          () => {
            fgCalls++;
            fgLatency += clock.now() - started;
          },
          () => void fgErrors++,
        );
      await sleep(-Math.log(1 - uniform()) * sim.fgEvery);
    }
  };
  const worker = async () => {
    while (running) {
      await runInBackground(() =>
        b.execute(async () => {
          await sleep(sim.bgMs);
          bgSlotMs += sim.bgMs;
          bgCalls++;
        }),
      );
    }
  };
  void foreground();
  for (let i = 0; i < sim.workers; i++) void worker();
  /** Runs `ms` of simulated time in steps of `step`, returning the window after each step and the step's background occupancy. */
  const run = async (ms: number, step = 250) => {
    const windows: number[] = [];
    const occupancy: number[] = [];
    for (let t = 0; t < ms; t += step) {
      const before = bgSlotMs;
      await clock.advance(step);
      windows.push(b.stats().backgroundWindow);
      occupancy.push((bgSlotMs - before) / step);
    }
    return { windows, occupancy };
  };
  const meanLatency = async (ms: number) => {
    const [n, sum] = [fgCalls, fgLatency];
    await run(ms);
    return (fgLatency - sum) / (fgCalls - n);
  };
  const stop = async () => {
    running = false;
    await clock.advance(100);
  };
  return { clock, b, sim, run, meanLatency, stop, counts: () => ({ bgCalls, fgCalls, fgErrors }) };
}

const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;

describe('background as a scavenger class', () => {
  it('shrinks the background window to its floor while the other calls slow down beside it, and background keeps draining', async () => {
    // each background call in flight doubles the other calls' latency: far over the 10% target
    const s = simulate({ k: 1, scavenger: { min: 1 } });
    expect(s.b.stats().backgroundWindow).toBe(1); // a scavenger starts at its floor (no evidence yet)
    await s.run(4000);
    s.b.adopt(bulkhead({ limit: 8, queue: 1000, priority: { reserved: 0.25, background: 0.25, scavenger: { min: 2 } } }));
    expect(s.b.stats().backgroundWindow).toBe(2); // a floor as high as the share: the whole share
    s.b.adopt(bulkhead({ limit: 8, queue: 1000, priority: { reserved: 0.25, background: 0.25, scavenger: { min: 1 } } }));
    const { windows, occupancy } = await s.run(6000);
    // by 20% a decision (a decision about every 0.4 s here): 2, 1.6, 1.28, 1.02, then the floor (min: 1)
    expect(windows[0]).toBeLessThan(2);
    expect(windows.slice(8).every((w) => w === 1)).toBe(true);
    // background still runs, about one slot, less the probes (about one part in 17 of the time)
    expect(occupancy.slice(8).every((o) => o > 0)).toBe(true);
    expect(mean(occupancy.slice(8))).toBeGreaterThan(0.8);
    expect(mean(occupancy.slice(8))).toBeLessThanOrEqual(1);
    await s.stop();
  });

  it('below one slot the floor is a duty cycle: min 0.25 keeps a quarter of a slot busy, never none', async () => {
    const s = simulate({ k: 1, scavenger: { min: 0.25 } });
    await s.run(7000);
    const { windows, occupancy } = await s.run(8000, 1000);
    expect(windows.every((w) => w === 0.25)).toBe(true);
    // every second some background work is done, at about a quarter of a slot (a probe takes a little)
    for (const o of occupancy) {
      expect(o).toBeGreaterThan(0.1);
      expect(o).toBeLessThan(0.3);
    }
    expect(mean(occupancy)).toBeGreaterThan(0.2);
    await s.stop();
  });

  it('paces calls far shorter than a timer tick to the window too (bursts of about 2 ms, then a pause)', async () => {
    const s = simulate({ k: 1, scavenger: { min: 0.5 } });
    s.sim.bgMs = 0.3; // a short query: one timer tick after each would hold background near 0.3 / 1.3 of a slot
    await s.run(6000);
    const { windows, occupancy } = await s.run(6000, 1000);
    expect(windows.every((w) => w === 0.5)).toBe(true);
    expect(mean(occupancy)).toBeGreaterThan(0.42);
    expect(mean(occupancy)).toBeLessThanOrEqual(0.5);
    await s.stop();
  });

  it('grows back to the whole share once the other calls are calm again', async () => {
    const s = simulate({ k: 1, scavenger: { min: 0.25 } });
    await s.run(7000);
    expect(s.b.stats().backgroundWindow).toBe(0.25);
    s.sim.k = 0; // background no longer slows anything down
    const { windows, occupancy } = await s.run(10_000);
    // ×1.2 a decision below a slot, +0.2 slot a decision above: about 13 decisions, 6 s here
    const back = windows.findIndex((w) => w === 2);
    expect(back).toBeGreaterThan(8);
    expect(back).toBeLessThan(32);
    expect(mean(windows.slice(-8))).toBeGreaterThan(1.9);
    expect(mean(occupancy.slice(-8))).toBeGreaterThan(1.5);
    await s.stop();
  });

  it('settles where the inflation is the target, without oscillating, on a steady load', async () => {
    // latency rises 3.5% per background slot, which raises the tail excess (past the baseline's 90th
    // percentile) 28% per slot: the 10% target is met at 0.36 of a slot by the model
    const s = simulate({ k: 0.035, scavenger: { min: 0.1 } });
    await s.run(8000);
    const { windows } = await s.run(15_000);
    // which calls meet a background call is random, so the window moves within a band, never far
    expect(mean(windows)).toBeGreaterThan(0.28);
    expect(mean(windows)).toBeLessThan(0.45);
    for (const w of windows) expect(w).toBeGreaterThan(0.2);
    for (const w of windows) expect(w).toBeLessThan(0.6);
    // no sawtooth: a step is small (halving on each breach would swing by 0.18 and reach below 0.2)
    const steps = windows.slice(1).map((w, i) => Math.abs(w - windows[i]!));
    expect(Math.max(...steps)).toBeLessThan(0.15);
    await s.stop();
  });

  it('settles between whole slots too (1.46 slots by the model at 0.9% per slot, the floor at 1)', async () => {
    const s = simulate({ k: 0.009, scavenger: { min: 1 } });
    await s.run(8000);
    const { windows, occupancy } = await s.run(15_000);
    expect(mean(windows)).toBeGreaterThan(1.25);
    expect(mean(windows)).toBeLessThan(1.6);
    // within the band, neither at the floor nor at the share
    for (const w of windows) expect(w).toBeGreaterThan(1);
    for (const w of windows) expect(w).toBeLessThan(1.95);
    // no step of more than a fifth of the window (halving on each breach would drop to the floor)
    const steps = windows.slice(1).map((w, i) => Math.abs(w - windows[i]!) / windows[i]!);
    expect(Math.max(...steps)).toBeLessThan(0.21);
    expect(mean(occupancy)).toBeGreaterThan(1.1);
    expect(mean(occupancy)).toBeLessThan(1.6);
    await s.stop();
  });

  it('sees harm the mean hardly shows: background that makes a few calls 2 ms slower is held to its floor', async () => {
    // 2% of the other calls per background slot take 2 ms more: at the whole share (2 slots) their mean
    // rises about 8%, under a 10% target, but their tail excess rises about 17 times
    const full = simulate({ k: 0, tail: 0.02, scavenger: false });
    await full.run(1000);
    expect(await full.meanLatency(5000)).toBeLessThan(1.1);
    await full.stop();
    const s = simulate({ k: 0, tail: 0.02, scavenger: { min: 1 } });
    await s.run(4000);
    const { windows } = await s.run(5000);
    expect(windows.every((w) => w === 1)).toBe(true);
    await s.stop();
  });

  it('scavenger: false keeps the whole share whatever the other calls suffer', async () => {
    const s = simulate({ k: 1, scavenger: false });
    const { windows, occupancy } = await s.run(4000);
    expect(windows.every((w) => w === 2)).toBe(true);
    expect(mean(occupancy.slice(1))).toBeGreaterThan(1.9);
    await s.stop();
  });

  it('never touches a limit without background calls: no clock reading, no timer, the fused fast path', async () => {
    const fake = new FakeClock();
    let readings = 0;
    const clock: Clock = {
      now: () => (readings++, fake.now()),
      setTimer: (fn, ms) => fake.setTimer(fn, ms),
      clearTimer: (h) => fake.clearTimer(h),
    };
    const b = bulkhead({ limit: 4, clock });
    const before = readings;
    for (let i = 0; i < 200; i++) {
      expect(b.tryAcquire()).toBe(true);
      b.release();
      await b.execute(() => Promise.resolve(i));
    }
    expect(readings).toBe(before);
    expect(fake.pendingTimers()).toBe(0);
    expect(b.stats()).toMatchObject({ backgroundActive: 0, backgroundWindow: 0.25 });
  });

  it('probes take about one part in seventeen of the time, and the limit stops timing the other calls once background has gone', async () => {
    const s = simulate({ k: 1 });
    await s.run(4000);
    // a probe holds background at zero until it has its calls; then 16 times as long before the next
    const { occupancy } = await s.run(30_000, 50);
    const held = occupancy.filter((o) => o === 0).length / occupancy.length;
    expect(held).toBeGreaterThan(0.02);
    expect(held).toBeLessThan(0.08);
    const starts = occupancy.filter((o, i) => o === 0 && (occupancy[i - 1] ?? 1) > 0).length;
    expect(starts).toBeGreaterThanOrEqual(3);
    await s.stop();
    // the workers have stopped: a few more calls of another class end, and the limit stops timing them
    const fg = async () => s.b.execute(() => new Promise<void>((r) => s.clock.setTimer(r, 1)));
    for (let i = 0; i < 1000; i++) {
      void fg();
      await s.clock.advance(2);
    }
    expect(s.b.tryAcquire()).toBe(true); // the fused fast path is back
    s.b.release();
  });

  it('is reconfigured live: a new target and floor apply to the window in force, false stops it, and back on it resumes', async () => {
    const s = simulate({ k: 1, scavenger: { min: 1 } });
    await s.run(4000);
    expect(s.b.stats().backgroundWindow).toBe(1);
    s.b.adopt(bulkhead({ limit: 8, queue: 1000, priority: { reserved: 0.25, background: 0.25, scavenger: { min: 0.5, target: 0.2 } } }));
    const lowered = await s.run(3000);
    expect(lowered.windows.at(-1)).toBe(0.5);
    expect(s.b.priority).toMatchObject({ scavenger: { min: 0.5, target: 0.2, intervalMs: 250 } });
    s.b.adopt(bulkhead({ limit: 8, queue: 1000, priority: { reserved: 0.25, background: 0.25, scavenger: false } }));
    const off = await s.run(2000);
    expect(off.windows.every((w) => w === 2)).toBe(true);
    expect(s.clock.pendingTimers()).toBeLessThan(20); // the scavenger's timer is gone (only the simulation's)
    s.b.adopt(bulkhead({ limit: 8, queue: 1000, priority: { reserved: 0.25, background: 0.25, scavenger: { min: 0.5 } } }));
    expect(s.b.stats().backgroundWindow).toBe(0.5); // the state carried over
    await s.stop();
  });

  it('checks its options at declaration, naming the field, the expectation and the value', () => {
    expect(() => bulkhead({ limit: 8, priority: { scavenger: { target: 0 } } })).toThrow('Expected `concurrency.priority.scavenger.target` to be a ratio > 0 and ≤ 1, got `0` (number)');
    expect(() => bulkhead({ limit: 8, priority: { scavenger: { min: -1 } } })).toThrow('Expected `concurrency.priority.scavenger.min` to be a finite number > 0, got `-1` (number)');
    expect(() => bulkhead({ limit: 8, priority: { scavenger: { interval: '5ms' } } })).toThrow('Expected `concurrency.priority.scavenger.interval` to be a duration between 10ms');
    expect(() => bulkhead({ limit: 8, priority: { scavenger: { gain: 2 } as never } })).toThrow('Unknown option `concurrency.priority.scavenger.gain`');
    expect(() => bulkhead({ limit: 8, priority: { scavenger: true as never } })).toThrow(
      'Expected `concurrency.priority.scavenger` to be { target?, min?, interval? } or false, got `true` (boolean)',
    );
    expect(scavengerOption('s', undefined)).toEqual({ target: 0.1, min: 0.25, intervalMs: 250 });
    expect(scavengerOption('s', { target: 0.05, min: 0.5, interval: '1s' })).toEqual({ target: 0.05, min: 0.5, intervalMs: 1000 });
    // a dependency's concurrency section names the dependency
    const wall = createWall({ service: 't' });
    expect(() => wall.dependency('db', { concurrency: { limit: 8, priority: { scavenger: { target: 2 } } } })).toThrow(
      'Expected `db.concurrency.priority.scavenger.target` to be a ratio > 0 and ≤ 1, got `2` (number)',
    );
  });
});

describe('live configuration through the wall', () => {
  it('a dependency takes new scavenger options in place', async () => {
    const clock = new FakeClock();
    const wall = createWall({ service: 't', clock });
    const db = wall.dependency('db', { timeout: false, breaker: false, concurrency: { limit: 8, priority: { scavenger: { target: 0.1 } } } });
    wall.configure({ dependencies: { db: { concurrency: { limit: 8, priority: { scavenger: { target: 0.3, min: 0.5 } } } } } }, { reason: 'r', by: 't' });
    await flushMicrotasks();
    expect(db.bulkhead?.priority).toMatchObject({ scavenger: { target: 0.3, min: 0.5 } });
    await wall.close();
  });
});
