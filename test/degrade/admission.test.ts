import { describe, expect, it } from 'vitest';
import { AdmissionController, type Ticket } from '../../src/degrade/admission.js';
import { type BlastwallError, createWall } from '../../src/index.js';
import { HttpGuard } from '../../src/http/guard.js';
import { PRIORITIES, type Priority } from '../../src/wall/context.js';
import { FakeClock } from '../../src/testing/index.js';
import { simulateLoop, simulateSlots } from './admission-sim.js';

const settle = <T>(p: Promise<T>) =>
  p.then(
    (v) => ({ ok: true as const, v }),
    (e: BlastwallError) => ({ ok: false as const, code: e.code }),
  );

/** 20% critical (5% critical-plus, 15% critical), 80% sheddable (20% sheddable-plus, 60% sheddable), at `m` × C. */
const mix = (m: number, C: number): Record<Priority, number> => ({
  'critical-plus': 0.05 * m * C,
  critical: 0.15 * m * C,
  'sheddable-plus': 0.2 * m * C,
  sheddable: 0.6 * m * C,
});

/** Admits `n` requests of each class, releasing the admitted at once; counts the refused per class. */
async function offer(a: AdmissionController, n: number): Promise<Record<Priority, number>> {
  const refused = { 'critical-plus': 0, critical: 0, 'sheddable-plus': 0, sheddable: 0 };
  for (let i = 0; i < n; i++) {
    for (const p of PRIORITIES) {
      const r = await settle(a.admit(p));
      if (r.ok) (r.v as Ticket).release();
      else refused[p]++;
    }
  }
  return refused;
}

