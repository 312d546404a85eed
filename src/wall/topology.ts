import type { Priority } from './context.js';
import type { Dependency } from './dependency.js';
import type { Criticality } from './dependency-spec.js';
import type { Operation, OperationImpact } from './operation.js';
import type { SourceLocation } from './source.js';

/**
 * What `wall.topology()` returns: dependencies with their boundaries, owners and where they were declared;
 * operations with the edges seen and their outcome counts; features; and the mode rules with the
 * (dependency, state) pairs that make them fire. `blastwall audit` reads it (docs/audit.md).
 */
export interface Topology {
  service: string;
  /** When it was taken (the wall's clock). */
  at: number;
  /** The window `observed.calls` counts over: the longest health window, or less while the wall is younger. */
  observedWindowMs: number;
  dependencies: {
    name: string;
    criticality: Criticality;
    boundaries: Record<string, unknown>;
    objective: { p99Ms: number; availability: number };
    owner?: string;
    runbook?: string;
    source?: SourceLocation;
    observed: { calls: number };
  }[];
  operations: {
    name: string;
    priority: Priority;
    deadlineMs: number | null;
    calls: string[];
    capability?: string;
    owner?: string;
    runbook?: string;
    source?: SourceLocation;
    /** Outcomes since the wall started. */
    counts: OperationImpact;
  }[];
  edges: { from: string; to: string }[];
  features: { name: string; owner: string; expires: string; expired: boolean; enabled: boolean }[];
  modeRules: { name: string; mode: string; firesOn: { dependency: string; state: string }[] }[];
}

function optional<T extends object>(fields: Record<string, unknown>): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[k] = v;
  return out as Partial<T>;
}

/** JSON topology: dependencies with criticality and boundaries, operations with priority, deadline and observed edges. */
export function topologyOf(
  service: string,
  dependencies: Iterable<Dependency>,
  ops: Iterable<Operation>,
  extra: { at: number; startedAt: number; features: Topology['features']; modeRules: Topology['modeRules'] },
): Topology {
  const operations = [...ops].map((o) => ({
    name: o.name,
    priority: o.priority,
    deadlineMs: Number.isFinite(o.deadlineMs) ? o.deadlineMs : null,
    calls: [...o.edges].sort(),
    ...optional({ capability: o.capability, owner: o.owner, runbook: o.runbook, source: o.source }),
    counts: { ...o.counts },
  }));
  const deps = [...dependencies];
  return {
    service,
    at: extra.at,
    observedWindowMs: Math.max(1, Math.min(extra.at - extra.startedAt, Math.max(0, ...deps.map((d) => d.stats.windowMs)))),
    dependencies: deps.map((d) => ({
      name: d.name,
      criticality: d.criticality,
      boundaries: d.boundaries,
      objective: d.objective,
      ...optional({ owner: d.owner, runbook: d.runbook, source: d.source }),
      observed: { calls: d.stats.totals(extra.at).calls },
    })),
    operations,
    edges: operations.flatMap((o) => o.calls.map((to) => ({ from: o.name, to }))),
    features: extra.features.map((f) => ({ name: f.name, owner: f.owner, expires: f.expires, expired: f.expired, enabled: f.enabled })),
    modeRules: extra.modeRules,
  };
}
