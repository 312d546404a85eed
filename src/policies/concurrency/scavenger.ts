/**
 * The scavenger: background work at a concurrency limit yields to the other classes by measured evidence
 * (a less-than-best-effort class, after LEDBAT, RFC 6817). While background work runs beside calls of other
 * classes, the limit times those calls. Short probes, in which no background call runs (as BBR measures its
 * minimum RTT), give their baseline: the 90th percentile of their latency, and their tail excess (the
 * mean of how far a call runs past that percentile). Each control interval compares the calls' tail excess
 * with the baseline's; the background's allowed occupancy shrinks multiplicatively when the inflation is
 * over `target` and grows additively when it is under, between `min` and the background share. The tail,
 * not the mean: background sharing a CPU slows the slow calls, not the typical one (in bench:noisy the
 * queries' median even fell 10% while their p99 rose 80-170%). The occupancy is a real number of slots:
 * below a whole slot it is a duty cycle. See docs/priority.md ("The scavenger").
 */
import type { Clock, TimerHandle } from '../../core/clock.js';
import { timerDurationOption } from '../../core/duration.js';
import { configError, isPlainObject, objectOption, positiveOption, ratioOption } from '../../core/validate.js';

/** The scavenger options, checked (see `ConcurrencyPriorityOptions.scavenger`). */
export interface ScavengerSettings {
  /** Inflation of the other classes' tail excess over its no-background baseline the background may cause (0.1 = 10%). */
  readonly target: number;
  /** Least occupancy background keeps under contention, in slots (0.25: one slot a quarter of the time). */
  readonly min: number;
  /** The control interval, in milliseconds. */
  readonly intervalMs: number;
}

/**
 * Default scavenger settings: a 10% inflation target, at least a quarter of a slot (one slot a quarter of
 * the time), a 250ms control interval. The floor is below one slot because one slot of background was
 * already too much in bench:noisy on a quiet machine (checkout p99 1.51× alone with the window at a floor
 * of 1, 1.08× with a floor of 0.25 and the window near half a slot).
 */
export const DEFAULT_SCAVENGER: ScavengerSettings = { target: 0.1, min: 0.25, intervalMs: 250 };

/**
 * Checks the `scavenger` option of a concurrency limit's priority options (`field` names it in
 * `CONFIG_INVALID`): `undefined` is the default, `false` turns it off (background keeps its whole share).
 */
export function scavengerOption(field: string, value: unknown): ScavengerSettings | false {
  if (value === undefined) return DEFAULT_SCAVENGER;
  if (value === false) return false;
  if (!isPlainObject(value)) throw configError(field, '{ target?, min?, interval? } or false', value);
  const o = objectOption(field, value, ['target', 'min', 'interval']);
  const target = o.target === undefined ? DEFAULT_SCAVENGER.target : ratioOption(`${field}.target`, o.target);
  const min = o.min === undefined ? DEFAULT_SCAVENGER.min : positiveOption(`${field}.min`, o.min);
  const intervalMs = o.interval === undefined ? DEFAULT_SCAVENGER.intervalMs : timerDurationOption(`${field}.interval`, o.interval, 10);
  return { target, min, intervalMs };
}

/** The baseline's threshold: this quantile of the probes' latencies; the tail excess is the mean time past it. */
const TAIL = 0.9;
/**
 * A control interval (and a probe) decides on at least this many timed calls, so that about 32 of them
 * fall in the baseline's tail (it lasts longer than `interval` until it has them: about a second at 300
 * calls a second). The tail is what is judged, and a handful of tail calls is noise.
 */
export const MIN_SAMPLES = Math.round(32 / (1 - TAIL));
/** A probe keeps at most this many latencies. */
const PROBE_SAMPLES = 1024;
/**
 * Probes (background held at zero to measure the baseline) take about one part in `PROBE_EVERY + 1` of
 * the time: the next starts `PROBE_EVERY` times the last one's length (at least an interval) after it.
 */
