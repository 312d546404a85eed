/**
 * A running wall's declarations and observations as a topology document (`blastwall.topology/v1`).
 * Reads only `wall.topology()`, so the audit does not depend on the wall's classes (and a topology
 * served over HTTP by another process is the same document).
 */
import { isPlainObject } from '../core/validate.js';
import { AuditInputError, parseTopology, TOPOLOGY_SCHEMA, type Topology } from './topology.js';

/** What the audit needs of a wall: its topology method. */
export interface AuditableWall {
  topology(): unknown;
}

export function isAuditableWall(v: unknown): v is AuditableWall {
  return v !== null && typeof v === 'object' && typeof (v as { topology?: unknown }).topology === 'function';
}

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

/**
 * The topology document of a wall. Fields the wall does not report take conservative defaults (no backoff,
 * fallback 'none'), so the audit never invents protection that was not declared.
 */
export function topologyOfWall(wall: AuditableWall, origin = 'wall'): Topology {
  let raw: unknown;
  try {
    raw = wall.topology();
  } catch (e) {
    throw new AuditInputError(`${origin}: wall.topology() threw (${e instanceof Error ? e.message : String(e)})`);
  }
  const t = rec(raw);
  if (t === undefined) throw new AuditInputError(`${origin}: wall.topology() did not return an object`);
  if (t.schema === TOPOLOGY_SCHEMA) return parseTopology(t, origin);
  const deps = Array.isArray(t.dependencies) ? t.dependencies : [];
  const ops = Array.isArray(t.operations) ? t.operations : [];
  const doc: Record<string, unknown> = {
    schema: TOPOLOGY_SCHEMA,
    service: t.service,
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
  if (Array.isArray(t.features)) doc.features = t.features;
  if (Array.isArray(t.modeRules)) doc.modeRules = t.modeRules;
  if (num(t.observedWindowMs) !== undefined) doc.observedWindowMs = t.observedWindowMs;
  if (num(t.at) !== undefined) doc.at = t.at;
  return parseTopology(doc, origin);
}
