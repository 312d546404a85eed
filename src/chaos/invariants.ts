/**
 * Invariants: typed checks on what a drill observed. Built with small builders rather than parsed from
 * strings; each has a name that reads like the statement it checks (`operation('checkout').successRate >= 0.99`)
 * and, when checked, the observed value.
 *
 *   operation('checkout').successRate.atLeast(0.99)
 *   operation('browse').p99.atMost('300ms')
 *   mode.reaches('degraded', { within: '10s' })      // of the first fault's start
 *   mode.returnsTo('normal', { within: '60s' })      // of the last fault's end
 *   status.never('unavailable')
 *   dependency('payments').attemptsPerCall.atMost(1.1)
 *   dependency('recommendations').reaches('corrupt', { within: '5s' })
 *   dependency('payments').alertedBeforeBreach()     // a drift alert before the p99 objective is breached
 *   integrity('no duplicate effects', async (app) => ({ ok, observed }))
 *   recovery.goodput({ backTo: 0.95, within: '5s' })
 */
import { type Duration, durationOption, formatDuration } from '../core/duration.js';
import { configError, enumOption, fnOption, numberOption, stringOption } from '../core/validate.js';
import type { DrillObservation } from './observe.js';

/** The outcome of one invariant's check. */
export interface InvariantResult {
  /** Whether it held (false too when nothing could be measured). */
  pass: boolean;
  /** For people: `0.987 (1,974 of 2,000)`. */
  observed: string;
  /** The measured figure (ms for durations), or null when nothing could be measured. */
  value: number | null;
}

/**
 * A check on what a drill observed, made by the builders (`operation('checkout').successRate.atLeast(0.99)`,
 * `mode.returnsTo('normal', { within: '10s' })`, `integrity(…)`, …); its name reads like the statement.
 */
export interface Invariant {
  /** The statement, e.g. `operation('browse').p99 <= '300ms'`; reports and JUnit test cases use it. */
  readonly name: string;
  /** Names the invariant refers to, checked against the drill's target before any load is sent. */
  readonly refs: { operations?: string[]; dependencies?: string[]; faults?: boolean; after?: Duration };
  /**
   * Judges the observation once the load has ended (after the drain). A rejection makes `runDrill`
   * reject (the builders' checks never reject; `integrity` turns a throw into a failed result).
   */
  check(o: DrillObservation): InvariantResult | Promise<InvariantResult>;
}

type Window = 'all' | 'faults';

const fmtNum = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(Math.abs(x) >= 10 ? 1 : 3));

function threshold(field: string, isDuration: boolean, v: unknown): number {
  return isDuration ? durationOption(field, v, 0) : numberOption(field, v, 0);
}