export const PROBE_EVERY = 16;
/** A probe that has not gathered its samples after this many intervals ends with what it has (kept from 32 calls). */
const PROBE_MAX = 8;
/** The baseline pools the samples of this many most recent probes (older than this many probe periods, plus one, they are dropped). */
const BASELINE_PROBES = 3;
/**
 * The step of one decision: the window shrinks by up to this fraction (at twice the target and beyond)
 * and grows by up to this many slots (this fraction of itself below one slot). Small, because one decision
 * sees only about 32 tail calls: the window averages over several decisions instead of jumping on each.
 */
export const GAIN = 0.2;

/**
 * Pacing grain (ms): background runs until it owes `window × PACE_GRAIN_MS` slot-milliseconds, then pauses
 * until it owes nothing, so a pause lasts at least this long. Calls far shorter than a timer's grain (a
 * 0.3 ms query) would otherwise wait a whole timer tick after each one, far below the window.
 */
const PACE_GRAIN_MS = 2;
/** Slot-milliseconds of debt that count as none (rounding). */
const PACE_SLACK = 1e-6;

const NONE = 0;
const DRAINING = 1;
const MEASURING = 2;

interface Probe {
  /** Latencies of the other classes' calls while no background call ran (ms). */
  samples: number[];
  at: number;
}

/**
 * @internal The controller of one concurrency limit. The limit asks `allows` before a background call
 * starts within its share, reports background starts and ends (`account`, `ended`) and the latency of the
 * other classes' calls while `engaged` (`sample`). Cheap: a few arithmetic operations per event, one timer.
 */
export class Scavenger {
  /** Background occupancy allowed now, in slots (a real number: below 1 a duty cycle). */
  window: number;
  /** True while background work is present: the limit times the other classes' calls only then. */
  engaged = false;
  private ceiling: number;
  private s: ScavengerSettings;
  /** Slot-milliseconds background may still use (≤ 0): grows at `window`, shrinks at the background in flight. */
  private budget = 0;
  private budgetAt: number;
  /** Background owes its grain: it starts nothing until the budget is back to zero. */
  private paused = false;
  private lastBackground = 0;
  // the current control interval: time past the baseline's threshold, summed, and calls
  private since: number;
  private sum = 0;
  private count = 0;
  // probes, and the baseline from them: the threshold (their 90th percentile), the mean time past it (NaN: none yet)
  private probe = NONE;
  private probeAt = 0;
  private cleanFrom = 0;
  private probeSamples: number[] = [];
  private lastProbe = Number.NEGATIVE_INFINITY;
  /** How long the last probe held background back (ms; its drain included). */
  private probeSpan = 0;
  private readonly probes: Probe[] = [];
  private threshold = Number.NaN;
  private excess = Number.NaN;
  private timer: TimerHandle | undefined = undefined;
  private timerAt = 0;

  constructor(
    private readonly clock: Clock,
    settings: ScavengerSettings,
    ceiling: number,
    /** Called when background may start again (a pacing wait or a probe ended): the limit dispatches. */
    private readonly wake: () => void,
  ) {
    this.s = settings;
    this.ceiling = ceiling;
    // a scavenger starts at its floor and earns its share as the evidence comes in
    this.window = this.floor();
    this.budgetAt = this.since = clock.now();
  }

  /** New settings or a new share (`ceiling` slots); the state is kept, the window clamped. */
  configure(settings: ScavengerSettings, ceiling: number): void {
    this.s = settings;
    this.ceiling = ceiling;
    // without a baseline yet there is no evidence: the window stays at the floor
    this.window = this.probes.length === 0 ? this.floor() : Math.min(ceiling, Math.max(this.floor(), this.window));
  }

  /** The least window: `min`, but never above the share. */
  private floor(): number {
    return Math.min(this.s.min, this.ceiling);
  }

