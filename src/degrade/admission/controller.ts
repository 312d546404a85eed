import type { TimerHandle } from '../../core/clock.js';
import { BlastwallError } from '../../core/errors.js';
import { enumOption } from '../../core/validate.js';
import type { Gradient2Limit } from '../../policies/adaptive-concurrency/gradient2.js';
import { PRIORITIES, type Priority } from '../../core/operation-context.js';
import { admissionSettings, type AdmissionOptions, type AdmissionSettings } from './options.js';
import { ShedController, type LoopReading } from './shed.js';
import { LoopProbe } from './signals.js';
import { ClassQueues, refusal, type Waiter } from './queues.js';
import type { AdmissionSnapshot, AdmitOptions, Ticket } from './types.js';

export type { AdmissionSnapshot, AdmitOptions, Ticket } from './types.js';

/** Index of the last critical class (`critical`); classes after it are sheddable. */
const CRITICAL = PRIORITIES.indexOf('critical');
const SHEDDABLE = PRIORITIES.map((_, i) => i).filter((i) => i > CRITICAL);
/** Loop utilisation over a window at or above which work starts one piece per loop turn ... */
const PACE_ON = 0.8;
/** ... and below which it starts freely again. */
const PACE_OFF = 0.5;
/** A loop turn that has run admitted work this long (ms) is saturated: pacing starts at once. */
const PACE_TURN_MS = 20;

/**
 * Admission control for inbound work by priority class (critical-plus, critical, sheddable-plus,
 * sheddable).
 *
 * - **At the door**, the shed controller (`shed.ts`) admits a share of each sheddable class, judged every
 *   sample window on the resource that saturates: the event loop (utilisation and a fresh delay) or the
 *   slot pool (slot utilisation, a standing queue, CoDel drops). Critical classes are never refused there.
 * - **In the queue**, work beyond the in-flight limit (fixed or Gradient2) waits in per-class FIFOs served
 *   highest class first; sheddable work may use 80% of the limit, sheddable-plus 90%. Sheddable waiters
 *   are bounded CoDel-style ("Fail at Scale"): `interval` while the queue empties regularly, `target` once
 *   it stands. Critical waiters are refused only on their own evidence: waiting past their deadline (less
 *   their expected service time) or past `maxWait`, or a queue full of work of their class or above.
 *
 * - **On a saturated event loop** (utilisation at or above 0.8 in the last window, off again below 0.5),
 *   the loop itself is the slot: work starts one piece per loop turn (the next piece in a `setImmediate`),
 *   so between two pieces the poll phase parses every request that arrived and each is refused or queued
 *   by class. The backlog then lives in the admission queue, where priority acts, instead of in socket
 *   buffers in front of the HTTP parser, where it does not: critical work waits only behind critical work,
 *   and sheddable waiters are bounded by CoDel. The standing queue this makes is the loop's, not a pool's,
 *   so it does not cut the door's quota (the door still acts on a backlogged loop's delay).
 *
 * Refused work is answered at once with `SHED` (or `DEADLINE_EXCEEDED`), never left to time out.
 */
export class AdmissionController {
  private readonly s: AdmissionSettings;
  /** The adaptive in-flight limit (Gradient2), unless the limit is fixed. */
  readonly limiter: Gradient2Limit | undefined;
  private readonly shed: ShedController;
  private readonly queues = new ClassQueues<Ticket>(PRIORITIES.length);
  private readonly credit = PRIORITIES.map(() => 0);
  private inflight = 0;
  private lastEmptyAt: number;
  private timer: TimerHandle | undefined;
  // the event loop as the slot: one start per loop turn while `paced`
  private paced = false;
  private turnTaken = false;
  private turnArmed = false;
  private turnStartedAt = 0;
  private readonly loopMeasured: boolean;
  // the current sample window
  private sampler: TimerHandle | undefined;
  private windowStart = 0;
  private dueAt = 0;
  private readonly arrivals = PRIORITIES.map(() => 0);
  private readonly started = PRIORITIES.map(() => 0);
  private busyMs = 0;
  private busySince = 0;
  private emptySeen = true;
  private drops = 0;
  private rtt = 0;
  private service = 0;
  private lastLoop: LoopReading | undefined;
  private readonly probe: LoopProbe;
  private closed = false;
  /** Totals since creation: work admitted, refused (at the door or from the queue), queued, dropped from the queue. */
  readonly stats = { admitted: 0, shed: 0, queued: 0, dropped: 0 };

