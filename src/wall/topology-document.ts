/**
 * The wall's topology as a `blastwall.topology/v1` document (docs/audit.md; schema in
 * docs/schemas/topology-v1.schema.json): what `GET <topologyPath>` serves and `blastwall audit` reads.
 * Fields the wall does not know take conservative values (no backoff, fallback 'none'), so a reader never
 * sees protection that was not declared. The audit validates the document when it reads it.
 */
import { isPlainObject } from '../core/validate.js';
import type { Topology as WallTopology } from './topology.js';

/**
 * The `schema` field of every topology document the wall serves and the audit reads. The audit refuses a
 * document with another value, so a reader can tell this format from a future one.
 */
export const TOPOLOGY_SCHEMA = 'blastwall.topology/v1';

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const rec = (v: unknown): Record<string, unknown> | undefined => (isPlainObject(v) ? v : undefined);

/** Maps the wall's `boundaries` record (see `Dependency.boundaries`) onto the document's fields. */
function dependencyOf(d: Record<string, unknown>): Record<string, unknown> {
  const b = rec(d.boundaries) ?? {};
  const retry = rec(b.retry);
  const breaker = rec(b.breaker);
  const conc = rec(b.concurrency);
  const cache = rec(b.cache);
  const deferred = rec(b.deferred);
  const budget = rec(retry?.budget);
  const backoff = rec(retry?.backoff);
  const out: Record<string, unknown> = {
    name: d.name,
    criticality: d.criticality,
    timeoutMs: num(b.timeoutMs) ?? null,
    retry:
      retry === undefined
        ? null
        : {
            attempts: num(retry.attempts) ?? 1,
            backoff: { baseMs: num(backoff?.baseMs) ?? 0, maxMs: num(backoff?.maxMs) ?? 0 },
            budget: budget === undefined ? null : { ratio: num(budget.ratio) ?? 0.1, minPerSecond: num(budget.minPerSecond) ?? 0 },
          },
    breaker:
      breaker === undefined
        ? null
        : {
            failureRate: num(breaker.failureRate) ?? 0.5,
            minimumCalls: num(breaker.minimumCalls) ?? 1,
            windowMs: num(breaker.windowMs) ?? 30_000,
            halfOpenAfterMs: num(breaker.halfOpenAfterMs) ?? 5000,
          },
    concurrency:
      conc === undefined
        ? null
        : { limit: num(conc.limit) ?? num(conc.max) ?? null, queue: num(conc.queue) ?? null, adaptive: conc.adaptive === true },
    fallback: typeof b.fallback === 'string' ? b.fallback : 'none',
    cache: cache === undefined ? null : { freshMs: num(cache.freshMs) ?? 0, staleMs: num(cache.staleMs) ?? 0 },
    deferred: deferred === undefined ? null : { maxQueue: num(deferred.maxQueue) ?? 10_000, durable: deferred.durable === true },
    validate: b.validate !== undefined && b.validate !== false,
  };
  for (const k of ['owner', 'runbook', 'service'] as const) if (typeof d[k] === 'string') out[k] = d[k];
  if (rec(d.source) !== undefined) out.source = d.source;
  const calls = num(rec(d.observed)?.calls);
  if (calls !== undefined) out.observed = { calls };
  return out;
}

/** Converts `wall.topology()` to the versioned document. */
export function topologyDocument(t: WallTopology | Record<string, unknown>): Record<string, unknown> {
  const raw = t as unknown as Record<string, unknown>;
  const deps = Array.isArray(raw.dependencies) ? (raw.dependencies as unknown[]) : [];
  const ops = Array.isArray(raw.operations) ? (raw.operations as unknown[]) : [];
  const doc: Record<string, unknown> = {
    schema: TOPOLOGY_SCHEMA,
    service: raw.service,
    dependencies: deps.map((d) => dependencyOf(rec(d) ?? {})),
    operations: ops.map((o) => {
      const op = rec(o) ?? {};
      const out: Record<string, unknown> = { name: op.name, priority: op.priority, deadlineMs: num(op.deadlineMs) ?? null, calls: Array.isArray(op.calls) ? op.calls : [] };
      for (const k of ['capability', 'owner', 'runbook'] as const) if (typeof op[k] === 'string') out[k] = op[k];
      if (Array.isArray(op.declared)) out.declared = op.declared;
      if (rec(op.source) !== undefined) out.source = op.source;
      return out;
    }),
  };
  if (Array.isArray(raw.features)) {
    doc.features = (raw.features as unknown[]).map((f) => {
      const fo = rec(f) ?? {};
      const out: Record<string, unknown> = { name: fo.name };
      if (typeof fo.owner === 'string') out.owner = fo.owner;
      if (typeof fo.expires === 'string') out.expires = fo.expires;
      if (rec(fo.source) !== undefined) out.source = fo.source;
      return out;
    });
  }
  if (Array.isArray(raw.modeRules)) doc.modeRules = raw.modeRules;
  if (num(raw.observedWindowMs) !== undefined) doc.observedWindowMs = raw.observedWindowMs;
  if (num(raw.at) !== undefined) doc.at = raw.at;
  return doc;
}
