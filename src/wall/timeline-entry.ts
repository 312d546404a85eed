import type { TimelineEntryInput } from '../timeline/index.js';
import { faultTimelineEntry } from '../chaos/wall-faults.js';
import type { WallEvent } from './events.js';

/** Who owns a dependency or an operation, and where its runbook is (either may be unknown). */
export type OwnerLookup = (subject: { dependency?: string; operation?: string }) => { owner?: string | undefined; runbook?: string | undefined } | undefined;

const OWNED_KINDS = new Set(['health', 'breaker', 'drift', 'burn-rate', 'fault']);

/**
 * How a wall event reads on the incident timeline: kind, severity, a one-line title and the data behind it.
 * An entry about a dependency or an operation (health, breaker, drift, burn rate, fault) carries its
 * `owner` and `runbook` in its data and at the end of its title when `owners` knows them.
 */
export function toTimelineEntry(e: WallEvent, owners?: OwnerLookup): TimelineEntryInput {
  const entry = entryOf(e);
  if (owners === undefined || !OWNED_KINDS.has(entry.kind) || (entry.dependency === undefined && entry.operation === undefined)) return entry;
  const who = owners({ ...(entry.dependency !== undefined ? { dependency: entry.dependency } : {}), ...(entry.operation !== undefined ? { operation: entry.operation } : {}) });
  if (who === undefined || (who.owner === undefined && who.runbook === undefined)) return entry;
  const parts = [who.owner !== undefined ? `owner ${who.owner}` : '', who.runbook !== undefined ? `runbook ${who.runbook}` : ''].filter(Boolean);
  return {
    ...entry,
    title: `${entry.title} [${parts.join('; ')}]`,
    data: { ...entry.data, ...(who.owner !== undefined ? { owner: who.owner } : {}), ...(who.runbook !== undefined ? { runbook: who.runbook } : {}) },
  };
}

