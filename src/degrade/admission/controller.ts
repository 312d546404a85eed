import type { TimerHandle } from '../../core/clock.js';
import { BlastwallError } from '../../core/errors.js';
import { enumOption } from '../../core/validate.js';
import type { Gradient2Limit } from '../../policies/adaptive-concurrency/gradient2.js';
import { PRIORITIES, type Priority } from '../../core/operation-context.js';
import { admissionSettings, type AdmissionOptions, type AdmissionSettings } from './options.js';
import { ShedController, type LoopReading, type ShedState } from './shed.js';
import { LoopProbe } from './signals.js';

/** Index of the last critical class (`critical`); classes after it are sheddable. */
const CRITICAL = PRIORITIES.indexOf('critical');
const SHEDDABLE = PRIORITIES.map((_, i) => i).filter((i) => i > CRITICAL);

interface Waiter {
  priority: number;
  at: number;
  /** Critical work: the time by which it must have started (its deadline less its expected service, or `maxWait`). */
  startBy: number;
  resolve: (t: Ticket) => void;
  reject: (e: unknown) => void;
  next: Waiter | undefined;
}

export interface Ticket {
  /** Call when the work is done; `ok: false` for failures (they do not teach the limiter). */
  release(ok?: boolean): void;
  readonly queuedMs: number;
}

export interface AdmitOptions {
  /** Time the caller still grants (ms). Critical work waits no longer than this less its expected service time. */
  deadlineMs?: number | undefined;
}

export interface AdmissionSnapshot {
  inflight: number;
  queued: number;
  limit: number;
  /** How many sheddable classes are refused outright. */
  shedLevel: number;
  shedClasses: Priority[];
  /** Share of arrivals admitted at the door, per class. */
  admitted: Record<Priority, number>;
  /** What the last window showed: `over` (saturated and backlogged), `room`, or `hold` (saturated, no backlog). */
  state: ShedState;
  /** Level changes since the controller was created. */
  levelChanges: number;
  /** The last event-loop reading, when the loop is measured. */
  loop?: LoopReading;
}

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
 * Refused work is answered at once with `SHED` (or `DEADLINE_EXCEEDED`), never left to time out.
 */
