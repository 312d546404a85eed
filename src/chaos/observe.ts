/**
 * What a drill observed: every request's outcome, the state transitions (mode, status, each dependency's
 * health, drift alerts), per-second samples, attempts per dependency and the fault windows. Invariants and
 * the report read this; nothing here touches the target.
 */

export interface RequestRecord {
  operation: string;
  priority: string;
  /** When the request was sent (clock ms). */
  at: number;
  latencyMs: number;
  ok: boolean;
  /** Error code of a failure (`SHED`, `CIRCUIT_OPEN`, `HTTP_503`, `CLIENT_OVERFLOW`, `UNFINISHED`, ...). */
  code: string | undefined;
  /** Sends, with a naive client's retries. */
  sends: number;
}

/** A change of one observed series (the mode, the status, a dependency's health, a drift alert). */
export interface Transition {
  /** `mode`, `status`, `dep:<name>` or `drift:<name>`. */
  series: string;
  /** When it changed (ms on the drill's clock). */
  at: number;
  /** The value before; undefined when none was known. */
  from: string | undefined;
  /** The new value (for `drift:<name>`: `raised` or `cleared`). */
  to: string;
  /** Why, when the wall said (the event's reason, or the drift signal's levels). */
  detail?: string;
}

/** When one scheduled fault (or action below the library) was active, and how many attempts it hit. */
export interface FaultWindow {
  /** 1, 2, … in the order the faults started. */
  id: number;
  /** The faulted dependency (`(below the library)` for a scheduled action). */
  dependency: string;
  /** The fault for people (or the action's name). */
  description: string;
  /** Ms on the drill's clock. */
  startedAt: number;
  /** Ms on the drill's clock; undefined while it is still active. */
  endedAt: number | undefined;
  /** Attempts it hit, of those that reached the dependency while it was active (0 for a URL target or an action). */
  hits: number;
  attempts: number;
}

/** The target's health as sampled once per second of the drill (the report's chart reads these). */
export interface SecondSample {
  /** Second since the drill's start (0-based). */
  t: number;
  status: string;
  mode: string;
  /** Each dependency's health state, by name. */
  states: Record<string, string>;
  /** Each dependency's latency p99 (ms), by name. */
  p99: Record<string, number>;
}

/**
 * Everything a drill observed: every request's outcome, the state transitions, per-second samples,
 * attempts per dependency and the fault windows. The runner fills it; invariants ({@link Invariant.check})
 * and the reports read it. Times are ms on the drill's clock.
 */
export class DrillObservation {
  readonly requests: RequestRecord[] = [];
  readonly transitions: Transition[] = [];
  readonly samples: SecondSample[] = [];
  readonly faults: FaultWindow[] = [];
  /** Per dependency: attempts at its function slot and finished calls during the load. */
  attempts: Record<string, { attempts: number; calls: number }> = {};
  /** Per dependency: the first time its latency p99 exceeded its objective. */
  readonly breaches: Record<string, number> = {};
  /** Values of each series at the start. */
  readonly initial = new Map<string, string>();
  endedAt: number;
  /** The target (for integrity checks). */
  app: unknown = undefined;

  constructor(
    readonly startedAt: number,
    readonly operations: readonly string[],
  ) {
    this.endedAt = startedAt;
  }

  /** When the first fault (or action) started; undefined when none ran. `reaches` invariants count from it. */
  get firstFaultStart(): number | undefined {
    let t: number | undefined;
    for (const f of this.faults) if (t === undefined || f.startedAt < t) t = f.startedAt;
    return t;
  }

  /**
   * When the last fault (or action) ended (one still active counts as ending with the load); undefined when
   * none ran. `returnsTo` and recovery invariants count from it.
   */
  get lastFaultEnd(): number | undefined {
    let t: number | undefined;
    for (const f of this.faults) {
      const e = f.endedAt ?? this.endedAt;
      if (t === undefined || e > t) t = e;
    }
    return t;
  }

  /** Records a change of a series (ignored when the value did not change). */
  transition(series: string, at: number, to: string, detail?: string): void {
    const from = this.valueAt(series, Number.POSITIVE_INFINITY);
    if (from === to) return;
    this.transitions.push({ series, at, from, to, ...(detail === undefined ? {} : { detail }) });
  }

