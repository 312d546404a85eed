import type { HealthState } from '../health/classifier.js';
import type { Criticality } from './dependency-spec.js';
import type { Dependency } from './dependency.js';
import type { Operation } from './operation.js';

/** What a business capability can do now: everything, part of it (see `missing`), or nothing. */
export type CapabilityStatus = 'available' | 'limited' | 'down';

/** One thing a limited or down capability is missing: a dependency in trouble, or its own operations failing. */
export interface MissingPart {
  /** The dependency in trouble (absent when the capability's operations fail with every dependency healthy). */
  dependency?: string;
  criticality?: Criticality;
  state?: HealthState;
  reason: string;
  since?: number;
  breaker?: string;
  /**
   * How answers are served meanwhile: `failing` (a core dependency: calls fail or are slow), `stale` (from the
   * cache, `staleMs` old), `fallback` (a fallback value), `deferred` (queued: `backlog` items, the oldest
   * `oldestDeferredAgeMs` old), or `failing` for the operations' own failures.
   */
  served: 'failing' | 'stale' | 'fallback' | 'deferred';
  staleMs?: number;
  backlog?: number;
  oldestDeferredAgeMs?: number;
  owner?: string;
  runbook?: string;
}

export interface CapabilityImpact {
  name: string;
  status: CapabilityStatus;
  /** One line: why it has this status. */
  summary: string;
  operations: string[];
  /** Outcomes of its operations over their rolling window (60 s). */
  recent: { requests: number; failed: number; degraded: number; failureRatio: number };
  missing: MissingPart[];
  owners: string[];
  runbooks: string[];
}

export interface Impact {
  at: number;
  /** The worst capability status. */
  status: CapabilityStatus;
  capabilities: CapabilityImpact[];
}

/** A dependency as the capability rules see it (plain data: the rules are tested on it directly). */
export interface DependencyView {
  name: string;
  criticality: Criticality;
  state: HealthState;
  reason: string;
  since: number;
  breaker?: string;
  /** Whether answers can come from a cache, and the cache-age signal (ms) last measured. */
  cached: boolean;
  cacheAgeMs?: number;
  backlog?: number;
  oldestDeferredAgeMs?: number;
  owner?: string;
  runbook?: string;
}

/** An operation as the capability rules see it. */
export interface OperationView {
  name: string;
  capability?: string;
  owner?: string;
  runbook?: string;
  /** Dependencies it was seen calling (the topology's edges). */
  calls: string[];
  recent: { requests: number; failed: number; degraded: number };
}

export interface ImpactRules {
  /** Share of failed requests at which a capability whose core dependency is in trouble is `down`. Default 0.5. */
  downRatio: number;
  /** Share of failed requests at which a capability is `limited` even with every dependency healthy. Default 0.05. */
  limitedRatio: number;
  /** Requests needed in the window before the failure ratio counts. Default 5. */
  minimumRequests: number;
}

export const DEFAULT_IMPACT_RULES: ImpactRules = { downRatio: 0.5, limitedRatio: 0.05, minimumRequests: 5 };

const RANK: Record<CapabilityStatus, number> = { available: 0, limited: 1, down: 2 };

function optional<T extends object>(fields: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[k] = v;
  return out as { [K in keyof T]?: Exclude<T[K], undefined> };
}

function pct(x: number): string {
  return `${Math.round(x * 100)}%`;
}

