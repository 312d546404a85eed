/**
 * What the dashboard page shows, as one JSON document (`GET state.json`, and each Server-Sent Event):
 * capabilities first, then dependencies, the mode, features, operations, the topology and the timeline.
 * Built on demand only: nothing here runs unless somebody asked for the page's state.
 */
import type { TimelineEntry, TimelineQuery } from '../timeline/index.js';
import type { Impact } from '../wall/capabilities.js';
import type { Wall } from '../wall/wall.js';

/**
 * The `schema` of every {@link DashboardState} document; it changes only when the document changes
 * incompatibly, so a reader (another dashboard, a script) can check it before reading the rest.
 */
export const STATE_SCHEMA = 'blastwall.dashboard/v1';

/**
 * One dependency as the dashboard shows it: its health and why, its breaker, its owner and its signals.
 * Read from a timeline file, only the last health transition is known (no signals, no history).
 */
export interface DependencyState {
  name: string;
  criticality: string;
  /** Its health state (`healthy`, `delayed`, `degraded`, `retrying`, `unavailable` or `corrupt`). */
  state: string;
  /** Why it is in that state, in words. */
  reason: string;
  /** When it entered that state (ms since the Unix epoch, on the wall's clock). */
  since: number;
  /** Its circuit breaker's state; null without a breaker (or not known from a timeline file). */
  breaker: string | null;
  owner: string | null;
  runbook: string | null;
  signals: Record<string, number>;
  /** Samples taken while someone watched the page (time, p99 ms, error ratio, retries per call). */
  history: { t: number[]; p99: number[]; errorRatio: number[]; retryRatio: number[] };
}

/** One operation as the dashboard shows it: what it serves, whom to call, which dependencies it uses, how it went. */
export interface OperationState {
  name: string;
  capability: string | null;
  priority: string;
  owner: string | null;
  runbook: string | null;
  /** Names of the dependencies it calls. */
  calls: string[];
  /** Since the wall started. */
  counts: { requests: number; failed: number; degraded: number; shed: number };
  /** Shares of `counts.requests` (0 when there were none). */
  rates: { success: number; degraded: number; shed: number; failed: number };
}

/**
 * A drift or burn-rate alert raised in the timeline and not cleared since (the page shows the alerts found
 * in the timeline entries it holds, so the last hour for a live wall).
 */
export interface Alert {
  kind: 'drift' | 'burn-rate';
  /** The dependency (or operation) it is about. */
  subject: string;
  title: string;
  severity: string;
  /** When it was raised (ms since the Unix epoch). */
  at: number;
}

/**
 * Everything the dashboard page shows, as one JSON document: the answer of `GET state.json` and the data of
 * each `state` Server-Sent Event. A timeline-backed dashboard fills only what the timeline tells (no
 * features, operations or topology, `impact` null).
 */
export interface DashboardState {
  schema: typeof STATE_SCHEMA;
  service: string;
  /** When the state was taken (ms since the Unix epoch). */
  at: number;
  /** Where the state comes from: a live wall, a timeline file (read-only), or another dashboard. */
  source: 'wall' | 'timeline' | 'url';
  /** Whether the actions are offered (a token was given to the handler). */
  actions: boolean;
  status: string;
  mode: { mode: string; reason: string; manual: boolean; since: number | null; until: number | null } | null;
  incident: { lead: string; title: string; at: number } | null;
  impact: Impact | null;
  dependencies: DependencyState[];
  features: { name: string; owner: string; enabled: boolean; override: string | null; expired: boolean; offIn: string[] }[];
  operations: OperationState[];
  topology: { edges: { from: string; to: string }[] };
  alerts: Alert[];
  timeline: (TimelineEntry & { instance?: string })[];
  /** Every instance of the fleet (with the `fleet` option); null when the fleet could not be read now. */
  fleet?: FleetMember[] | null;
}

/** A timeline the dashboard can read (a `createTimeline` timeline, SQLite or PostgreSQL, or the CLI's read-only reader). */
export interface ReadableTimeline {
  query(q?: TimelineQuery): TimelineEntry[] | Promise<TimelineEntry[]>;
}

/** One instance of the fleet as its last heartbeat told it (what `fleetState()` from blastwall/timeline returns). */
export interface FleetMember {
  instance: string;
  service: string;
  status: string;
  mode: string;
  dependencies: Record<string, string>;
  ageMs: number;
  gone: boolean;
}