describe('admission: the shed controller reads the resource that saturates', () => {
  it('a saturated, backlogged event loop sheds sheddable work at the door and never critical work', async () => {
    const clock = new FakeClock();
    let util = 1;
    let delay = 200;
    const a = new AdmissionController({ clock, eventLoopUtilization: () => util, eventLoopDelay: () => delay });
    for (let i = 0; i < 6; i++) {
      await offer(a, 5);
      await clock.advance(100); // windows judged: saturated and 200 ms behind, not draining
    }
    const refused = await offer(a, 20);
    expect(refused.sheddable).toBe(20);
    expect(a.snapshot().shedClasses).toContain('sheddable');
    expect(refused['critical-plus'] + refused.critical).toBe(0);
    expect(a.snapshot().state).toBe('over');
    // the loop has room again: the classes come back, one at a time, with no critical refusal on the way
    util = 0.5;
    delay = 2;
    let critical = 0;
    for (let i = 0; i < 40; i++) {
      await clock.advance(100);
      const r = await offer(a, 3);
      critical += r['critical-plus'] + r.critical;
    }
    expect(critical).toBe(0);
    expect(a.snapshot()).toMatchObject({ shedLevel: 0, shedClasses: [] });
    expect((await offer(a, 10)).sheddable).toBe(0);
    // traffic stops: nothing left to govern, the sampler stops by itself
    await clock.advance(2000);
    expect(clock.pendingTimers()).toBe(0);
    a.close();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('never sheds while utilisation is below saturation, whatever the delay reads', async () => {
    const clock = new FakeClock();
    const a = new AdmissionController({ clock, eventLoopUtilization: () => 0.6, eventLoopDelay: () => 500 });
    let refused = 0;
    for (let i = 0; i < 30; i++) {
      const r = await offer(a, 3);
      refused += r.sheddable + r['sheddable-plus'] + r.critical + r['critical-plus'];
      await clock.advance(100);
    }
    expect(refused).toBe(0);
    expect(a.snapshot().shedLevel).toBe(0);
    a.close();
  });

  it('a saturated loop without backlog holds: nothing is shed', async () => {
    const clock = new FakeClock();
    const a = new AdmissionController({ clock, eventLoopUtilization: () => 1, eventLoopDelay: () => 10 });
    let refused = 0;
    for (let i = 0; i < 20; i++) {
      const r = await offer(a, 3);
      refused += r.sheddable + r['sheddable-plus'];
      await clock.advance(100);
    }
    expect(refused).toBe(0);
    expect(a.snapshot().state).toBe('hold');
    a.close();
  });

  it('a throwing or non-numeric probe is no reading: admission goes on', async () => {
    const clock = new FakeClock();
    const a = new AdmissionController({
      clock,
      eventLoopUtilization: () => {
        throw new Error('probe broke');
      },
      eventLoopDelay: () => Number.NaN,
    });
    for (let i = 0; i < 5; i++) {
      expect(Object.values(await offer(a, 2)).reduce((x, y) => x + y, 0)).toBe(0);
      await clock.advance(100);
    }
    a.close();
  });

  it('stops sampling while idle and refuses with CLOSED after close, leaving no timer', async () => {
    const clock = new FakeClock();
    const a = new AdmissionController({ clock, eventLoopUtilization: () => 0.1, eventLoopDelay: () => 0 });
    (await a.admit('sheddable')).release();
    expect(clock.pendingTimers()).toBe(1); // the sampler
    await clock.advance(300);
    expect(clock.pendingTimers()).toBe(0); // a window without arrivals and nothing shed: stopped
    (await a.admit('critical')).release();
    a.close();
    expect(clock.pendingTimers()).toBe(0);
    expect(await settle(a.admit('critical'))).toEqual({ ok: false, code: 'CLOSED' });
  });
});

describe('admission: a saturated event loop is the slot', () => {
  it('starts one piece of work per loop turn, highest class first; sheddable work behind waiting work is refused at once', async () => {
    const clock = new FakeClock();
    const turns: (() => void)[] = [];
    const nextTurn = async () => {
      for (const f of turns.splice(0)) f();
      await Promise.resolve();
    };
    const a = new AdmissionController({ clock, limit: 100, eventLoopUtilization: () => 1, eventLoopDelay: () => 2, eventLoopTurn: (fn) => turns.push(fn) });
    (await a.admit('sheddable')).release();
    await clock.advance(100); // one window: saturated
    expect(a.snapshot().paced).toBe(true);
    await nextTurn();
    // one poll phase: the first arrival starts, the rest wait for the next turns
    const first = a.admit('sheddable');
    const crit = a.admit('critical');
    const plus = a.admit('critical-plus');
    const shed = settle(a.admit('sheddable'));
    const shedPlus = settle(a.admit('sheddable-plus'));
    const started: string[] = [];
    void first.then((t) => (started.push('sheddable'), t.release()));
    void crit.then((t) => (started.push('critical'), t.release()));
    void plus.then((t) => (started.push('critical-plus'), t.release()));
    await Promise.resolve();
    expect(started).toEqual(['sheddable']);
    expect(await shed).toEqual({ ok: false, code: 'SHED' });
    expect(await shedPlus).toEqual({ ok: false, code: 'SHED' });
    expect(a.snapshot().queued).toBe(2);
    await nextTurn();
    expect(started).toEqual(['sheddable', 'critical-plus']);
    await nextTurn();
    expect(started).toEqual(['sheddable', 'critical-plus', 'critical']);
    await nextTurn();
    expect(a.snapshot().queued).toBe(0);
    // the loop has room again: pacing ends, work starts freely
    a.close();
  });

  it('paces at once when one turn has run 20 ms of admitted work, without waiting for the window', async () => {
    const clock = new FakeClock();
    const turns: (() => void)[] = [];
    const a = new AdmissionController({ clock, limit: 100, eventLoopUtilization: () => 1, eventLoopDelay: () => 0, eventLoopTurn: (fn) => turns.push(fn) });
    for (let i = 0; i < 4; i++) {
      const t = await a.admit('sheddable');
      clock.block(6); // synchronous work, all in one turn (one poll phase parsed a burst)
      t.release();
    }
    // the same turn has run 24 ms of work: the next arrival waits for the next turn
    const waiting = a.admit('critical');
    expect(a.snapshot()).toMatchObject({ paced: true, queued: 1 });
    expect(await settle(a.admit('sheddable-plus'))).toEqual({ ok: false, code: 'SHED' });
    for (const f of turns.splice(0)) f();
    (await waiting).release();
    expect(a.snapshot().queued).toBe(0);
    a.close();
  });

  it('a loop with room is not paced: work starts at once, in any number per turn', async () => {
    const clock = new FakeClock();
    const turns: (() => void)[] = [];
    const a = new AdmissionController({ clock, limit: 100, eventLoopUtilization: () => 0.3, eventLoopDelay: () => 0, eventLoopTurn: (fn) => turns.push(fn) });
    for (let w = 0; w < 3; w++) {
      const ts = await Promise.all(PRIORITIES.map((p) => a.admit(p)));
      expect(a.snapshot().inflight).toBe(4);
      for (const t of ts) t.release();
      for (const f of turns.splice(0)) f();
      await clock.advance(100);
    }
    expect(a.snapshot()).toMatchObject({ paced: false, queued: 0 });
    a.close();
  });
});

describe('admission options are validated at declaration', () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ eventLoopDelay: 50 }, /Expected `admission\.eventLoopDelay` to be a function, got `50` \(number\)/],
    [{ eventLoopUtilization: 'high' }, /`admission\.eventLoopUtilization` to be a function/],
    [{ eventLoop: 'yes' }, /`admission\.eventLoop`/],
    [{ saturation: 1.5 }, /`admission\.saturation` to be a ratio/],
    [{ sampleInterval: '5ms' }, /`admission\.sampleInterval`/],
    [{ recovery: '50ms' }, /`admission\.recovery`/],
    [{ maxWait: -1 }, /`admission\.maxWait`/],
    [{ maxEventLoopDelayMs: 0 }, /`admission\.maxEventLoopDelayMs`/],
    [{ queue: 1.5 }, /`admission\.queue`/],
    [{ limit: 0 }, /`admission\.limit`/],
    [{ limit: 'many' }, /`admission\.limit`/],
    [{ limit: { adaptive: { min: 0 } } }, /concurrency\.adaptive\.min/],
    [{ target: 'soon' }, /`admission\.target`/],
    [{ interval: 0 }, /`admission\.interval`/],
    [{ clock: {} }, /`admission\.clock`/],
    [{ eventLoopTurn: 1 }, /`admission\.eventLoopTurn`/],
    [{ unknown: 1 }, /Unknown option `admission\.unknown`/],
  ];
  it('through the HTTP guard too, at declaration', async () => {
    const wall = createWall({ service: 's' });
    expect(() => new HttpGuard(wall, { admission: { eventLoopDelay: 5 } as never })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringMatching(/`admission\.eventLoopDelay` to be a function, got `5` \(number\)/) as unknown }),
    );
    const g = new HttpGuard(wall, { admission: {} });
    expect(g.admission!.snapshot()).toMatchObject({ shedLevel: 0, state: 'room', levelChanges: 0 });
    g.close();
    await wall.close();
  });

  for (const [options, message] of bad) {
    it(`rejects ${JSON.stringify(options)}`, () => {
      let err: BlastwallError | undefined;
      try {
        new AdmissionController(options as never);
      } catch (e) {
        err = e as BlastwallError;
      }
      expect(err?.code).toBe('CONFIG_INVALID');
      expect(err?.message).toMatch(message);
    });
  }
});

