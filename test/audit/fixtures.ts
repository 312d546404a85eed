import { parseTopology, TOPOLOGY_SCHEMA, type Topology, type TopologyDependency, type TopologyOperation } from '../../src/audit/index.js';

/** A well-protected core dependency: no rule fires on it alone. */
export function dep(name: string, over: Partial<TopologyDependency> = {}): TopologyDependency {
  return {
    name,
    criticality: 'core',
    timeoutMs: 300,
    retry: { attempts: 2, backoff: { baseMs: 50, maxMs: 500 }, budget: { ratio: 0.1, minPerSecond: 10 } },
    breaker: { failureRate: 0.5, minimumCalls: 20, windowMs: 30_000, halfOpenAfterMs: 5000 },
    concurrency: { limit: 32, queue: 64, adaptive: false },
    fallback: 'none',
    cache: null,
    deferred: null,
    validate: true,
    owner: 'team-a',
    runbook: 'docs/runbooks/x.md',
    ...over,
  };
}

export function op(name: string, calls: string[], over: Partial<TopologyOperation> = {}): TopologyOperation {
  return { name, priority: 'critical', deadlineMs: 2000, calls, ...over };
}

export function topo(service: string, dependencies: TopologyDependency[], operations: TopologyOperation[], over: Partial<Topology> = {}): Topology {
  // through the parser, so every fixture is also a valid document
  return parseTopology(JSON.parse(JSON.stringify({ schema: TOPOLOGY_SCHEMA, service, dependencies, operations, ...over })) as unknown, `${service}.json`);
}