  /**
   * The baseline from the recent probes: the 90th percentile of the other classes' latency while no
   * background ran (`threshold`) and their tail excess (`excess`: the mean time past it, at least 0.1% of
   * it, so that a baseline with no spread still divides), or undefined when no probe is recent.
   * Recomputed when a probe ends or expires.
   */
  baseline(): { threshold: number; excess: number } | undefined {
    return Number.isNaN(this.threshold) ? undefined : { threshold: this.threshold, excess: this.excess };
  }

  private rebase(now: number): void {
    while (this.probes.length > 0 && now - this.probes[0]!.at > this.baselineAge()) this.probes.shift();
    const pooled = this.probes.flatMap((p) => p.samples).sort((a, b) => a - b);
    if (pooled.length === 0) {
      this.threshold = this.excess = Number.NaN;
      return;
    }
    const m = pooled[Math.min(pooled.length - 1, Math.floor(TAIL * pooled.length))]!;
    let past = 0;
    for (const x of pooled) if (x > m) past += x - m;
    this.threshold = m;
    this.excess = Math.max(past / pooled.length, m * 1e-3);
  }

  /** True while a probe holds background back. */
  get probing(): boolean {
    return this.probe !== NONE;
  }

  /** May a background call start now, `inFlight` background calls running? (Its share is checked by the limit.) */
  allows(inFlight: number): boolean {
    const now = this.clock.now();
    if (!this.engaged) {
      // background is back: time the other classes' calls again, from a fresh interval
      this.engaged = true;
      this.since = now;
      this.sum = 0;
      this.count = 0;
    }
    this.lastBackground = now;
    if (this.probe !== NONE && !this.probeOver(now)) return false;
    this.account(inFlight, now);
    if (inFlight >= Math.ceil(this.window)) return false;
    if (this.paused) this.paused = this.budget < -PACE_SLACK;
    else this.paused = this.budget <= -this.window * PACE_GRAIN_MS;
    if (!this.paused) return true;
    // the budget is back to zero after −budget / (window − inFlight) ms (inFlight < window here)
    this.arm(now + Math.max(1, -this.budget / (this.window - inFlight)));
    return false;
  }

  /** Brings the budget up to now, `inFlight` background calls having run since the last look (call before it changes). */
  account(inFlight: number, now = this.clock.now()): void {
    const lo = -this.window * this.s.intervalMs;
    this.budget = Math.min(0, Math.max(lo, this.budget + (this.window - inFlight) * (now - this.budgetAt)));
    this.budgetAt = now;
    this.lastBackground = now;
  }

  /** A background call ended, `inFlight` (it included) were running. */
  ended(inFlight: number): void {
    const now = this.clock.now();
    this.account(inFlight, now);
    if (this.probe === DRAINING && inFlight === 1) {
      this.probe = MEASURING;
      this.cleanFrom = now;
    }
  }

  /**
   * A call of another class that started at `t0` (this clock) ended, `inFlight` background calls running
   * and background calls `waiting` or not. Feeds the probe or the current interval, and decides at the
   * interval's end (then maybe starts a probe, or disengages when background has gone).
   */
  sample(t0: number, inFlight: number, waiting: boolean): void {
    const now = this.clock.now();
    if (inFlight > 0 || waiting) this.lastBackground = now;
    if (this.probe !== NONE) {
      if (this.probe === MEASURING && t0 >= this.cleanFrom) {
        if (this.probeSamples.length < PROBE_SAMPLES) this.probeSamples.push(now - t0);
        if (now - this.cleanFrom >= this.s.intervalMs && this.probeSamples.length >= MIN_SAMPLES) this.endProbe(now, true);
      }
      return;
    }
    if (t0 < this.since) return; // started under another window (or in a probe)
    if (this.threshold > 0) {
      const d = now - t0 - this.threshold;
      if (d > 0) this.sum += d;
    }
    this.count++;
    if (now - this.since < this.s.intervalMs || this.count < MIN_SAMPLES) return;
    if (this.probes.length > 0 && now - this.probes[0]!.at > this.baselineAge()) this.rebase(now);
    if (this.threshold > 0) this.decide(this.sum / this.count / this.excess - 1);
    this.since = now;
    this.sum = 0;
    this.count = 0;
    if (now - this.lastBackground > 2 * this.s.intervalMs) {
      this.engaged = false; // no background lately: stop timing calls until it comes back
      return;
    }
    if (now - this.lastProbe >= this.probeGap()) this.startProbe(now, inFlight);
  }

