/**
 * Simulated services for the admission controller, driven by a FakeClock in 1 ms steps (no sleeping).
 *
 * - `simulateLoop`: a CPU-bound service. Requests wait in an arrival queue (the kernel's socket buffers)
 *   until the single event loop reaches them; each admitted request costs `costMs` of CPU, a refusal
 *   `refuseMs`. The controller reads the loop's utilisation and delay (how long the oldest request has
 *   waited for the loop) from the model.
 * - `simulateSlots`: a slot-bound service, `slots` units each busy `workMs` per request behind a FIFO, the
 *   loop itself idle.
 *
 * Both send an open-loop mix (shares per class) and count goodput: answered within `deadlineMs` of arrival.
 */
import { AdmissionController, type AdmissionOptions, type Ticket } from '../../src/degrade/admission.js';
import { PRIORITIES, type Priority } from '../../src/wall/context.js';
import { FakeClock, flushMicrotasks } from '../../src/testing/index.js';

export interface SimResult {
  /** Good answers per class. */
  good: Record<Priority, number>;
  sent: Record<Priority, number>;
  /** Critical-class requests refused by the controller. */
  criticalRefused: number;
  /** Good answers per second over the measured part (after warm-up). */
  goodput: number;
  /** Level changes during the measured part. */
  flips: number;
  /** The level at each second. */
  levels: number[];
  /** Ticks of 100 ms during which the controller refused critical work while the loop had room (< 90% busy). */
  idleRefusing: number;
}

export interface SimOptions {
  /** Offered load per second per class. */
  rates: Record<Priority, number>;
  seconds: number;
  warmupSeconds: number;
  deadlineMs?: number;
  admission?: AdmissionOptions;
  /** Rates may change over time: seconds → new rates. */
  schedule?: Record<number, Record<Priority, number>>;
  /** Called every 100 ms with the controller (diagnostics). */
  trace?: (ms: number, a: AdmissionController) => void;
}

const zero = (): Record<Priority, number> => ({ 'critical-plus': 0, critical: 0, 'sheddable-plus': 0, sheddable: 0 });

function arrivals(rates: Record<Priority, number>, acc: Record<Priority, number>): Priority[] {
  const out: Priority[] = [];
  for (const p of PRIORITIES) {
    acc[p] += rates[p] / 1000;
    while (acc[p] >= 1) {
      acc[p] -= 1;
      out.push(p);
    }
  }
  return out;
}

export async function simulateLoop(o: SimOptions & { costMs: number; refuseMs: number }): Promise<SimResult> {
  const clock = new FakeClock();
  const deadline = o.deadlineMs ?? 1000;
  const pending: { p: Priority; at: number }[] = [];
  let busy = 0; // CPU ms used since the utilisation was last read
  let readAt = clock.now();
  let debt = 0; // CPU still owed by work already started
  const a = new AdmissionController({
    clock,
    ...o.admission,
    eventLoopUtilization: () => {
      const now = clock.now();
      const u = now > readAt ? busy / (now - readAt) : 0;
      busy = 0;
      readAt = now;
      return u;
    },
    // the loop's delay: how long the oldest request has waited for the loop
    eventLoopDelay: () => (pending.length === 0 ? debt : clock.now() - pending[0]!.at),
  });
  const r = tally();
  const acc = zero();
  let rates = o.rates;
  let tickBusy = 0;
  let tickCritRefused = 0;
  for (let ms = 0; ms < o.seconds * 1000; ms++) {
    if (o.schedule?.[ms / 1000] !== undefined) rates = o.schedule[ms / 1000]!;
    const measuring = ms >= o.warmupSeconds * 1000;
    for (const p of arrivals(rates, acc)) {
      pending.push({ p, at: clock.now() });
      if (measuring) r.sent[p]++;
    }
    let budget = 1 - Math.min(1, debt);
    debt = Math.max(0, debt - 1);
    while (budget > 0 && pending.length > 0) {
      const req = pending.shift()!;
      let ticket: Ticket | undefined;
      let refused = false;
      a.admit(req.p, { deadlineMs: deadline }).then(
        (t) => (ticket = t),
        () => (refused = true),
      );
      await flushMicrotasks(3);
      const cost = ticket !== undefined ? o.costMs : o.refuseMs;
      budget -= cost;
      if (ticket !== undefined) {
        // the handler runs to completion on the loop
        ticket.release(true);
        if (measuring && clock.now() + Math.max(0, -budget) - req.at <= deadline) r.good[req.p]++;
      } else if (refused && PRIORITIES.indexOf(req.p) <= 1) {
        if (measuring) r.criticalRefused++;
        tickCritRefused++;
      }
    }
    if (budget < 0) debt += -budget;
    const used = 1 - Math.max(0, budget);
    busy += used;
    tickBusy += used;
    const before = a.snapshot().levelChanges;
    await clock.advance(1);
    if (measuring) r.flips += a.snapshot().levelChanges - before;
    if ((ms + 1) % 100 === 0) {
      o.trace?.(ms + 1, a);
      if (tickCritRefused > 0 && tickBusy < 90) r.idleRefusing++;
      tickBusy = 0;
      tickCritRefused = 0;
    }
    if ((ms + 1) % 1000 === 0) r.levels.push(a.snapshot().shedLevel);
  }
  a.close();
  return finish(r, o, clock);
}

export async function simulateSlots(o: SimOptions & { slots: number; workMs: number }): Promise<SimResult> {
  const clock = new FakeClock();
  const deadline = o.deadlineMs ?? 1000;
  const a = new AdmissionController({ clock, ...o.admission });
  const r = tally();
  const acc = zero();
  let busySlots = 0;
  const waiting: (() => void)[] = [];
  const use = (fn: () => void) => {
    const run = () => {
      busySlots++;
      clock.setTimer(() => {
        busySlots--;
        fn();
        waiting.shift()?.();
      }, o.workMs);
    };
    if (busySlots < o.slots) run();
    else waiting.push(run);
  };
  let rates = o.rates;
  for (let ms = 0; ms < o.seconds * 1000; ms++) {
    if (o.schedule?.[ms / 1000] !== undefined) rates = o.schedule[ms / 1000]!;
    const measuring = ms >= o.warmupSeconds * 1000;
    for (const p of arrivals(rates, acc)) {
      if (measuring) r.sent[p]++;
      const at = clock.now();
      a.admit(p, { deadlineMs: deadline }).then(
        (t) =>
          use(() => {
            t.release(true);
            if (measuring && clock.now() - at <= deadline) r.good[p]++;
          }),
        (e: { code?: string }) => {
          // waiters refused by close() at the end of the simulation are not the controller's doing
          if (measuring && PRIORITIES.indexOf(p) <= 1 && e.code !== 'CLOSED') r.criticalRefused++;
        },
      );
    }
    const before = a.snapshot().levelChanges;
    await clock.advance(1);
    if (measuring) r.flips += a.snapshot().levelChanges - before;
    if ((ms + 1) % 100 === 0) o.trace?.(ms + 1, a);
    if ((ms + 1) % 1000 === 0) r.levels.push(a.snapshot().shedLevel);
  }
  a.close();
  return finish(r, o, clock);
}

function tally(): SimResult {
  return { good: zero(), sent: zero(), criticalRefused: 0, goodput: 0, flips: 0, levels: [], idleRefusing: 0 };
}

function finish(r: SimResult, o: SimOptions, clock: FakeClock): SimResult {
  void clock;
  const good = PRIORITIES.reduce((s, p) => s + r.good[p], 0);
  r.goodput = good / (o.seconds - o.warmupSeconds);
  return r;
}