class Metric {
  constructor(
    private readonly subject: string,
    private readonly metric: string,
    private readonly isDuration: boolean,
    private readonly refs: Invariant['refs'],
    private readonly measure: (o: DrillObservation) => { value: number | null; observed: string },
  ) {}
  atLeast(min: number | Duration): Invariant {
    return this.make('>=', min, (v, t) => v >= t);
  }
  atMost(max: number | Duration): Invariant {
    return this.make('<=', max, (v, t) => v <= t);
  }
  private make(op: string, limit: unknown, ok: (v: number, t: number) => boolean): Invariant {
    const t = threshold(`${this.subject}.${this.metric} ${op}`, this.isDuration, limit);
    const shown = this.isDuration ? (typeof limit === 'string' ? `'${limit}'` : formatDuration(t)) : fmtNum(t);
    const measure = this.measure;
    return {
      name: `${this.subject}.${this.metric} ${op} ${shown}`,
      refs: this.refs,
      check: (o) => {
        const m = measure(o);
        return { pass: m.value !== null && ok(m.value, t), observed: m.observed, value: m.value };
      },
    };
  }
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

/** Invariants on one operation's requests (all of them, or `.during('faults')`: those sent while a fault was active). */
export function operation(name: string, options: { priority?: 'critical-plus' | 'critical' | 'sheddable-plus' | 'sheddable' } = {}) {
  stringOption('operation', name);
  const priority = options.priority === undefined ? undefined : enumOption('operation priority', options.priority, ['critical-plus', 'critical', 'sheddable-plus', 'sheddable']);
  const build = (window: Window) => {
    const subject = `operation('${name}'${priority === undefined ? '' : `, { priority: '${priority}' }`})${window === 'faults' ? ".during('faults')" : ''}`;
    const refs = { operations: [name], ...(window === 'faults' ? { faults: true } : {}) };
    const reqs = (o: DrillObservation) => {
      const rs = o.requestsOf(name, window);
      return priority === undefined ? rs : rs.filter((r) => r.priority === priority);
    };
    const latency = (q: number, label: string) =>
      new Metric(subject, label, true, refs, (o) => {
        const lat = reqs(o)
          .map((r) => r.latencyMs)
          .sort((a, b) => a - b);
        if (lat.length === 0) return { value: null, observed: 'no requests' };
        const v = quantile(lat, q);
        return { value: v, observed: `${formatDuration(v)} over ${lat.length} requests` };
      });
    return {
      successRate: new Metric(subject, 'successRate', false, refs, (o) => {
        const rs = reqs(o);
        if (rs.length === 0) return { value: null, observed: 'no requests' };
        const ok = rs.filter((r) => r.ok).length;
        const codes = new Map<string, number>();
        for (const r of rs) if (!r.ok) codes.set(r.code ?? 'ERROR', (codes.get(r.code ?? 'ERROR') ?? 0) + 1);
        const why = codes.size === 0 ? '' : `; failed: ${[...codes].map(([c, n]) => `${c}×${n}`).join(', ')}`;
        return { value: ok / rs.length, observed: `${(ok / rs.length).toFixed(4)} (${ok} of ${rs.length}${why})` };
      }),
      p50: latency(0.5, 'p50'),
      p90: latency(0.9, 'p90'),
      p99: latency(0.99, 'p99'),
      max: latency(1, 'max'),
    };
  };
  return {
    ...build('all'),
    /**
     * The same metrics over only the requests sent while a fault was active (`'faults'`, the only window);
     * the drill must then have at least one fault.
     */
    during: (w: 'faults') => build(enumOption('during', w, ['faults'])),
  };
}

function stateInvariant(
  name: string,
  refs: Invariant['refs'],
  check: (o: DrillObservation) => InvariantResult,
): Invariant {
  return { name, refs, check };
}

/** When the series `series` first equals `state` at or after `from` (or held it at `from`), as an offset in ms. */
function firstReach(o: DrillObservation, series: string, state: string, from: number): number | undefined {
  const at = o.valueAt(series, from);
  if (at === state) return 0;
  const t = o.transitions.find((x) => x.series === series && x.to === state && x.at >= from);
  return t === undefined ? undefined : t.at - from;
}

function reaches(series: string, label: string, refs: Invariant['refs'], state: string, within: Duration | undefined, after: 'start' | 'end') {
  const ms = within === undefined ? undefined : durationOption(`${label}.reaches within`, within, 0);
  const what = after === 'start' ? 'the first fault start' : 'the last fault end';
  const name =
    after === 'start'
      ? `${label} reaches '${state}'${ms === undefined ? ' during the drill' : ` within ${formatDuration(ms)} of fault start`}`
      : `${label} returns to '${state}'${ms === undefined ? ' by the end' : ` within ${formatDuration(ms)} of fault end`}`;
  return stateInvariant(name, { ...refs, faults: true, ...(ms !== undefined && after === 'end' ? { after: ms } : {}) }, (o) => {
    const from = after === 'start' ? o.firstFaultStart : o.lastFaultEnd;
    if (from === undefined) return { pass: false, observed: 'no fault ran', value: null };
    const d = firstReach(o, series, state, from);
    if (d === undefined) return { pass: false, observed: `never reached '${state}' after ${what} (last: '${o.valueAt(series, o.endedAt)}')`, value: null };
    return { pass: ms === undefined || d <= ms, observed: `reached '${state}' ${formatDuration(d)} after ${what}`, value: d };
  });
}

function never(series: string, label: string, refs: Invariant['refs'], state: string): Invariant {
  return stateInvariant(`${label} never '${state}'`, refs, (o) => {
    const hit = o.valueAt(series, o.startedAt) === state ? o.startedAt : o.transitions.find((t) => t.series === series && t.to === state)?.at;
    if (hit === undefined) return { pass: true, observed: `never '${state}' (states seen: ${o.statesOf(series).join(', ')})`, value: 0 };
    return { pass: false, observed: `'${state}' at +${formatDuration(hit - o.startedAt)}`, value: hit - o.startedAt };
  });
}

const MODES = ['normal', 'degraded', 'read-only', 'shedding'] as const;
const STATUSES = ['ok', 'degraded', 'unavailable'] as const;
const STATES = ['healthy', 'delayed', 'degraded', 'retrying', 'unavailable', 'corrupt'] as const;

/** The service's mode. */
export const mode = {
  /**
   * The mode is `m` at the first fault's start or becomes it afterwards, within `within` of that start when
   * given (a duration; else any time before the end). Needs at least one fault.
   */
  reaches: (m: (typeof MODES)[number], o: { within?: Duration } = {}) => reaches('mode', 'mode', {}, enumOption('mode', m, MODES), o.within, 'start'),
  /**
   * The mode is `m` again at or after the last fault's end, within `within` of that end when given (the
   * load must then last that long after it). Needs at least one fault.
   */
  returnsTo: (m: (typeof MODES)[number], o: { within?: Duration } = {}) => reaches('mode', 'mode', {}, enumOption('mode', m, MODES), o.within, 'end'),
  /** The mode is never `m` while the drill watches (from the load's start through the drain). */
  never: (m: (typeof MODES)[number]) => never('mode', 'mode', {}, enumOption('mode', m, MODES)),
};

/** The service status from `wall.health()`. */
export const status = {
  /** The status (`ok`, `degraded`, `unavailable`) is `s` at the first fault's start or becomes it, within `within` of it when given. */
  reaches: (s: (typeof STATUSES)[number], o: { within?: Duration } = {}) => reaches('status', 'service status', {}, enumOption('status', s, STATUSES), o.within, 'start'),
  /** The status is `s` again at or after the last fault's end, within `within` of it when given. */
  returnsTo: (s: (typeof STATUSES)[number], o: { within?: Duration } = {}) => reaches('status', 'service status', {}, enumOption('status', s, STATUSES), o.within, 'end'),
  /** The status is never `s` while the drill watches (from the load's start through the drain). */
  never: (s: (typeof STATUSES)[number]) => never('status', 'service status', {}, enumOption('status', s, STATUSES)),
};

/** Invariants on one dependency. */
export function dependency(name: string) {
  stringOption('dependency', name);
  const label = `dependency('${name}')`;
  const refs = { dependencies: [name] };
  const series = `dep:${name}`;
  return {
    /** Attempts reaching the dependency's function per finished call (retries included). */
    attemptsPerCall: new Metric(label, 'attemptsPerCall', false, refs, (o) => {
      const a = o.attempts[name];
      if (a === undefined || a.calls === 0) return { value: null, observed: 'no calls' };
      return { value: a.attempts / a.calls, observed: `${(a.attempts / a.calls).toFixed(3)} (${a.attempts} attempts / ${a.calls} calls)` };
    }),
    /**
     * The dependency's health state (`healthy`, `delayed`, `degraded`, `retrying`, `unavailable`, `corrupt`)
     * is `s` at the first fault's start or becomes it, within `within` of it when given.
     */
    reaches: (s: (typeof STATES)[number], o: { within?: Duration } = {}) => reaches(series, label, refs, enumOption(`${label}.reaches`, s, STATES), o.within, 'start'),
    /** Its health state is `s` again at or after the last fault's end, within `within` of it when given. */
    returnsTo: (s: (typeof STATES)[number], o: { within?: Duration } = {}) => reaches(series, label, refs, enumOption(`${label}.returnsTo`, s, STATES), o.within, 'end'),
    /** Its health state is never `s` while the drill watches (from the load's start through the drain). */
    never: (s: (typeof STATES)[number]) => never(series, label, refs, enumOption(`${label}.never`, s, STATES)),
    /** A drift alert on this dependency is raised before its latency p99 breaches its objective (stays above it for 1 s), if it ever does. */
    alertedBeforeBreach: (): Invariant =>
      stateInvariant(`${label} drift alert raised before its p99 objective is breached`, { ...refs, faults: true }, (o) => {
        // an alert before the drift began is noise, not detection: only alerts from the first fault on count
        const from = o.firstFaultStart ?? o.startedAt;
        const alert = o.transitions.find((t) => t.series === `drift:${name}` && t.to === 'raised' && t.at >= from);
        const breach = o.breaches[name];
        const at = (t: number) => `+${formatDuration(t - o.startedAt)}`;
        if (alert === undefined) return { pass: false, observed: `no drift alert${breach === undefined ? '' : `; objective breached at ${at(breach)}`}`, value: null };
        const lead = breach === undefined ? null : breach - alert.at;
        return {
          pass: breach === undefined || alert.at < breach,
          observed: `alert (${alert.detail ?? 'drift'}) at ${at(alert.at)}; ${breach === undefined ? 'objective never breached' : `objective breached at ${at(breach)}, lead ${formatDuration(lead!)}`}`,
          value: lead,
        };
      }),
  };
}

/** Recovery after the last fault ends. */
export const recovery = {
  /** Goodput (successful answers per second) is back to `backTo` × its pre-fault level within `within` of the last fault end. */
  goodput(o: { backTo: number; within: Duration }): Invariant {
    const ratio = numberOption('recovery.goodput.backTo', o.backTo, 0.01, 1);
    const ms = durationOption('recovery.goodput.within', o.within, 0);
    return {
      name: `recovery: goodput back to ${Math.round(ratio * 100)}% within ${formatDuration(ms)} of fault end`,
      refs: { faults: true, after: ms },
      check: (obs) => {
        const base = obs.baselineGoodput();
        const end = obs.lastFaultEnd;
        if (end === undefined || base === undefined || base === 0) return { pass: false, observed: 'no baseline before the first fault', value: null };
        const d = obs.goodputRecoveredAfter(end, ratio * base);
        if (d === undefined) return { pass: false, observed: `goodput stayed below ${(ratio * base).toFixed(1)}/s (baseline ${base.toFixed(1)}/s)`, value: null };
        return { pass: d <= ms, observed: `back to ≥ ${(ratio * base).toFixed(1)}/s (baseline ${base.toFixed(1)}/s) ${formatDuration(d)} after fault end`, value: d };
      },
    };
  },
};

/** A user-supplied check against the target, after the load (e.g. no duplicate effects in the store). */
export function integrity(name: string, check: (app: any) => Promise<{ ok: boolean; observed: string; value?: number }> | { ok: boolean; observed: string; value?: number }): Invariant {
  stringOption('integrity name', name);
  const fn = fnOption<typeof check>('integrity check', check);
  return {
    name,
    refs: {},
    check: async (o) => {
      try {
        const r = await fn(o.app);
        return { pass: r.ok === true, observed: String(r.observed), value: r.value ?? null };
      } catch (err) {
        return { pass: false, observed: `the check threw: ${err instanceof Error ? err.message : String(err)}`, value: null };
      }
    },
  };
}

/** Validates that `value` is an invariant made by the builders above (or an equivalent object). */
export function invariantOption(field: string, value: unknown): Invariant {
  const v = value as Partial<Invariant> | null;
  if (v === null || typeof v !== 'object' || typeof v.name !== 'string' || typeof v.check !== 'function' || typeof v.refs !== 'object') {
    throw configError(field, "an invariant built with operation(), dependency(), mode, status, recovery or integrity() (did you forget .atLeast()/.atMost()?)", value);
  }
  return v as Invariant;
}