function entryOf(e: WallEvent): TimelineEntryInput {
  switch (e.type) {
    case 'capability':
      return {
        kind: 'capability',
        severity: e.to === 'down' ? 'critical' : e.to === 'limited' ? 'warning' : 'info',
        title: `capability "${e.capability}" ${e.from} → ${e.to}: ${e.summary}${e.owners.length > 0 ? ` [owner ${e.owners.join(', ')}]` : ''}`,
        data: { capability: e.capability, from: e.from, to: e.to, summary: e.summary, missing: e.missing, owners: e.owners, runbooks: e.runbooks },
      };
    case 'incident':
      return { kind: 'incident', severity: 'critical', title: `incident declared: ${e.title} (lead: ${e.lead})`, data: { lead: e.lead, title: e.title } };
    case 'health':
      return {
        kind: 'health',
        severity: e.to === 'unavailable' || e.to === 'corrupt' ? 'critical' : e.to === 'healthy' ? 'info' : 'warning',
        title: `${e.dependency} ${e.from} → ${e.to}: ${e.reason}`,
        dependency: e.dependency,
        data: { from: e.from, to: e.to, reason: e.reason, criticality: e.criticality },
      };
    case 'breaker':
      return {
        kind: 'breaker',
        severity: e.to === 'open' || e.to === 'isolated' ? 'critical' : 'info',
        title: `${e.dependency} breaker ${e.from} → ${e.to}: ${e.reason}`,
        dependency: e.dependency,
        data: { from: e.from, to: e.to, reason: e.reason },
      };
    case 'deferred-dead':
      return { kind: 'action', severity: 'warning', title: `${e.dependency}: deferred item ${e.id} dead-lettered (${e.code})`, dependency: e.dependency };
    case 'quarantine':
      return { kind: 'action', severity: 'warning', title: `${e.dependency}: response quarantined`, dependency: e.dependency };
    case 'mode':
      return {
        kind: 'mode',
        severity: e.to === 'normal' ? 'info' : e.to === 'degraded' ? 'warning' : 'critical',
        title: `mode ${e.from} → ${e.to}${e.manual ? ' (by hand)' : ''}: ${e.reason}`,
        data: { from: e.from, to: e.to, reason: e.reason, manual: e.manual },
      };
    case 'feature':
      return {
        kind: 'flag',
        severity: 'info',
        title: `feature ${e.feature} → ${e.state}: ${e.reason}`,
        data: { feature: e.feature, state: e.state, reason: e.reason },
      };
    case 'drift':
      return {
        kind: 'drift',
        severity: e.state === 'raised' ? 'warning' : 'info',
        title:
          e.state === 'raised'
            ? `${e.dependency ?? e.operation} ${e.signal} drifting: ${fmt(e.baseline)} → ${fmt(e.level)} (since ${new Date(e.onset).toISOString()})`
            : `${e.dependency ?? e.operation} ${e.signal} back to normal (${fmt(e.level)})`,
        ...(e.dependency !== undefined ? { dependency: e.dependency } : {}),
        ...(e.operation !== undefined ? { operation: e.operation } : {}),
        data: { state: e.state, signal: e.signal, baseline: e.baseline, level: e.level, onset: e.onset },
      };
    case 'burn-rate':
      return {
        kind: 'burn-rate',
        severity: e.state === 'cleared' ? 'info' : e.severity === 'page' ? 'critical' : 'warning',
        title: `${e.objective} error budget ${e.state === 'raised' ? `burning: ${e.rule} (${e.severity}; ${e.longBurn.toFixed(1)}× long, ${e.shortBurn.toFixed(1)}× short)` : `burn ${e.rule} cleared`}`,
        ...(e.objective.startsWith('dependency:') ? { dependency: e.objective.slice(11) } : { operation: e.objective.slice(10) }),
        data: { state: e.state, rule: e.rule, severity: e.severity, longBurn: e.longBurn, shortBurn: e.shortBurn },
      };
    case 'impact':
      return {
        kind: 'impact',
        severity: e.failed > 0 ? 'critical' : 'warning',
        title: `${e.operation}: ${e.failed} failed, ${e.degraded} degraded, ${e.shed} shed of ${e.requests} requests`,
        operation: e.operation,
        data: { requests: e.requests, failed: e.failed, degraded: e.degraded, shed: e.shed, intervalMs: e.intervalMs, codes: e.codes },
      };
    case 'fault':
      return faultTimelineEntry(e);
    case 'config':
      return {
        kind: 'config',
        severity: e.automatic ? 'critical' : 'info',
        title: e.automatic
          ? `config v${e.version}: rolled back to v${e.rollbackTo ?? '?'} by the wall: ${e.reason}`
          : `config v${e.version} by ${e.by}${e.rollbackTo !== undefined ? ` (rollback to v${e.rollbackTo})` : ''}: ${e.reason} — ${e.changes}${e.guardForMs !== undefined ? ` (guarded for ${Math.round(e.guardForMs / 1000)}s)` : ''}`,
        data: { version: e.version, by: e.by, reason: e.reason, changes: e.changes, automatic: e.automatic, ...(e.rollbackTo !== undefined ? { rollbackTo: e.rollbackTo } : {}), ...(e.guardForMs !== undefined ? { guardForMs: e.guardForMs } : {}) },
      };
    case 'config-guard':
      return {
        kind: 'config',
        severity: e.outcome === 'rolled-back' ? 'critical' : 'info',
        title: e.outcome === 'rolled-back' ? `config v${e.version} rolled back: ${e.detail}` : `config v${e.version} kept after its guard window: ${e.detail}`,
        data: { version: e.version, outcome: e.outcome, detail: e.detail },
      };
    case 'drain':
      return { kind: 'action', severity: 'warning', title: `drain ${e.state}: ${e.detail}`, data: { state: e.state, detail: e.detail } };
    case 'config-refused':
      return { kind: 'config', severity: 'warning', title: `config refused, the running configuration stays: ${e.error}`, data: { source: e.source, error: e.error } };
    case 'deploy':
      return { kind: 'deploy', severity: 'info', title: `deploy ${e.version} by ${e.by}`, data: { version: e.version, by: e.by } };
    case 'deploy-watch':
      return {
        kind: 'deploy',
        severity: e.outcome === 'worse' ? 'warning' : 'info',
        title: e.outcome === 'worse' ? `after deploy ${e.version}: ${e.detail}` : `after deploy ${e.version}: no signal worsened (${e.detail})`,
        data: { version: e.version, outcome: e.outcome, detail: e.detail },
      };
    case 'status':
      return {
        kind: 'health',
        severity: e.to === 'unavailable' ? 'critical' : e.to === 'degraded' ? 'warning' : 'info',
        title: `service ${e.from} → ${e.to}: ${e.reason}`,
        data: { from: e.from, to: e.to, reason: e.reason },
      };
  }
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  return Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 1 ? x.toFixed(1) : x.toPrecision(2);
}