export class AdmissionController {
  private readonly s: AdmissionSettings;
  readonly limiter: Gradient2Limit | undefined;
  private readonly shed: ShedController;
  private readonly queues: { head: Waiter | undefined; tail: Waiter | undefined }[] = PRIORITIES.map(() => ({ head: undefined, tail: undefined }));
  private readonly credit = PRIORITIES.map(() => 0);
  private queued = 0;
  private inflight = 0;
  private lastEmptyAt: number;
  private timer: TimerHandle | undefined;
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
  }

  get limit(): number {
    return this.s.fixed ?? this.limiter!.limit;
  }

  snapshot(): AdmissionSnapshot {
    const snap: AdmissionSnapshot = {
      inflight: this.inflight,
      queued: this.queued,
      limit: this.limit,
      shedLevel: this.shed.level,
      shedClasses: PRIORITIES.filter((_, i) => this.shed.fraction[i] === 0),
      admitted: Object.fromEntries(PRIORITIES.map((p, i) => [p, Math.round(this.shed.fraction[i]! * 1000) / 1000])) as Record<Priority, number>,
      state: this.shed.state,
      levelChanges: this.shed.flips,
    };
    if (this.lastLoop !== undefined) snap.loop = { ...this.lastLoop };
    return snap;
  }

  private waitingAtOrAbove(cls: number): boolean {
    for (let c = 0; c <= cls; c++) if (this.queues[c]!.head !== undefined) return true;
    return false;
  }

  /**
   * In-flight work a class may start: sheddable work leaves 20% of the limit, sheddable-plus 10%, to the
   * critical classes, so critical arrivals find a slot while sheddable traffic surges.
   */
  private limitFor(cls: number): number {
    const limit = this.limit;
    return cls <= CRITICAL ? limit : Math.max(1, Math.floor(limit * (cls === CRITICAL + 1 ? 0.9 : 0.8)));
  }

  /** Admits work of a class now, queues it, or refuses it (`SHED`, or `DEADLINE_EXCEEDED` for critical work out of time). */
  admit(priority: Priority, options?: AdmitOptions): Promise<Ticket> {
    const cls = PRIORITIES.indexOf(enumOption('priority', priority, PRIORITIES));
    if (this.closed) return Promise.reject(new BlastwallError('CLOSED', 'Admission control is closed'));
    const now = this.s.clock.now();
    if (this.sampler === undefined) this.startSampling(now);
    this.arrivals[cls]!++;
    if (cls <= CRITICAL) {
      // its own evidence on a CPU-bound service: work reaching the loop now waited about the loop's delay for it;
      // past the time it may wait (its deadline, or maxWait) it can no longer be served in time
      const waited = this.lastLoop?.delayMs ?? 0;
      if (waited > Math.min(this.s.maxWaitMs, options?.deadlineMs ?? Number.POSITIVE_INFINITY)) {
        return Promise.reject(this.deadlineError(priority, waited, ' for the event loop'));
      }
    } else {
      // the door: a share of each sheddable class, set by the shed controller
      const f = this.shed.fraction[cls]!;
      if (f < 1) {
        // deterministic thinning: admit when the accumulated share reaches one request (credit stays below 1)
        const c = this.credit[cls]! + f;
        if (c < 1 - 1e-9) {
          this.credit[cls] = c;
          return Promise.reject(this.shedError(priority, f === 0 ? 'overloaded: this class is being shed' : 'overloaded: this class is admitted in part'));
        }
        this.credit[cls] = c - 1;
      }
    }
    // room for this class, and nobody of this class or above waiting: start now (lower classes may wait)
    if (this.inflight < this.limitFor(cls) && !this.waitingAtOrAbove(cls)) return Promise.resolve(this.start(now, now, cls));
    if (this.queued >= this.s.maxQueue) {
      // full: make room by dropping the newest waiter of a lower class, else refuse this one
      const victim = this.lowestBelow(cls);
      if (victim === undefined) return Promise.reject(this.shedError(priority, 'admission queue full'));
      this.drop(victim, this.shedError(PRIORITIES[victim.priority]!, 'admission queue full; a higher class arrived'));
    }
    let startBy = Number.POSITIVE_INFINITY;
    if (cls <= CRITICAL) {
      const d = options?.deadlineMs;
      startBy = d !== undefined && Number.isFinite(d) ? now + Math.min(this.s.maxWaitMs, d - this.service) : now + this.s.maxWaitMs;
      if (startBy <= now) return Promise.reject(this.deadlineError(priority, 0));
    }
    return new Promise<Ticket>((resolve, reject) => {
      const w: Waiter = { priority: cls, at: now, startBy, resolve, reject, next: undefined };
      const q = this.queues[cls]!;
      if (q.tail === undefined) q.head = q.tail = w;
      else {
        q.tail.next = w;
        q.tail = w;
      }
      this.queued++;
      this.stats.queued++;
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

  /** Starts queued work while there is room, highest class first, dropping waiters past their limits. */
  private drain(): void {
    const now = this.s.clock.now();
    const standing = now - this.lastEmptyAt > this.s.intervalMs;
    // The short CoDel target applies to the lowest sheddable class waiting; critical classes wait by their own limits.
    let lowest = this.queues.length - 1;
    while (lowest > CRITICAL && this.queues[lowest]!.head === undefined) lowest--;
    for (let cls = 0; cls < this.queues.length; cls++) {
      const q = this.queues[cls]!;
      const limitMs = standing && cls > CRITICAL && cls >= lowest ? this.s.targetMs : this.s.intervalMs;
      if (cls <= CRITICAL) {
        // critical waiters carry their own deadlines, not in FIFO order: refuse every one out of time
        for (let w = q.head; w !== undefined; ) {
          const next = w.next;
          if (now > w.startBy) this.drop(w, this.deadlineError(PRIORITIES[cls]!, now - w.at));
          w = next;
        }
      }
      while (q.head !== undefined) {
        const w = q.head;
        if (cls <= CRITICAL ? now > w.startBy : now - w.at > limitMs) {
          const p = PRIORITIES[cls]!;
          if (cls > CRITICAL) this.drops++;
          this.drop(w, cls <= CRITICAL ? this.deadlineError(p, now - w.at) : this.shedError(p, `waited ${Math.round(now - w.at)}ms, over the ${limitMs}ms queue limit`));
          continue;
        }
        if (this.inflight >= this.limitFor(cls)) break; // FIFO: the rest of this class waited less than its head
        this.unlink(w);
        w.resolve(this.start(now, w.at, cls));
      }
    }
    if (this.queued === 0) {
      this.lastEmptyAt = now;
      this.emptySeen = true;
      this.disarmTimer();
    }
  }

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
    this.emptySeen = this.queued === 0;
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
    this.shed.update(now, {
      durationMs: dur,
      arrivals: this.arrivals,
      started: this.started,
      loop,
      slotUtilization: this.busyMs / (Math.max(1, this.limit) * dur),
      standing: !this.emptySeen && this.queued > 0,
      drops: this.drops,
      rttMs: this.rtt,
    });
    // idle and shedding nothing: stop sampling until the next arrival
    if (arrivals === 0 && this.queued === 0 && this.inflight === 0 && this.shed.idle) return;
    this.resetWindow(now);
    this.armSampler(now);
  };

  // ---- queue plumbing ----------------------------------------------------------------------------

  private lowestBelow(cls: number): Waiter | undefined {
    for (let c = this.queues.length - 1; c > cls; c--) {
      const t = this.queues[c]!.tail;
      if (t !== undefined) return t;
    }
    return undefined;
  }

  private unlink(w: Waiter): void {
    const q = this.queues[w.priority]!;
    if (q.head === w) {
      q.head = w.next;
      if (q.tail === w) q.tail = undefined;
    } else {
      let p = q.head;
      while (p !== undefined && p.next !== w) p = p.next;
      if (p !== undefined) {
        p.next = w.next;
        if (q.tail === w) q.tail = p;
      }
    }
    w.next = undefined;
    this.queued--;
    if (this.queued === 0) this.emptySeen = true;
  }

  private drop(w: Waiter, err: BlastwallError): void {
    this.unlink(w);
    this.stats.dropped++;
    w.reject(err);
  }

  private shedError(priority: Priority, why: string): BlastwallError {
    this.stats.shed++;
    return new BlastwallError('SHED', `Shed ${priority} work: ${why}`, { retryAfterMs: 1000, retryable: false, details: { priority } });
  }

  private deadlineError(priority: Priority, waitedMs: number, where = ''): BlastwallError {
    this.stats.shed++;
    return new BlastwallError('DEADLINE_EXCEEDED', `Refused ${priority} work: waited ${Math.round(waitedMs)}ms${where}, no time left to serve it`, {
      retryable: false,
      details: { priority },
    });
  }

  /** While work waits, a timer drains it at the queue limits even if nothing completes. */
  private armTimer(): void {
    if (this.timer !== undefined) return;
    this.timer = this.s.clock.setTimer(() => {
      this.timer = undefined;
      this.drain();
      if (this.queued > 0) this.armTimer();
    }, this.s.targetMs);
  }

  private disarmTimer(): void {
    if (this.timer !== undefined) this.s.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  /** Refuses everything waiting and stops the timers; later admissions are refused with `CLOSED`. */
  close(): void {
    this.closed = true;
    for (const q of this.queues) while (q.head !== undefined) this.drop(q.head, new BlastwallError('CLOSED', 'Admission control closed while the work waited'));
    this.disarmTimer();
    if (this.sampler !== undefined) this.s.clock.clearTimer(this.sampler);
    this.sampler = undefined;
  }
}