function age(ms: number): string {
  return ms >= 60_000 ? `${(ms / 60_000).toFixed(1)} min` : ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

/**
 * The status of each capability, from its operations' recent outcomes and the health of the dependencies
 * they call:
 * - a `core` dependency in trouble: `down` when it is unavailable (breaker open included) or when the
 *   capability's failure ratio reaches `downRatio`; otherwise `limited` (calls fail or are slow);
 * - an `optional` dependency in trouble: `limited` (answers come stale from the cache, with their age, or
 *   from the fallback);
 * - a `deferrable` dependency in trouble: `limited`, delayed (work is queued: backlog and oldest age);
 * - no dependency in trouble, but failures at `limitedRatio` or more (shed, deadlines): `limited`.
 * Operations that name no capability stand for themselves (their name is the capability's).
 */
export function capabilityImpact(
  deps: ReadonlyMap<string, DependencyView>,
  ops: Iterable<OperationView>,
  at: number,
  rules: ImpactRules = DEFAULT_IMPACT_RULES,
): Impact {
  const groups = new Map<string, OperationView[]>();
  for (const op of ops) {
    const name = op.capability ?? op.name;
    const list = groups.get(name) ?? [];
    list.push(op);
    groups.set(name, list);
  }
  const capabilities = [...groups].map(([name, list]) => judge(name, list, deps, rules));
  let status: CapabilityStatus = 'available';
  for (const c of capabilities) if (RANK[c.status] > RANK[status]) status = c.status;
  return { at, status, capabilities };
}

function judge(name: string, ops: OperationView[], deps: ReadonlyMap<string, DependencyView>, rules: ImpactRules): CapabilityImpact {
  const recent = { requests: 0, failed: 0, degraded: 0, failureRatio: 0 };
  const called = new Set<string>();
  const owners = new Set<string>();
  const runbooks = new Set<string>();
  for (const op of ops) {
    recent.requests += op.recent.requests;
    recent.failed += op.recent.failed;
    recent.degraded += op.recent.degraded;
    for (const d of op.calls) called.add(d);
    if (op.owner !== undefined) owners.add(op.owner);
    if (op.runbook !== undefined) runbooks.add(op.runbook);
  }
  recent.failureRatio = recent.requests > 0 ? recent.failed / recent.requests : 0;
  const ratioCounts = recent.requests >= rules.minimumRequests;

  let status: CapabilityStatus = 'available';
  const reasons: string[] = [];
  const missing: MissingPart[] = [];
  const raise = (s: CapabilityStatus): void => {
    if (RANK[s] > RANK[status]) status = s;
  };
  for (const depName of [...called].sort()) {
    const d = deps.get(depName);
    if (d === undefined || d.state === 'healthy') continue;
    const base = {
      dependency: d.name,
      criticality: d.criticality,
      state: d.state,
      reason: d.reason,
      since: d.since,
      ...optional({ breaker: d.breaker, owner: d.owner, runbook: d.runbook }),
    };
    if (d.criticality === 'core') {
      const down = d.state === 'unavailable' || (ratioCounts && recent.failureRatio >= rules.downRatio);
      raise(down ? 'down' : 'limited');
      missing.push({ ...base, served: 'failing' });
      reasons.push(`${d.name} is ${d.state}${ratioCounts ? ` (${pct(recent.failureRatio)} of requests failing)` : ''}`);
    } else if (d.criticality === 'optional') {
      raise('limited');
      const stale = d.cached && d.cacheAgeMs !== undefined && d.cacheAgeMs > 0;
      missing.push({ ...base, served: stale ? 'stale' : 'fallback', ...(stale ? { staleMs: d.cacheAgeMs } : {}) });
      reasons.push(`${d.name} is ${d.state}: answers ${stale ? `served stale (${age(d.cacheAgeMs!)} old)` : 'from the fallback'}`);
    } else {
      raise('limited');
      missing.push({ ...base, served: 'deferred', ...optional({ backlog: d.backlog, oldestDeferredAgeMs: d.oldestDeferredAgeMs }) });
      reasons.push(
        `${d.name} is ${d.state}: delayed${d.backlog !== undefined ? ` (${d.backlog} queued${d.oldestDeferredAgeMs ? `, oldest ${age(d.oldestDeferredAgeMs)}` : ''})` : ''}`,
      );
    }
  }
  if (status === 'available' && ratioCounts && recent.failureRatio >= rules.limitedRatio) {
    raise(recent.failureRatio >= rules.downRatio ? 'down' : 'limited');
    missing.push({ reason: `${pct(recent.failureRatio)} of ${recent.requests} requests failing`, served: 'failing' });
    reasons.push(`${pct(recent.failureRatio)} of requests failing with every dependency healthy`);
  }
  return {
    name,
    status,
    summary: reasons.length === 0 ? 'every part working' : reasons.join('; '),
    operations: ops.map((o) => o.name),
    recent,
    missing,
    owners: [...owners],
    runbooks: [...runbooks],
  };
}

/** The views of the wall's live dependencies and operations (read-only: reads no signal destructively). */
export function impactOf(dependencies: Iterable<Dependency>, operations: Iterable<Operation>, at: number, rules?: ImpactRules): Impact {
  const deps = new Map<string, DependencyView>();
  for (const d of dependencies) {
    const deferred = d.criticality === 'deferrable' ? d.backlog() : undefined;
    deps.set(d.name, {
      name: d.name,
      criticality: d.criticality,
      state: d.classifier.state,
      reason: d.classifier.reason,
      since: d.classifier.since,
      cached: d.cache !== undefined,
      ...optional({
        breaker: d.breaker?.state,
        cacheAgeMs: d.lastCacheAgeMs,
        backlog: deferred?.size,
        oldestDeferredAgeMs: deferred?.oldestAgeMs,
        owner: d.owner,
        runbook: d.runbook,
      }),
    });
  }
  const ops: OperationView[] = [];
  for (const o of operations) {
    const t = o.stats.totals(at);
    ops.push({
      name: o.name,
      calls: [...o.edges],
      recent: { requests: t.calls, failed: t.failures, degraded: t.fallbacks },
      ...optional({ capability: o.capability, owner: o.owner, runbook: o.runbook }),
    });
  }
  return capabilityImpact(deps, ops, at, rules);
}

/** A declared capability whose status changed (a wall event and a timeline entry of kind `capability`). */
export interface CapabilityChange {
  type: 'capability';
  at: number;
  capability: string;
  from: CapabilityStatus;
  to: CapabilityStatus;
  summary: string;
  /** The dependencies it misses, with how they are served. */
  missing: { dependency?: string; served: MissingPart['served']; state?: string }[];
  owners: string[];
  runbooks: string[];
}

/**
 * Remembers each declared capability's last status and reports the changes (the wall asks once per health
 * interval, only when some operation names a capability). A capability first seen `available` is not a change.
 */
export class CapabilityWatch {
  private readonly last = new Map<string, CapabilityStatus>();

  /** The changes since the last look at the wall's operations (nothing is computed when none names a capability). */
  observe(dependencies: Iterable<Dependency>, operations: Iterable<Operation>, at: number): CapabilityChange[] {
    const declared = new Set<string>();
    const ops = [...operations];
    for (const o of ops) if (o.capability !== undefined) declared.add(o.capability);
    if (declared.size === 0) return [];
    return this.changes(impactOf(dependencies, ops, at), declared);
  }

  changes(impact: Impact, declared: ReadonlySet<string>): CapabilityChange[] {
    const out: CapabilityChange[] = [];
    for (const c of impact.capabilities) {
      if (!declared.has(c.name)) continue;
      const from = this.last.get(c.name) ?? 'available';
      this.last.set(c.name, c.status);
      if (from === c.status) continue;
      out.push({
        type: 'capability',
        at: impact.at,
        capability: c.name,
        from,
        to: c.status,
        summary: c.summary,
        missing: c.missing.map((m) => ({ ...(m.dependency !== undefined ? { dependency: m.dependency } : {}), served: m.served, ...(m.state !== undefined ? { state: m.state } : {}) })),
        owners: c.owners,
        runbooks: c.runbooks,
      });
    }
    return out;
  }
}
