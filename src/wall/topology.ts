import type { Priority } from '../core/operation-context.js';
import type { Dependency } from './dependency.js';
import type { Criticality } from './dependency-spec.js';
import type { Operation } from './operation.js';

/** What `wall.topology()` returns: dependencies with their boundaries, operations with the edges seen. */
export interface Topology {
  service: string;
  dependencies: { name: string; criticality: Criticality; boundaries: Record<string, unknown>; objective: { p99Ms: number; availability: number } }[];
  operations: { name: string; priority: Priority; deadlineMs: number | null; calls: string[] }[];
  edges: { from: string; to: string }[];
}

/** JSON topology: dependencies with criticality and boundaries, operations with priority, deadline and observed edges. */
export function topologyOf(service: string, dependencies: Iterable<Dependency>, ops: Iterable<Operation>): Topology {
  const operations = [...ops].map((o) => ({
    name: o.name,
    priority: o.priority,
    deadlineMs: Number.isFinite(o.deadlineMs) ? o.deadlineMs : null,
    calls: [...o.edges].sort(),
  }));
  return {
    service,
    dependencies: [...dependencies].map((d) => ({
      name: d.name,
      criticality: d.criticality,
      boundaries: d.boundaries,
      objective: d.objective,
    })),
    operations,
    edges: operations.flatMap((o) => o.calls.map((to) => ({ from: o.name, to }))),
  };
}
