/**
 * The shed controller: decides, once per sample window, how much sheddable work the service admits.
 *
 * It reads the resource that saturates — the event loop (utilisation and a fresh delay over the window)
 * or the slot pool (slot utilisation and a standing queue) — and steers one continuous quantity, the
 * rate of sheddable work admitted (`quota`, requests per second). The quota is filled highest class
 * first; the class it runs out in (the boundary) is admitted in part, the classes below it are refused at
 * the door. Critical classes are never governed by it: they are refused only on their own evidence (their
 * queue time or deadline, see the AdmissionController).
 *
 * Stability by design:
 * - the quota moves at most once per observed round trip (never faster than one window), and a cut is
 *   sized by the measured excess (the loop's backlog divided by the measured cost of a request), so a
 *   single step does what a ladder of blind steps would;
 * - after a cut, a falling loop delay means the cut is working: the controller waits and re-measures;
 * - the level (how many sheddable classes are refused outright) moves one class at a time, only after
 *   the boundary class has been fully refused for a whole fresh window that still showed overload, and
 *   only while the resource is saturated; it comes back one class at a time after `recovery` of room;
 * - nothing is raised while utilisation is below saturation.
 */

export interface LoopReading {
  /** Event-loop utilisation over the window, 0..1. */
  utilization: number;
  /** Event-loop delay over the window (ms): how late the loop ran work that was due. */
  delayMs: number;
}

export interface WindowStats {
  /** Actual length of the window (ms); a blocked loop stretches it. */
  durationMs: number;
  /** Arrivals per class (admitted or not). */
  arrivals: readonly number[];
  /** Work started per class. */
  started: readonly number[];
  /** The event loop, when measured. */
  loop: LoopReading | undefined;
  /** Time-averaged in-flight work over the limit, 0..1. */
  slotUtilization: number;
  /** The admission queue never emptied during the window. */
  standing: boolean;
  /** Sheddable waiters dropped for waiting past their CoDel limit during the window. */
  drops: number;
  /** Observed round trip of admitted work (queue + service), ms. */
  rttMs: number;
}

export interface ShedSettings {
  /** Class indices governed, highest priority first (the sheddable classes). */
  classes: readonly number[];
  /** Total number of classes (fractions are kept for all). */
  classCount: number;
  sampleMs: number;
  recoveryMs: number;
  /** Utilisation (loop or slots) at or above which the resource counts as saturated. */
  saturation: number;
  /** Loop delay above which a saturated loop counts as backlogged. */
  maxDelayMs: number;
}

export type ShedState = 'over' | 'room' | 'hold';

/** A loop backlog is planned to drain over this long (ms). */
const DRAIN_MS = 500;

export class ShedController {
  /** How many governed classes are refused outright (lowest first). */
  level = 0;
  /** Sheddable work admitted, requests per second (Infinity: no limit). */
  quota = Number.POSITIVE_INFINITY;
  /** Share of arrivals admitted, per class. */
  readonly fraction: number[];
  /** Changes of `level` so far. */
  flips = 0;
  state: ShedState = 'room';
  /** Smoothed arrival rate per class (req/s). */
  private readonly demand: number[];
  /** Smoothed CPU cost of one started request (ms), measured on the loop. */
  private cost: number | undefined;
  private lastStepAt = Number.NEGATIVE_INFINITY;
  private lastLevelAt = Number.NEGATIVE_INFINITY;
  private boundaryEmptySince: number | undefined;
  private roomSince: number | undefined;
  private prevDelay = 0;
  /** Smoothed rate of critical work started (req/s). */
  private critRate = 0;

  constructor(private readonly s: ShedSettings) {
    this.fraction = new Array<number>(s.classCount).fill(1);
    this.demand = new Array<number>(s.classCount).fill(0);
  }

  /** True when nothing is being shed (the controller may stop sampling while idle). */
  get idle(): boolean {
    return this.level === 0 && this.quota === Number.POSITIVE_INFINITY;
  }