describe('admission on simulated overload (fake clock): no oscillation between classes', () => {
  it('CPU-bound service (5 ms of CPU per request) at 4× C: critical never refused, ≥ 0.9 C, the level settles', async () => {
    // parsing 50 µs per request, a refusal 100 µs more: about what bench:overload measured per 503 (see docs/overload.md)
    const C = 1000 / 5.05;
    const r = await simulateLoop({ rates: mix(4, C), seconds: 20, warmupSeconds: 3, costMs: 5, refuseMs: 0.1, parseMs: 0.05 });
    expect(r.criticalRefused).toBe(0);
    expect(r.idleRefusing).toBe(0);
    expect(r.goodput).toBeGreaterThanOrEqual(0.9 * C);
    // level changes after the warm-up: at most one settling step, never a back-and-forth every few windows
    expect(r.flips).toBeLessThanOrEqual(1);
    expect(new Set(r.levels.slice(5)).size).toBe(1);
    expect(r.good.critical).toBeGreaterThanOrEqual(r.sent.critical * 0.99);
    // the backlog lives in the admission queue, not in front of the parser: the loop reaches every request
    // within a few turns, and critical work waits only behind critical work
    expect(r.maxUnparsedMs).toBeLessThan(25);
    expect(r.maxCriticalQueueMs).toBeLessThan(300);
  }, 60_000);

  it('CPU-bound service at 2× C: the same, with more sheddable work served', async () => {
    const C = 1000 / 5.05;
    const r = await simulateLoop({ rates: mix(2, C), seconds: 15, warmupSeconds: 3, costMs: 5, refuseMs: 0.1, parseMs: 0.05 });
    expect(r.criticalRefused).toBe(0);
    expect(r.idleRefusing).toBe(0);
    expect(r.goodput).toBeGreaterThanOrEqual(0.9 * C);
    expect(r.good.critical).toBeGreaterThanOrEqual(r.sent.critical * 0.99);
    expect(r.good['sheddable-plus'] + r.good.sheddable).toBeGreaterThan(0.05 * C * 12);
    expect(r.flips).toBeLessThanOrEqual(1);
  }, 60_000);

  it('refusals that cost more leave less room for sheddable work, never less for critical work', async () => {
    // 0.3 ms per refusal (three times the above): the loop spends ~18% of itself refusing at 4×
    const C = 1000 / 5.05;
    const r = await simulateLoop({ rates: mix(4, C), seconds: 15, warmupSeconds: 3, costMs: 5, refuseMs: 0.25, parseMs: 0.05 });
    expect(r.criticalRefused).toBe(0);
    expect(r.good.critical + r.good['critical-plus']).toBeGreaterThanOrEqual((r.sent.critical + r.sent['critical-plus']) * 0.99);
    expect(r.goodput).toBeLessThan(0.9 * C); // the bound is physical: served = (1 − refusals × cost) / cost of a request
    expect(r.goodput).toBeGreaterThanOrEqual(0.8 * C);
  }, 60_000);

  it('slot-bound service (4 slots × 40 ms) at 4× C: critical never refused, ≥ 0.9 C, the level settles', async () => {
    const C = 100;
    const r = await simulateSlots({ rates: mix(4, C), seconds: 20, warmupSeconds: 3, slots: 4, workMs: 40 });
    expect(r.criticalRefused).toBe(0);
    expect(r.goodput).toBeGreaterThanOrEqual(0.9 * C);
    expect(r.flips).toBeLessThanOrEqual(1);
    expect(new Set(r.levels.slice(5)).size).toBe(1);
  }, 60_000);

  it('load falling from 4× to 0.5× and back: the shed classes return once, then are shed once', async () => {
    const C = 1000 / 5.05;
    const r = await simulateLoop({
      rates: mix(4, C),
      schedule: { 10: mix(0.5, C), 20: mix(4, C) },
      seconds: 30,
      warmupSeconds: 3,
      costMs: 5,
      refuseMs: 0.1,
    });
    expect(r.criticalRefused).toBe(0);
    // seconds 3..9 overloaded, 10..19 quiet (nothing shed), 20..29 overloaded again
    expect(r.levels.slice(13, 20)).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(r.flips).toBeLessThanOrEqual(4);
  }, 60_000);
});