/** Samples of each dependency's signals, kept only while the page is watched (bounded ring per dependency). */
export class History {
  private readonly series = new Map<string, DependencyState['history']>();
  constructor(private readonly size = 120) {}

  sample(wall: Wall): void {
    const now = wall.clock.now();
    for (const d of wall.dependencies()) {
      const t = d.totals();
      const judged = t.calls - t.rejected;
      let s = this.series.get(d.name);
      if (s === undefined) {
        s = { t: [], p99: [], errorRatio: [], retryRatio: [] };
        this.series.set(d.name, s);
      }
      s.t.push(Math.round(now / 1000));
      s.p99.push(Math.round(t.p99 * 10) / 10);
      s.errorRatio.push(judged > 0 ? round3((t.failures + t.invalid) / judged) : 0);
      s.retryRatio.push(judged > 0 ? round3(t.retries / judged) : 0);
      if (s.t.length > this.size) for (const k of ['t', 'p99', 'errorRatio', 'retryRatio'] as const) s[k].shift();
    }
  }

  of(name: string): DependencyState['history'] {
    return this.series.get(name) ?? { t: [], p99: [], errorRatio: [], retryRatio: [] };
  }

  clear(): void {
    this.series.clear();
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

const TIMELINE_LIMIT = 300;
/** How far back the page's timeline reaches. */
const TIMELINE_WINDOW_MS = 3600_000;

/**
 * The newest timeline entries (oldest first), read incrementally: each read asks only for what is newer than
 * the last entry seen (less a minute, for entries recorded with an earlier time), so a busy timeline is not
 * re-read at every push. A timeline that cannot be read now leaves the entries as they were.
 */
export class TimelineTail {
  private entries: TimelineEntry[] = [];
  private lastAt = Number.NEGATIVE_INFINITY;

  async read(timeline: ReadableTimeline | undefined, from: number): Promise<TimelineEntry[]> {
    if (timeline === undefined) return [];
    const since = Math.max(from, this.lastAt - 60_000);
    let fresh: TimelineEntry[];
    try {
      fresh = await timeline.query({ from: since, limit: 10_000 });
    } catch {
      return this.entries;
    }
    const known = new Set(this.entries.filter((e) => e.at >= since).map((e) => e.seq));
    const added = fresh.filter((e) => !known.has(e.seq));
    if (added.length > 0) {
      const all = [...this.entries, ...added].filter((e) => e.at >= from).sort((a, b) => a.at - b.at || a.seq - b.seq);
      this.entries = all.length > TIMELINE_LIMIT ? all.slice(-TIMELINE_LIMIT) : all;
      this.lastAt = Math.max(this.lastAt, ...added.map((e) => e.at));
    }
    return this.entries;
  }

  clear(): void {
    this.entries = [];
    this.lastAt = Number.NEGATIVE_INFINITY;
  }
}

/** Drift and burn-rate alerts raised and not cleared since, from the timeline entries. */
export function activeAlerts(entries: readonly TimelineEntry[]): Alert[] {
  const open = new Map<string, Alert>();
  for (const e of entries) {
    if (e.kind !== 'drift' && e.kind !== 'burn-rate') continue;
    const data = e.data ?? {};
    const subject = e.dependency ?? e.operation ?? '';
    const key = `${e.kind}|${subject}|${String(data.signal ?? data.rule ?? '')}`;
    if (data.state === 'raised') open.set(key, { kind: e.kind, subject, title: e.title, severity: e.severity, at: e.at });
    else if (data.state === 'cleared') open.delete(key);
  }
  return [...open.values()];
}

function rate(part: number, whole: number): number {
  return whole > 0 ? round3(part / whole) : 0;
}

/** The state of a live wall. */
export async function wallState(
  wall: Wall,
  history: History,
  tail: TimelineTail,
  timeline: ReadableTimeline | undefined,
  actions: boolean,
  fleet?: () => Promise<FleetMember[]>,
): Promise<DashboardState> {
  const health = wall.health();
  const topology = wall.topology();
  const [entries, members] = await Promise.all([
    tail.read(timeline, health.at - TIMELINE_WINDOW_MS),
    fleet === undefined ? undefined : fleet().then(
      (m) => m.map((x) => ({ instance: x.instance, service: x.service, status: x.status, mode: x.mode, dependencies: x.dependencies, ageMs: x.ageMs, gone: x.gone })),
      () => null,
    ),
  ]);
  const mode = wall.modeState();
  return {
    schema: STATE_SCHEMA,
    service: wall.service,
    at: health.at,
    source: 'wall',
    actions,
    status: health.status,
    mode: { mode: mode.mode, reason: mode.reason, manual: mode.manual, since: mode.since, until: mode.until },
    incident: wall.incident ?? null,
    impact: wall.impact(),
    dependencies: topology.dependencies.map((d) => {
      const h = health.dependencies[d.name]!;
      return {
        name: d.name,
        criticality: d.criticality,
        state: h.state,
        reason: h.reason,
        since: h.since,
        breaker: h.breaker ?? null,
        owner: d.owner ?? null,
        runbook: d.runbook ?? null,
        signals: { ...h.signals },
        history: history.of(d.name),
      };
    }),
    features: wall.features().map((f) => ({ name: f.name, owner: f.owner, enabled: f.enabled, override: f.override, expired: f.expired, offIn: f.offIn })),
    operations: topology.operations.map((o) => ({
      name: o.name,
      capability: o.capability ?? null,
      priority: o.priority,
      owner: o.owner ?? null,
      runbook: o.runbook ?? null,
      calls: o.calls,
      counts: o.counts,
      rates: {
        success: rate(o.counts.requests - o.counts.failed - o.counts.shed - o.counts.degraded, o.counts.requests),
        degraded: rate(o.counts.degraded, o.counts.requests),
        shed: rate(o.counts.shed, o.counts.requests),
        failed: rate(o.counts.failed, o.counts.requests),
      },
    })),
    topology: { edges: topology.edges },
    alerts: activeAlerts(entries),
    timeline: entries,
    ...(members !== undefined ? { fleet: members } : {}),
  };
}

/**
 * The state a timeline file tells on its own (`blastwall dashboard --db`): each dependency's last health
 * transition, the last mode, the last incident, active alerts and the entries. No live signals.
 */
export async function timelineState(timeline: ReadableTimeline, at: number): Promise<DashboardState> {
  const all = await timeline.query({});
  const entries = all.length > TIMELINE_LIMIT ? all.slice(-TIMELINE_LIMIT) : all;
  const deps = new Map<string, DependencyState>();
  let mode: DashboardState['mode'] = null;
  let incident: DashboardState['incident'] = null;
  let status = 'unknown';
  let service = '';
  for (const e of all) {
    service = e.service;
    const d = e.data ?? {};
    if (e.kind === 'health' && e.dependency !== null) {
      deps.set(e.dependency, {
        name: e.dependency,
        criticality: typeof d.criticality === 'string' ? d.criticality : 'unknown',
        state: typeof d.to === 'string' ? d.to : 'unknown',
        reason: typeof d.reason === 'string' ? d.reason : e.title,
        since: e.at,
        breaker: deps.get(e.dependency)?.breaker ?? null,
        owner: typeof d.owner === 'string' ? d.owner : null,
        runbook: typeof d.runbook === 'string' ? d.runbook : null,
        signals: {},
        history: { t: [], p99: [], errorRatio: [], retryRatio: [] },
      });
    } else if (e.kind === 'health' && typeof d.to === 'string') status = d.to;
    else if (e.kind === 'breaker' && e.dependency !== null) {
      const dep = deps.get(e.dependency);
      if (dep !== undefined) dep.breaker = typeof d.to === 'string' ? d.to : null;
    } else if (e.kind === 'mode' && typeof d.to === 'string') {
      mode = { mode: d.to, reason: typeof d.reason === 'string' ? d.reason : '', manual: d.manual === true, since: e.at, until: null };
    } else if (e.kind === 'incident' && typeof d.lead === 'string') incident = { lead: d.lead, title: typeof d.title === 'string' ? d.title : e.title, at: e.at };
  }
  return {
    schema: STATE_SCHEMA,
    service,
    at,
    source: 'timeline',
    actions: false,
    status,
    mode,
    incident,
    impact: null,
    dependencies: [...deps.values()],
    features: [],
    operations: [],
    topology: { edges: [] },
    alerts: activeAlerts(entries),
    timeline: entries,
  };
}
