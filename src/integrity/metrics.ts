/**
 * Prometheus metrics for the integrity guards: idempotency outcomes, queue deliveries, backlog and
 * oldest-item age, stale writes kept out by the ordering guard, quarantined payloads. Like the wall's
 * exporter, the guards only bump plain counters; the values are read at scrape time (queue backlog with
 * one store query per queue and scrape).
 */
import type { Registry } from 'prom-client';
import type { Idempotency } from './idempotency.js';
import type { DurableQueue, OrderingGuard, Quarantine } from './queue.js';

/**
 * The Prometheus metric names {@link registerIntegrityMetrics} registers (each only when its source is
 * given). Counters: `idempotency` (label `outcome`: executed, replayed, in_flight, mismatch, lease_lost,
 * failed), `deliveries` (`outcome`: processed, duplicate, retried, dead, lease_lost), `staleWrites`,
 * `quarantined`. Gauges read from the store at scrape time: `backlog`, `oldestAge` (seconds),
 * `deadLetters`. Every series also has the `service` label when one is given.
 */
export const INTEGRITY_METRIC_NAMES = {
  idempotency: 'blastwall_idempotency_requests_total',
  deliveries: 'blastwall_queue_deliveries_total',
  backlog: 'blastwall_queue_backlog',
  oldestAge: 'blastwall_queue_oldest_age_seconds',
  deadLetters: 'blastwall_queue_dead_letters',
  staleWrites: 'blastwall_ordering_stale_writes_total',
  quarantined: 'blastwall_quarantined_total',
} as const;

/** The guards whose counters and queue depths {@link registerIntegrityMetrics} exports; every field is optional. */
export interface IntegritySources {
  /** Labelled `scope` by the map key. */
  idempotency?: Record<string, Idempotency>;
  /** Labelled `queue` by each queue's name; their backlog gauges cost one store query per queue and scrape. */
  queues?: readonly DurableQueue<never>[] | readonly DurableQueue[];
  /** Labelled `guard` by the map key (stale writes kept out). */
  guards?: Record<string, OrderingGuard>;
  /** Labelled `source` by the map key (payloads quarantined). */
  quarantine?: Record<string, Quarantine>;
}

interface Value {
  value: number;
  labels: Record<string, string>;
}

/** Registers the integrity metrics of `sources` on a prom-client registry (e.g. the wall's, via `telemetry.prometheus.registry`). */
export function registerIntegrityMetrics(registry: Registry, sources: IntegritySources, service?: string): void {
  const base: Record<string, string> = service === undefined ? {} : { service };
  const m = (name: string, help: string, type: 'counter' | 'gauge', values: () => Value[] | Promise<Value[]>): void => {
    registry.registerMetric({
      name,
      help,
      type,
      aggregator: 'sum',
      get: async () => ({ name, help, type, values: await values(), aggregator: 'sum' }),
    } as never);
  };
  const idem = Object.entries(sources.idempotency ?? {});
  if (idem.length > 0) {
    m(INTEGRITY_METRIC_NAMES.idempotency, 'Requests with an idempotency key by outcome (executed, replayed, in_flight, mismatch, lease_lost, failed).', 'counter', () =>
      idem.flatMap(([scope, i]) => {
        const s = i.stats;
        const l = { ...base, scope };
        return [
          { value: s.executed, labels: { ...l, outcome: 'executed' } },
          { value: s.replayed, labels: { ...l, outcome: 'replayed' } },
          { value: s.inFlight, labels: { ...l, outcome: 'in_flight' } },
          { value: s.mismatched, labels: { ...l, outcome: 'mismatch' } },
          { value: s.leaseLost, labels: { ...l, outcome: 'lease_lost' } },
          { value: s.failed, labels: { ...l, outcome: 'failed' } },
        ];
      }),
    );
  }
  const queues = (sources.queues ?? []) as readonly DurableQueue[];
  if (queues.length > 0) {
    m(INTEGRITY_METRIC_NAMES.deliveries, 'Queue deliveries handled by this process, by outcome (processed, duplicate, retried, dead, lease_lost).', 'counter', () =>
      queues.flatMap((q) => {
        const l = { ...base, queue: q.name };
        return [
          { value: q.stats.processed, labels: { ...l, outcome: 'processed' } },
          { value: q.stats.duplicates, labels: { ...l, outcome: 'duplicate' } },
          { value: q.stats.retried, labels: { ...l, outcome: 'retried' } },
          { value: q.stats.dead, labels: { ...l, outcome: 'dead' } },
          { value: q.stats.leaseLost, labels: { ...l, outcome: 'lease_lost' } },
        ];
      }),
    );
    // one store query per queue serves the three gauges of a scrape (prom-client asks every metric at once)
    let pending: Promise<Awaited<ReturnType<DurableQueue['queueStats']>>[]> | undefined;
    const stats = (): Promise<Awaited<ReturnType<DurableQueue['queueStats']>>[]> => {
      pending ??= Promise.all(queues.map((q) => q.queueStats())).finally(() => (pending = undefined));
      return pending;
    };
    m(INTEGRITY_METRIC_NAMES.backlog, 'Messages waiting or leased in the durable queue.', 'gauge', async () =>
      (await stats()).map((s, i) => ({ value: s.backlog, labels: { ...base, queue: queues[i]!.name } })),
    );
    m(INTEGRITY_METRIC_NAMES.oldestAge, 'Age of the oldest message in the backlog, seconds (0 when empty).', 'gauge', async () =>
      (await stats()).map((s, i) => ({ value: s.oldestAgeMs / 1000, labels: { ...base, queue: queues[i]!.name } })),
    );
    m(INTEGRITY_METRIC_NAMES.deadLetters, 'Dead-lettered messages kept in the durable queue.', 'gauge', async () =>
      (await stats()).map((s, i) => ({ value: s.dead, labels: { ...base, queue: queues[i]!.name } })),
    );
  }
  const guards = Object.entries(sources.guards ?? {});
  if (guards.length > 0) {
    m(INTEGRITY_METRIC_NAMES.staleWrites, 'Writes the ordering guard kept out because a newer version was stored.', 'counter', () =>
      guards.map(([guard, g]) => ({ value: g.stats.stale, labels: { ...base, guard } })),
    );
  }
  const quarantine = Object.entries(sources.quarantine ?? {});
  if (quarantine.length > 0) {
    m(INTEGRITY_METRIC_NAMES.quarantined, 'Payloads rejected by validation and stored in quarantine.', 'counter', () =>
      quarantine.map(([source, q]) => ({ value: q.stats.quarantined, labels: { ...base, source } })),
    );
  }
}
