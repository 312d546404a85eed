/**
 * Simulated services for the admission controller, driven by a FakeClock in 1 ms steps (no sleeping).
 *
 * - `simulateLoop`: a CPU-bound service, turn by turn (timers, poll, check). Requests wait in the kernel
 *   until the loop's poll phase parses them, in arrival order; each costs `parseMs` to parse, an admitted
 *   one `costMs`, a refusal `refuseMs` more. The controller reads the loop's utilisation from the model and
 *   its delay from its own sampler's lateness, as it does for real.
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
  /** Loop model only: the longest a request waited in the kernel before the loop parsed it (ms, after warm-up). */
  maxUnparsedMs: number;
  /** Loop model only: the longest an admitted critical request waited between parsing and its handler (ms, after warm-up). */
  maxCriticalQueueMs: number;
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

export interface LoopCosts {
  /** CPU of one admitted request on the loop (ms), its answer included. */
  costMs: number;
  /** CPU of answering one refusal (ms), besides parsing. */
  refuseMs: number;
  /** CPU of parsing one request and routing it to admission (ms), paid by every request. Default 0.05. */
  parseMs?: number;
}

/**
 * A CPU-bound service on one event loop, turn by turn as Node runs it: timers; then the poll phase, which
 * parses every request that arrived (in arrival order, whatever its class: the kernel knows no priority)
 * and hands each to admission, running admitted work inline; then the check phase (`setImmediate`, where a
 * paced controller starts its next piece of work). Work is synchronous CPU (`FakeClock.block`), so timers
 * (the controller's sampler) fire late when the loop is busy, as they do for real. Requests the loop has
 * not reached wait in the kernel, in front of the parser.
 */
export async function simulateLoop(o: SimOptions & LoopCosts): Promise<SimResult> {
  const clock = new FakeClock();
  const t0 = clock.now();
  const deadline = o.deadlineMs ?? 1000;
  const parseMs = o.parseMs ?? 0.05;
  const immediates: (() => void)[] = [];
  let busy = 0; // CPU ms used since the utilisation was last read
  let readAt = t0;
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
    eventLoopTurn: (fn) => immediates.push(fn),
  });
  const r = tally();
  let rates = o.rates;
  const next = Object.fromEntries(PRIORITIES.map((p) => [p, t0])) as Record<Priority, number>;
  const kernel: { p: Priority; at: number }[] = []; // arrived, not yet parsed (arrival order)
  let generatedTo = t0;
  let tickBusy = 0;
  let tickCritRefused = 0;
  let tickEnd = t0 + 100;
  let secondEnd = t0 + 1000;
  const end = t0 + o.seconds * 1000;
  const measuring = (at: number) => at >= t0 + o.warmupSeconds * 1000;
  const cpu = (ms: number) => {
    clock.block(ms);
    busy += ms;
    tickBusy += ms;
  };
  // outcomes of admission, settled in promise callbacks, acted on by the loop in order
  const outcomes: { p: Priority; at: number; ticket?: Ticket; refused?: boolean }[] = [];
  const settle = async () => {
    await flushMicrotasks(4);
    while (outcomes.length > 0) {
      const x = outcomes.shift()!;
      if (x.ticket !== undefined) {
        cpu(o.costMs); // the handler runs to completion on the loop
        x.ticket.release(true);
        if (measuring(x.at) && clock.now() - x.at <= deadline) r.good[x.p]++;
      } else {
        cpu(o.refuseMs);
        if (PRIORITIES.indexOf(x.p) <= 1) {
          if (measuring(x.at)) r.criticalRefused++;
          tickCritRefused++;
        }
      }
      await flushMicrotasks(4);
    }
  };
  const generate = (to: number) => {
    // arrivals up to `to`, in time order across classes
    const fresh: { p: Priority; at: number }[] = [];
    for (const p of PRIORITIES) {
      if (rates[p] <= 0) {
        next[p] = Math.max(next[p], to);
        continue;
      }
      while (next[p] <= to) {
        fresh.push({ p, at: next[p] });
        if (measuring(next[p])) r.sent[p]++;
        next[p] += 1000 / rates[p];
      }
    }
    fresh.sort((x, y) => x.at - y.at);
    kernel.push(...fresh);
    generatedTo = to;
  };
  while (clock.now() < end) {
    const sec = Math.floor((clock.now() - t0) / 1000);
    if (o.schedule?.[sec] !== undefined && o.schedule[sec] !== rates) rates = o.schedule[sec]!;
    // timers phase: whatever became due while the loop was busy fires now (late)
    const before = a.snapshot().levelChanges;
    await clock.advance(0);
    await settle();
    // poll phase: every request that arrived, in arrival order
    generate(clock.now());
    const batch = kernel.splice(0);
    for (const req of batch) {
      if (measuring(req.at)) r.maxUnparsedMs = Math.max(r.maxUnparsedMs, clock.now() - req.at);
      const parsedAt = clock.now();
      cpu(parseMs);
      a.admit(req.p, { deadlineMs: deadline }).then(
        (ticket) => {
          if (measuring(req.at) && PRIORITIES.indexOf(req.p) <= 1) r.maxCriticalQueueMs = Math.max(r.maxCriticalQueueMs, clock.now() - parsedAt);
          outcomes.push({ ...req, ticket });
        },
        () => void outcomes.push({ ...req, refused: true }),
      );
      await settle();
    }
    // check phase: the immediates queued before it began
    for (const f of immediates.splice(0)) {
      f();
      await settle();
    }
    if (batch.length === 0 && immediates.length === 0) await clock.advance(Math.max(0.01, Math.min(1, generatedTo + 1 - clock.now()))); // idle: wait for I/O
    if (measuring(clock.now())) r.flips += a.snapshot().levelChanges - before;
    while (clock.now() >= tickEnd) {
      o.trace?.(tickEnd - t0, a);
      if (tickCritRefused > 0 && tickBusy < 90) r.idleRefusing++;
      tickBusy = 0;
      tickCritRefused = 0;
      tickEnd += 100;
    }
    while (clock.now() >= secondEnd) {
      r.levels.push(a.snapshot().shedLevel);
      secondEnd += 1000;
    }
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
  return { good: zero(), sent: zero(), criticalRefused: 0, goodput: 0, flips: 0, levels: [], idleRefusing: 0, maxUnparsedMs: 0, maxCriticalQueueMs: 0 };
}

function finish(r: SimResult, o: SimOptions, clock: FakeClock): SimResult {
  void clock;
  const good = PRIORITIES.reduce((s, p) => s + r.good[p], 0);
  r.goodput = good / (o.seconds - o.warmupSeconds);
  return r;
}