  constructor(options: AdmissionOptions = {}) {
    this.s = admissionSettings(options);
    this.limiter = this.s.limiter;
    this.probe = new LoopProbe(this.s.eventLoop, this.s.loopDelay, this.s.loopUtilization, this.s.maxDelayMs);
    this.shed = new ShedController({
      classes: SHEDDABLE,
      classCount: PRIORITIES.length,
      sampleMs: this.s.sampleMs,
      recoveryMs: this.s.recoveryMs,
      saturation: this.s.saturation,
      maxDelayMs: this.s.maxDelayMs,
    });
    this.lastEmptyAt = this.s.clock.now();
    this.loopMeasured = this.s.eventLoop || this.s.loopUtilization !== undefined;
  }

  /** The in-flight limit now: the fixed one, or Gradient2's current value. */
  get limit(): number {
    return this.s.fixed ?? this.limiter!.limit;
  }

  /** What the controller is doing now (copied; later changes do not show in it). */
  snapshot(): AdmissionSnapshot {
    const snap: AdmissionSnapshot = {
      inflight: this.inflight,
      queued: this.queues.size,
      limit: this.limit,
      paced: this.paced,
      shedLevel: this.shed.level,
      shedClasses: PRIORITIES.filter((_, i) => this.shed.fraction[i] === 0),
      admitted: Object.fromEntries(PRIORITIES.map((p, i) => [p, Math.round(this.shed.fraction[i]! * 1000) / 1000])) as Record<Priority, number>,
      state: this.shed.state,
      levelChanges: this.shed.flips,
    };
    if (this.lastLoop !== undefined) snap.loop = { ...this.lastLoop };
    return snap;
  }

  /**
   * In-flight work a class may start: sheddable work leaves 20% of the limit, sheddable-plus 10%, to the
   * critical classes, so critical arrivals find a slot while sheddable traffic surges.
   */
  private limitFor(cls: number): number {
    const limit = this.limit;
    return cls <= CRITICAL ? limit : Math.max(1, Math.floor(limit * (cls === CRITICAL + 1 ? 0.9 : 0.8)));
  }

  /** Whether work of a class may start now: room under its limit and, on a paced loop, this turn still free. */
  private canStart(cls: number, now: number): boolean {
    // a turn that has run admitted work for PACE_TURN_MS already is a saturated loop: pace from now on,
    // without waiting for the window (a burst parsed in one poll phase would otherwise all run inline)
    if (this.turnTaken && !this.paced && this.loopMeasured && now - this.turnStartedAt >= PACE_TURN_MS) this.paced = true;
    return this.inflight < this.limitFor(cls) && !(this.paced && this.turnTaken);
  }

  /** Admits work of a class now, queues it, or refuses it (`SHED`, or `DEADLINE_EXCEEDED` for critical work out of time). */
  admit(priority: Priority, options?: AdmitOptions): Promise<Ticket> {
    const r = this.admitNow(priority, options);
    return r instanceof Promise ? r : r instanceof BlastwallError ? Promise.reject(r) : Promise.resolve(r);
  }