  /** The value of a series at time `t`. */
  valueAt(series: string, t: number): string | undefined {
    let v = this.initial.get(series);
    for (const x of this.transitions) {
      if (x.series !== series) continue;
      if (x.at > t) break;
      v = x.to;
    }
    return v;
  }

  /** Every value `series` took (its initial one first, then in order of first appearance), without repeats. */
  statesOf(series: string): string[] {
    const s = new Set<string>();
    const first = this.initial.get(series);
    if (first !== undefined) s.add(first);
    for (const t of this.transitions) if (t.series === series) s.add(t.to);
    return [...s];
  }

  /** Whether any fault was active at `t`. */
  faultActiveAt(t: number): boolean {
    return this.faults.some((f) => f.startedAt <= t && t < (f.endedAt ?? this.endedAt));
  }

  /**
   * The requests of `operation`: all of them, or with `'faults'` those sent while a fault was active.
   * Warm-up requests are never recorded.
   */
  requestsOf(operation: string, window: 'all' | 'faults' = 'all'): RequestRecord[] {
    return this.requests.filter((r) => r.operation === operation && (window === 'all' || this.faultActiveAt(r.at)));
  }

  /** Per second and operation: sent, answered ok (goodput), failed, latency p50/p99 of the answers completed in that second. */
  perSecond(): { t: number; operation: string; sent: number; goodput: number; failed: number; p50: number | null; p99: number | null }[] {
    const seconds = Math.max(1, Math.ceil((this.endedAt - this.startedAt) / 1000));
    const rows: { t: number; operation: string; sent: number; goodput: number; failed: number; p50: number | null; p99: number | null }[] = [];
    for (const op of this.operations) {
      const sent = new Array<number>(seconds).fill(0);
      const good = new Array<number>(seconds).fill(0);
      const bad = new Array<number>(seconds).fill(0);
      const lat: number[][] = Array.from({ length: seconds }, () => []);
      for (const r of this.requests) {
        if (r.operation !== op) continue;
        const s = Math.min(seconds - 1, Math.floor((r.at - this.startedAt) / 1000));
        const done = Math.min(seconds - 1, Math.floor((r.at + r.latencyMs - this.startedAt) / 1000));
        sent[s]!++;
        if (r.ok) good[done]!++;
        else bad[done]!++;
        lat[done]!.push(r.latencyMs);
      }
      for (let t = 0; t < seconds; t++) {
        const l = lat[t]!.sort((a, b) => a - b);
        const q = (p: number) => (l.length === 0 ? null : l[Math.min(l.length - 1, Math.ceil(p * l.length) - 1)]!);
        rows.push({ t, operation: op, sent: sent[t]!, goodput: good[t]!, failed: bad[t]!, p50: q(0.5), p99: q(0.99) });
      }
    }
    return rows;
  }

  /** Goodput of all operations per second (successful answers completed in each second). */
  goodputSeries(): number[] {
    const seconds = Math.max(1, Math.ceil((this.endedAt - this.startedAt) / 1000));
    const g = new Array<number>(seconds).fill(0);
    for (const r of this.requests) {
      if (!r.ok) continue;
      const s = Math.floor((r.at + r.latencyMs - this.startedAt) / 1000);
      if (s >= 0 && s < seconds) g[s]!++;
    }
    return g;
  }

  /**
   * Goodput before the first fault: the median (the lower one of an even count) of the whole seconds before
   * it, skipping the first, ramp-up second when there are more — a catch-up second does not raise the bar.
   */
  baselineGoodput(): number | undefined {
    const start = this.firstFaultStart;
    if (start === undefined) return undefined;
    const whole = Math.floor((start - this.startedAt) / 1000);
    if (whole < 1) return undefined;
    const g = this.goodputSeries()
      .slice(whole > 1 ? 1 : 0, whole)
      .sort((a, b) => a - b);
    return g[Math.floor((g.length - 1) / 2)];
  }

  /** Time after `end` until the first whole second whose goodput is ≥ `level` (ms, to that second's end). */
  goodputRecoveredAfter(end: number, level: number): number | undefined {
    const g = this.goodputSeries();
    const from = Math.ceil((end - this.startedAt) / 1000);
    for (let s = from; s < g.length; s++) {
      // the last second is cut short by the end of the load: judge only whole seconds
      if (this.startedAt + (s + 1) * 1000 > this.endedAt) break;
      if (g[s]! >= level) return this.startedAt + (s + 1) * 1000 - end;
    }
    return undefined;
  }
}
