import type { Dependency } from './dependency.js';
import type { ServiceStatus } from './events.js';

/**
 * Service status from criticality: a `core` dependency unavailable makes the service unavailable; any
 * other unhealthy core dependency, or an optional/deferrable one that is degraded, corrupt or
 * unavailable, makes it degraded. An optional dependency never makes it unavailable.
 */
export function serviceStatus(dependencies: Iterable<Dependency>): { status: ServiceStatus; reason: string } {
  let status: ServiceStatus = 'ok';
  let reason = 'every dependency healthy';
  for (const d of dependencies) {
    const s = d.classifier.state;
    if (s === 'healthy') continue;
    if (d.criticality === 'core') {
      if (s === 'unavailable') return { status: 'unavailable', reason: `core dependency '${d.name}' is unavailable` };
      if (status === 'ok') {
        status = 'degraded';
        reason = `core dependency '${d.name}' is ${s}`;
      }
    } else if ((s === 'unavailable' || s === 'corrupt' || s === 'degraded') && status === 'ok') {
      status = 'degraded';
      reason = `${d.criticality} dependency '${d.name}' is ${s}`;
    }
  }
  return { status, reason };
}