  /**
   * `admit` without a promise when the answer is known at once: a `Ticket` (start now), the refusal
   * (returned, not thrown), or a promise when the work waits in the queue. The HTTP adapters use it to
   * answer a refusal in the same turn, without promise hops: a saturated loop refuses hundreds of
   * requests a second, and each microsecond of a refusal is taken from admitted work.
   */
  admitNow(priority: Priority, options?: AdmitOptions): Ticket | BlastwallError | Promise<Ticket> {
    const cls = PRIORITIES.indexOf(enumOption('priority', priority, PRIORITIES));
    if (this.closed) return new BlastwallError('CLOSED', 'Admission control is closed');
    const now = this.s.clock.now();
    if (this.sampler === undefined) this.startSampling(now);
    this.arrivals[cls]!++;
    if (cls <= CRITICAL) {
      // its own evidence on a CPU-bound service: work reaching the loop now waited about the loop's delay for it;
      // past the time it may wait (its deadline, or maxWait) it can no longer be served in time
      const waited = this.lastLoop?.delayMs ?? 0;
      if (waited > Math.min(this.s.maxWaitMs, options?.deadlineMs ?? Number.POSITIVE_INFINITY)) {
        return this.deadlineError(priority, waited, ' for the event loop');
      }
    } else {
      // the door: a share of each sheddable class, set by the shed controller
      const f = this.shed.fraction[cls]!;
      if (f < 1) {
        // deterministic thinning: admit when the accumulated share reaches one request (credit stays below 1)
        const c = this.credit[cls]! + f;
        if (c < 1 - 1e-9) {
          this.credit[cls] = c;
          return this.shedError(priority, f === 0 ? 'overloaded: this class is being shed' : 'overloaded: this class is admitted in part');
        }
        this.credit[cls] = c - 1;
      }
    }
    // room for this class, and nobody of this class or above waiting: start now (lower classes may wait)
    if (this.canStart(cls, now) && !this.queues.waitingAtOrAbove(cls)) return this.start(now, now, cls);
    // a paced loop's next turns are spoken for by the work of this class or above that waits: refuse now
    // rather than queue work that would wait only to be dropped (a refusal costs the loop as much either way)
    if (cls > CRITICAL && this.paced && this.queues.waitingAtOrAbove(cls)) return this.shedError(priority, 'the event loop is saturated; work of this class or above waits');
    if (this.queues.size >= this.s.maxQueue) {
      // full: make room by dropping the newest waiter of a lower class, else refuse this one
      const victim = this.queues.lowestBelow(cls);
      if (victim === undefined) return this.shedError(priority, 'admission queue full');
      this.drop(victim, this.shedError(PRIORITIES[victim.priority]!, 'admission queue full; a higher class arrived'));
    }
    let startBy = Number.POSITIVE_INFINITY;
    if (cls <= CRITICAL) {
      const d = options?.deadlineMs;
      startBy = d !== undefined && Number.isFinite(d) ? now + Math.min(this.s.maxWaitMs, d - this.service) : now + this.s.maxWaitMs;
      if (startBy <= now) return this.deadlineError(priority, 0);
    }
    return new Promise<Ticket>((resolve, reject) => {
      const w: Waiter<Ticket> = { priority: cls, at: now, startBy, resolve, reject, next: undefined };
      this.queues.push(w);
      this.stats.queued++;
      if (this.paced) this.armTurn();
      this.armTimer();
    });
  }

  private setInflight(now: number, delta: number): void {
    this.busyMs += Math.min(this.inflight, this.limit) * (now - this.busySince);
    this.busySince = now;
    this.inflight += delta;
  }

  private start(now: number, queuedAt: number, cls: number): Ticket {
    this.setInflight(now, 1);
    this.stats.admitted++;
    this.started[cls]!++;
    if (this.loopMeasured && !this.turnTaken) {
      // the first piece of work in this turn (paced: the only one); the turn ends at the next check phase
      this.turnTaken = true;
      this.turnStartedAt = now;
      this.armTurn();
    }
    const startedInflight = this.inflight;
    let done = false;
    return {
      queuedMs: now - queuedAt,
      release: (ok = true) => {
        if (done) return;
        done = true;
        const end = this.s.clock.now();
        this.setInflight(end, -1);
        if (ok) {
          this.limiter?.sample(end - now, startedInflight);
          this.rtt = this.rtt === 0 ? end - queuedAt : this.rtt * 0.9 + (end - queuedAt) * 0.1;
          this.service = this.service === 0 ? end - now : this.service * 0.9 + (end - now) * 0.1;
        }
        this.drain();
      },
    };
  }

  /** Starts queued work while there is room (one piece per turn on a paced loop), highest class first, dropping waiters past their limits. */
  private drain(): void {
    const now = this.s.clock.now();
    const standing = now - this.lastEmptyAt > this.s.intervalMs;
    // The short CoDel target applies to the lowest sheddable class waiting; critical classes wait by their own limits.
    const lowest = Math.max(CRITICAL + 1, this.queues.lowestWaiting());
    for (let cls = 0; cls < PRIORITIES.length; cls++) {
      const limitMs = standing && cls > CRITICAL && cls >= lowest ? this.s.targetMs : this.s.intervalMs;
      if (cls <= CRITICAL) {
        // critical waiters carry their own deadlines, not in FIFO order: refuse every one out of time
        for (let w = this.queues.head(cls); w !== undefined; ) {
          const next = w.next;
          if (now > w.startBy) this.drop(w, this.deadlineError(PRIORITIES[cls]!, now - w.at));
          w = next;
        }
      }
      for (let w = this.queues.head(cls); w !== undefined; w = this.queues.head(cls)) {
        if (cls <= CRITICAL ? now > w.startBy : now - w.at > limitMs) {
          const p = PRIORITIES[cls]!;
          if (cls > CRITICAL) this.drops++;
          this.drop(w, cls <= CRITICAL ? this.deadlineError(p, now - w.at) : this.shedError(p, `waited ${Math.round(now - w.at)}ms, over the ${limitMs}ms queue limit`));
          continue;
        }
        if (!this.canStart(cls, now)) break; // FIFO: the rest of this class waited less than its head
        this.queues.unlink(w);
        w.resolve(this.start(now, w.at, cls));
      }
    }
    if (this.queues.size === 0) {
      this.lastEmptyAt = now;
      this.emptySeen = true;
      this.disarmTimer();
    }
  }

