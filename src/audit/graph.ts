/**
 * Several topologies joined by name into one graph: a dependency whose `service` (or, failing that, whose
 * name) is another audited service links the two, so a chain A → B → C is audited as one.
 */
import { AuditInputError, type Topology, type TopologyDependency, type TopologyOperation } from './topology.js';

/** One service calling another audited service: who calls, and through which of its dependencies. */
export interface CallerLink {
  /** The calling service. */
  service: string;
  /** Its dependency that is the called service. */
  dependency: TopologyDependency;
}

/** One path from an operation down through services, for amplification and timeout budgets. */
export interface ChainHop {
  service: string;
  operation: TopologyOperation;
  /** The dependency this hop calls next (absent on the last hop's leaf call). */
  dependency: TopologyDependency;
}

/**
 * The audited services joined into one graph by name: a dependency whose `service` (or, failing that, its
 * name) is another audited service links the two. The rules and predictions read it; build it from the
 * validated topologies (the constructor throws {@link AuditInputError} when none is given or a service
 * appears twice).
 */
export class ServiceGraph {
  private readonly byName = new Map<string, Topology>();

  constructor(topologies: readonly Topology[]) {
    if (topologies.length === 0) throw new AuditInputError('nothing to audit: give a wall, a module, a URL or a topology file');
    for (const t of topologies) {
      if (this.byName.has(t.service)) {
        throw new AuditInputError(`${t.origin ?? 'topology'}: service '${t.service}' is given twice (also in ${this.byName.get(t.service)?.origin ?? 'another input'})`);
      }
      this.byName.set(t.service, t);
    }
  }

  /** Every audited service's topology, in the order given. */
  services(): Topology[] {
    return [...this.byName.values()];
  }

  /** The topology of the service `name`; throws {@link AuditInputError} naming the audited services when there is none. */
  service(name: string): Topology {
    const t = this.byName.get(name);
    if (t === undefined) throw new AuditInputError(`unknown service '${name}'; audited: ${[...this.byName.keys()].join(', ')}`);
    return t;
  }

  /** The dependency `name` of `service`; throws {@link AuditInputError} when either is unknown. */
  dependency(service: string, name: string): TopologyDependency {
    const d = this.service(service).dependencies.find((x) => x.name === name);
    if (d === undefined) throw new AuditInputError(`unknown dependency '${name}' of service '${service}'`);
    return d;
  }

  /** The audited service a dependency is, if any. */
  downstreamOf(dep: TopologyDependency): Topology | undefined {
    return this.byName.get(dep.service ?? dep.name);
  }

  /** Every (service, dependency) that calls `service`. */
  callersOf(service: string): CallerLink[] {
    const out: CallerLink[] = [];
    for (const t of this.byName.values()) {
      if (t.service === service) continue;
      for (const d of t.dependencies) if ((d.service ?? d.name) === service) out.push({ service: t.service, dependency: d });
    }
    return out;
  }

  /**
   * Every call path that starts at an operation of a service no audited service calls (the edge of the
   * system) and follows dependencies into other audited services; each path ends at a dependency that is
   * not an audited service. Cycles are cut.
   */
  chains(): ChainHop[][] {
    const roots = this.services().filter((t) => this.callersOf(t.service).length === 0);
    const starts = roots.length > 0 ? roots : this.services();
    const out: ChainHop[][] = [];
    const walk = (svc: Topology, op: TopologyOperation, path: ChainHop[], seen: Set<string>): void => {
      for (const depName of op.calls) {
        const dep = svc.dependencies.find((d) => d.name === depName);
        if (dep === undefined) continue;
        const hop: ChainHop = { service: svc.service, operation: op, dependency: dep };
        const next = this.downstreamOf(dep);
        if (next === undefined || seen.has(next.service)) {
          out.push([...path, hop]);
          continue;
        }
        const nextOps = next.operations.filter((o) => o.calls.length > 0);
        if (nextOps.length === 0) {
          out.push([...path, hop]);
          continue;
        }
        for (const nop of nextOps) walk(next, nop, [...path, hop], new Set([...seen, next.service]));
      }
    };
    for (const t of starts) for (const op of t.operations) walk(t, op, [], new Set([t.service]));
    return out;
  }
}