  /**
   * One control step on `q`, the interval's tail excess over the baseline's, less 1 (0.1: 10% more):
   * with `e = 1 − q / target` clipped to [−1, 1] (LEDBAT's off-target), the window grows by `GAIN × e`
   * slots (`GAIN × e × window` below one slot) when `e ≥ 0` and shrinks by the fraction `GAIN × −e` when
   * `e < 0`; between the floor and the share. Proportional on both sides, so on a steady load it settles
   * where the inflation is `target` instead of sawing around it.
   */
  private decide(q: number): void {
    const e = Math.max(-1, Math.min(1, 1 - q / this.s.target));
    this.window =
      e >= 0
        ? Math.min(this.ceiling, this.window + GAIN * e * Math.min(1, this.window))
        : Math.max(this.floor(), this.window * (1 + GAIN * e));
  }

  /** Time from the end of a probe to the start of the next (ms). */
  private probeGap(): number {
    return PROBE_EVERY * Math.max(this.s.intervalMs, this.probeSpan);
  }

  /** Probes older than this (ms) no longer count in the baseline. */
  private baselineAge(): number {
    return (BASELINE_PROBES + 1) * (this.probeGap() + Math.max(this.s.intervalMs, this.probeSpan));
  }

  /** Holds background at zero: measuring starts once no background call runs. */
  private startProbe(now: number, inFlight: number): void {
    this.probe = inFlight === 0 ? MEASURING : DRAINING;
    this.probeAt = now;
    this.cleanFrom = now;
    this.probeSamples = [];
    this.arm(now + PROBE_MAX * this.s.intervalMs);
  }

  /** Ends a probe that ran out of time (keeping what it measured); true when it did. */
  private probeOver(now: number): boolean {
    if (now - this.probeAt < PROBE_MAX * this.s.intervalMs) return false;
    this.endProbe(now, this.probe === MEASURING && this.probeSamples.length >= 32);
    return true;
  }

  private endProbe(now: number, keep: boolean): void {
    if (keep) {
      this.probes.push({ samples: this.probeSamples, at: now });
      if (this.probes.length > BASELINE_PROBES) this.probes.shift();
      this.rebase(now);
    }
    this.probeSamples = [];
    this.probe = NONE;
    this.probeSpan = now - this.probeAt;
    this.lastProbe = now;
    this.since = now;
    this.sum = 0;
    this.count = 0;
    this.budget = 0;
    this.budgetAt = now;
    this.paused = false;
  }

  /** Arms the one timer for `at` unless it is armed for earlier. */
  private arm(at: number): void {
    if (this.timer !== undefined) {
      if (this.timerAt <= at) return;
      this.clock.clearTimer(this.timer);
    }
    this.timerAt = at;
    this.timer = this.clock.setTimer(this.fire, Math.max(0, at - this.clock.now()));
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    if (this.probe !== NONE && !this.probeOver(this.clock.now())) {
      this.arm(this.probeAt + PROBE_MAX * this.s.intervalMs);
      return;
    }
    this.wake();
  };

  /** Stops: clears the timer and ends a probe (the limit turned the scavenger off). */
  stop(): void {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.engaged = false;
    if (this.probe !== NONE) this.endProbe(this.clock.now(), false);
  }
}