  // ---- the event loop as the slot ----------------------------------------------------------------

  /** Runs `onTurn` in the loop's next turn (after its poll phase), once. */
  private armTurn(): void {
    if (this.turnArmed || this.closed) return;
    this.turnArmed = true;
    this.s.turn(this.onTurn);
  }

  private readonly onTurn = (): void => {
    this.turnArmed = false;
    this.turnTaken = false;
    if (this.closed) return;
    this.drain(); // starts at most one piece of work, which arms the next turn
  };

  // ---- the sample window -------------------------------------------------------------------------

  private startSampling(now: number): void {
    this.resetWindow(now);
    this.probe.start();
    this.armSampler(now);
  }

  private armSampler(now: number): void {
    this.dueAt = now + this.s.sampleMs;
    this.sampler = this.s.clock.setTimer(this.onSample, this.s.sampleMs);
    this.s.clock.refTimer?.(this.sampler, false);
  }

  private resetWindow(now: number): void {
    this.windowStart = now;
    this.arrivals.fill(0);
    this.started.fill(0);
    this.busyMs = 0;
    this.busySince = now;
    this.emptySeen = this.queues.size === 0;
    this.drops = 0;
  }

  private readonly onSample = (): void => {
    this.sampler = undefined;
    if (this.closed) return;
    const now = this.s.clock.now();
    this.setInflight(now, 0);
    const dur = Math.max(1, now - this.windowStart);
    const loop = this.probe.read(now - this.dueAt);
    this.lastLoop = loop;
    const arrivals = this.arrivals.reduce((a, b) => a + b, 0);
    // a paced loop's standing queue and CoDel drops are the loop's backlog, judged by its delay; they do not
    // count as a saturated pool
    const wasPaced = this.paced;
    this.shed.update(now, {
      durationMs: dur,
      arrivals: this.arrivals,
      started: this.started,
      loop,
      slotUtilization: this.busyMs / (Math.max(1, this.limit) * dur),
      standing: !wasPaced && !this.emptySeen && this.queues.size > 0,
      drops: wasPaced ? 0 : this.drops,
      rttMs: this.rtt,
    });
    if (loop !== undefined) {
      this.paced = loop.utilization >= PACE_ON || (this.paced && loop.utilization >= PACE_OFF);
      if (wasPaced && !this.paced) this.drain(); // unpaced: whatever fits starts now
    }
    // idle and shedding nothing: stop sampling until the next arrival
    if (arrivals === 0 && this.queues.size === 0 && this.inflight === 0 && this.shed.idle) return;
    this.resetWindow(now);
    this.armSampler(now);
  };

  // ---- refusals ----------------------------------------------------------------------------------

  private drop(w: Waiter<Ticket>, err: BlastwallError): void {
    this.queues.unlink(w);
    if (this.queues.size === 0) this.emptySeen = true;
    this.stats.dropped++;
    w.reject(err);
  }

  private shedError(priority: Priority, why: string): BlastwallError {
    this.stats.shed++;
    return refusal('SHED', `Shed ${priority} work: ${why}`, { retryAfterMs: 1000, retryable: false, details: { priority } });
  }

  private deadlineError(priority: Priority, waitedMs: number, where = ''): BlastwallError {
    this.stats.shed++;
    return refusal('DEADLINE_EXCEEDED', `Refused ${priority} work: waited ${Math.round(waitedMs)}ms${where}, no time left to serve it`, { retryable: false, details: { priority } });
  }

  /** While work waits, a timer drains it at the queue limits even if nothing completes. */
  private armTimer(): void {
    if (this.timer !== undefined) return;
    this.timer = this.s.clock.setTimer(() => {
      this.timer = undefined;
      this.drain();
      if (this.queues.size > 0) this.armTimer();
    }, this.s.targetMs);
  }

  private disarmTimer(): void {
    if (this.timer !== undefined) this.s.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  /** Refuses everything waiting and stops the timers; later admissions are refused with `CLOSED`. */
  close(): void {
    this.closed = true;
    for (let c = 0; c < PRIORITIES.length; c++) {
      for (let w = this.queues.head(c); w !== undefined; w = this.queues.head(c)) this.drop(w, new BlastwallError('CLOSED', 'Admission control closed while the work waited'));
    }
    this.disarmTimer();
    if (this.sampler !== undefined) this.s.clock.clearTimer(this.sampler);
    this.sampler = undefined;
  }
}