  /** Judges one window and updates the quota, the level and the per-class fractions. */
  update(now: number, w: WindowStats): void {
    const s = this.s;
    const dur = Math.max(1, w.durationMs);
    for (const c of s.classes) this.demand[c] = this.demand[c]! * 0.5 + ((w.arrivals[c] ?? 0) * 1000) / dur * 0.5;
    let shedStarted = 0;
    let allStarted = 0;
    for (let c = 0; c < w.started.length; c++) {
      allStarted += w.started[c]!;
      if (s.classes.includes(c)) shedStarted += w.started[c]!;
    }
    const shedRate = (shedStarted * 1000) / dur;
    const loop = w.loop;
    if (loop !== undefined && allStarted >= 3 && loop.utilization > 0) {
      const c = (loop.utilization * dur) / allStarted;
      this.cost = this.cost === undefined ? c : this.cost * 0.7 + c * 0.3;
    }
    const loopSat = loop !== undefined && loop.utilization >= s.saturation;
    const loopOver = loopSat && loop.delayMs > s.maxDelayMs;
    const slotSat = w.standing || w.slotUtilization >= s.saturation;
    const slotOver = w.standing || w.drops > 0;
    const over = loopOver || slotOver;
    const room = !loopSat && !slotSat && !slotOver;
    // one step per observed round trip of admitted work (the time a step takes to show), never faster than a
    // window; on the loop a refusal acts at once (the backlog is refused as the loop reaches it)
    const pace = Math.min(10 * s.sampleMs, Math.max(s.sampleMs, w.rttMs));
    this.state = over ? 'over' : room ? 'room' : 'hold';

    // the loop's capacity for sheddable work, from the measured cost of a request (refusals included):
    // what the saturated loop can run, less the critical work it runs, less the backlog drained over `DRAIN_MS`
    this.critRate = this.critRate * 0.5 + (((allStarted - shedStarted) * 1000) / dur) * 0.5;
    const critRate = this.critRate;
    const loopFit =
      loop === undefined || this.cost === undefined
        ? undefined
        : Math.max(0, (s.saturation * 1000) / this.cost - critRate - (Math.max(0, loop.delayMs - s.maxDelayMs / 2) / this.cost) * (1000 / DRAIN_MS));
    if (over) {
      this.roomSince = undefined;
      // a loop whose delay falls fast is draining after the last cut: re-measure before cutting again
      const draining = loopOver && !slotOver && loop.delayMs < this.prevDelay * 0.75;
      if (!draining && now - this.lastStepAt >= pace) {
        let q = Number.POSITIVE_INFINITY;
        // cut from what was admitted (or, in a window where no sheddable work started, from the quota itself)
        const used = shedRate > 0 ? Math.min(this.quota, shedRate) : this.quota === Number.POSITIVE_INFINITY ? 0 : this.quota;
        if (loopOver) q = Math.min(used * 0.9, loopFit ?? used * 0.5);
        if (slotOver) q = Math.min(q, used * 0.75);
        this.quota = Math.max(0, Math.min(this.quota, q));
        this.lastStepAt = now;
      }
    } else if (room) {
      this.roomSince ??= now;
      // room and no sheddable work arriving: nothing left to govern (a quiet service stops sampling)
      if (s.classes.every((c) => (w.arrivals[c] ?? 0) === 0)) this.quota = Number.POSITIVE_INFINITY;
      // grow only a quota that is used (as TCP grows only a window that is full), so room while classes are
      // refused outright cannot pile up into a burst when they come back
      if (this.quota !== Number.POSITIVE_INFINITY && shedRate >= this.quota * 0.8 && now - this.lastStepAt >= pace) {
        // fill the idle share: on the loop by the measured cost, on slots multiplicatively
        const base = Math.max(this.quota, shedRate);
        const total = s.classes.reduce((a, c) => a + this.demand[c]!, 0);
        const step = loop !== undefined && this.cost !== undefined ? ((s.saturation - loop.utilization) * 1000) / this.cost : base * 0.25;
        this.quota = base + Math.max(step, total * 0.02, 1);
        if (this.quota > 2 * total + 10 && this.level === 0) this.quota = Number.POSITIVE_INFINITY;
        this.lastStepAt = now;
      }
    } else this.roomSince = undefined;
    // a level step needs overload that is not already receding (a loop delay that is not falling)
    const worsening = slotOver || (loopOver && loop.delayMs >= this.prevDelay);
    this.prevDelay = loop?.delayMs ?? 0;
    this.placeLevel(now, worsening, pace, loopSat || slotSat);
    this.fill();
  }

  /** Demand (req/s) of the governed classes above the boundary at level `level`. */
  private above(level: number): number {
    const n = this.s.classes.length - 1 - level;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += this.demand[this.s.classes[i]!]!;
    return sum;
  }

  private placeLevel(now: number, worsening: boolean, pace: number, saturated: boolean): void {
    const n = this.s.classes.length;
    // the boundary class gets nothing from the quota: remember since when
    const boundaryEmpty = this.level < n && this.quota <= this.above(this.level);
    if (!boundaryEmpty) this.boundaryEmptySince = undefined;
    else this.boundaryEmptySince ??= now;
    if (
      worsening &&
      saturated &&
      this.level < n &&
      this.boundaryEmptySince !== undefined &&
      now - this.boundaryEmptySince >= pace && // a fresh measurement with the boundary fully refused still showed overload
      now - this.lastLevelAt >= pace + this.s.sampleMs
    ) {
      this.level++;
      this.flips++;
      this.lastLevelAt = now;
      this.boundaryEmptySince = undefined;
      return;
    }
    if (this.level > 0 && this.roomSince !== undefined && now - this.roomSince >= this.s.recoveryMs) {
      // the boundary class is fully admitted (or, with every class refused, the quota is open again)
      const full = this.level === n ? this.quota > 0 : this.quota >= this.above(this.level) + this.demand[this.s.classes[n - 1 - this.level]!]!;
      if (full) {
        this.level--;
        this.flips++;
        this.lastLevelAt = now;
        this.roomSince = now; // the next class waits another `recovery`
      }
    }
  }

  /**
   * Per-class fractions: the quota is filled highest class first, so a class is admitted in part only when
   * every class above it is admitted in full; classes below the level's boundary are refused outright.
   */
  private fill(): void {
    const { classes } = this.s;
    const b = classes.length - 1 - this.level; // index into classes of the boundary, -1 when every class is refused
    let left = this.quota;
    for (let i = 0; i < classes.length; i++) {
      const c = classes[i]!;
      const d = this.demand[c]!;
      if (i > b) this.fraction[c] = 0;
      else if (left === Number.POSITIVE_INFINITY) this.fraction[c] = 1;
      else {
        const f = d <= 0 ? (left > 0 ? 1 : 0) : Math.min(1, Math.max(0, left / d));
        this.fraction[c] = f;
        left -= d * f;
      }
    }
  }
}
