import type { Clock } from '../core/clock.js';
import { Emitter } from '../core/events.js';
import { ratioOption } from '../core/validate.js';

/**
 * One multi-window burn-rate alert rule: it fires when the error budget burns at least `factor` times the
 * sustainable rate over both the long and the short window (the short one makes it clear fast once the
 * burning stops).
 */
export interface BurnRateRule {
  /** Shown in alerts, e.g. `2% of budget in 1h`: the share of a 30-day budget this rate spends in the long window. */
  name: string;
  /** `page` wakes someone; `ticket` can wait for working hours. */
  severity: 'page' | 'ticket';
  /** Burn-rate factor both windows must reach. */
  factor: number;
  /** The long window (ms), e.g. 3,600,000 for one hour. */
  longMs: number;
  /** The short window (ms), typically a twelfth of the long one. */
  shortMs: number;
}

/** The SRE workbook's multi-window, multi-burn-rate alerts. */
export const WORKBOOK_RULES: readonly BurnRateRule[] = [
  { name: '2% of budget in 1h', severity: 'page', factor: 14.4, longMs: 3_600_000, shortMs: 300_000 },
  { name: '5% of budget in 6h', severity: 'page', factor: 6, longMs: 21_600_000, shortMs: 1_800_000 },
  { name: '10% of budget in 3d', severity: 'ticket', factor: 1, longMs: 259_200_000, shortMs: 21_600_000 },
];

/** A burn-rate rule starting or stopping to fire for one objective. */
export interface BurnRateAlert {
  /** `raised` when both windows reach the factor; `cleared` when either falls below it. */
  state: 'raised' | 'cleared';
  /** The objective burning, e.g. `payments availability 99.9%`. */
  objective: string;
  /** The rule's `name`. */
  rule: string;
  /** The rule's severity. */
  severity: 'page' | 'ticket';
  /** When (clock ms). */
  at: number;
  /** Burn rate over the long window: 1 spends the budget exactly over the objective's period. */
  longBurn: number;
  /** Burn rate over the short window. */
  shortBurn: number;
}

const BUCKET_MS = 60_000;

/**
 * Error-budget burn of one availability objective, from good/bad event counts in one-minute buckets
 * (bounded memory: the longest window's worth of buckets). An alert is raised when both its long and
 * short windows burn faster than its factor, and cleared when either drops below it.
 */
export class BurnRateMonitor {
  private readonly good: Float64Array;
  private readonly bad: Float64Array;
  private readonly buckets: number;
  private lastBucket: number;
  private readonly active = new Set<string>();
  readonly alerts = new Emitter<BurnRateAlert>();
  readonly objective: number;

  constructor(
    readonly name: string,
    objective: number,
    private readonly clock: Clock,
    readonly rules: readonly BurnRateRule[] = WORKBOOK_RULES,
    /** Events a short window needs before its burn is judged (a handful of calls proves nothing). */
    readonly minEvents = 20,
  ) {
    this.objective = ratioOption(`${name}.availability`, objective);
    if (this.objective >= 1) this.objective = 0.999999; // a 100% objective has no budget: treat as six nines
    this.buckets = Math.ceil(Math.max(...rules.map((r) => r.longMs)) / BUCKET_MS);
    this.good = new Float64Array(this.buckets);
    this.bad = new Float64Array(this.buckets);
    this.lastBucket = Math.floor(clock.now() / BUCKET_MS);
  }

  private advance(now: number): number {
    const b = Math.floor(now / BUCKET_MS);
    for (let i = Math.max(this.lastBucket + 1, b - this.buckets + 1); i <= b; i++) {
      this.good[i % this.buckets] = 0;
      this.bad[i % this.buckets] = 0;
    }
    if (b > this.lastBucket) this.lastBucket = b;
    return b;
  }

  /** Adds good and bad events at the current time. */
  record(good: number, bad: number): void {
    const b = this.advance(this.clock.now());
    this.good[b % this.buckets]! += good;
    this.bad[b % this.buckets]! += bad;
  }

  /** Burn rate over the last `ms`: error ratio / (1 − objective). */
  burn(ms: number): number {
    return this.window(ms).burn;
  }

  private window(ms: number): { burn: number; events: number } {
    const b = this.advance(this.clock.now());
    const n = Math.min(this.buckets, Math.ceil(ms / BUCKET_MS));
    let g = 0;
    let e = 0;
    for (let i = 0; i < n; i++) {
      const idx = (((b - i) % this.buckets) + this.buckets) % this.buckets;
      g += this.good[idx]!;
      e += this.bad[idx]!;
    }
    const total = g + e;
    return { burn: total === 0 ? 0 : e / total / (1 - this.objective), events: total };
  }

  /** Checks every rule; raises or clears alerts (each once per episode). */
  evaluate(): void {
    const at = this.clock.now();
    for (const r of this.rules) {
      const longBurn = this.burn(r.longMs);
      const short = this.window(r.shortMs);
      const shortBurn = short.burn;
      const firing = longBurn >= r.factor && shortBurn >= r.factor && short.events >= this.minEvents;
      if (firing && !this.active.has(r.name)) {
        this.active.add(r.name);
        this.alerts.emit({ state: 'raised', objective: this.name, rule: r.name, severity: r.severity, at, longBurn, shortBurn });
      } else if (!firing && this.active.has(r.name)) {
        this.active.delete(r.name);
        this.alerts.emit({ state: 'cleared', objective: this.name, rule: r.name, severity: r.severity, at, longBurn, shortBurn });
      }
    }
  }
}
