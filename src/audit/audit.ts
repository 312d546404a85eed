/**
 * The blast-radius audit: joins the given topologies, predicts what each dependency × failure mode does to
 * every operation, and runs the rules. A baseline accepts known findings so CI fails only on new ones.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { ServiceGraph } from './graph.js';
import { predictAll } from './predict.js';
import type { AuditResult } from './report.js';
import { runRules, type Finding, type Severity } from './rules.js';
import { topologyOfWall, type AuditableWall } from './from-wall.js';
import { AuditInputError, type Topology } from './topology.js';

export interface AuditOptions {
  /** Fingerprints of accepted findings (see `readBaseline`). */
  baseline?: ReadonlySet<string>;
  /** The time features' expiry is judged against. Default: now. */
  now?: number;
}

export function auditTopologies(topologies: readonly Topology[], options: AuditOptions = {}): { result: AuditResult; graph: ServiceGraph } {
  const graph = new ServiceGraph(topologies);
  const now = options.now ?? Date.now();
  const all = runRules(graph, now);
  const baseline = options.baseline ?? new Set<string>();
  const result: AuditResult = {
    services: graph.services().map((t) => t.service),
    predictions: predictAll(graph),
    findings: all.filter((f) => !baseline.has(f.fingerprint)),
    accepted: all.filter((f) => baseline.has(f.fingerprint)),
    at: now,
  };
  return { result, graph };
}

/** Audits walls in this process (several walls are joined by name, as a chain of services). */
export function auditWall(wall: AuditableWall | readonly AuditableWall[], options: AuditOptions = {}): AuditResult {
  const walls = Array.isArray(wall) ? (wall as readonly AuditableWall[]) : [wall as AuditableWall];
  return auditTopologies(walls.map((w, i) => topologyOfWall(w, `wall ${i + 1}`)), options).result;
}

const SEVERITY_RANK: Record<Severity, number> = { note: 0, warning: 1, error: 2 };

/** Whether any finding is at or above `level` (for `--fail-on`). */
export function failsAt(findings: readonly Finding[], level: Severity): boolean {
  return findings.some((f) => SEVERITY_RANK[f.severity] >= SEVERITY_RANK[level]);
}

export const BASELINE_SCHEMA = 'blastwall.audit-baseline/v1';

export function readBaseline(path: string): Set<string> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch (e) {
    throw new AuditInputError(`baseline ${path}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
  }
  const o = raw as { schema?: unknown; accepted?: unknown };
  if (o === null || typeof o !== 'object' || o.schema !== BASELINE_SCHEMA || !Array.isArray(o.accepted)) {
    throw new AuditInputError(`baseline ${path}: expected { "schema": "${BASELINE_SCHEMA}", "accepted": [{ "fingerprint": … }] }`);
  }
  const out = new Set<string>();
  o.accepted.forEach((a: unknown, i) => {
    const fp = (a as { fingerprint?: unknown } | null)?.fingerprint;
    if (typeof fp !== 'string') throw new AuditInputError(`baseline ${path}: expected \`accepted[${i}].fingerprint\` to be a string`);
    out.add(fp);
  });
  return out;
}

export function writeBaseline(path: string, findings: readonly Finding[]): void {
  const accepted = findings.map((f) => ({ fingerprint: f.fingerprint, rule: f.rule, message: f.message }));
  writeFileSync(path, `${JSON.stringify({ schema: BASELINE_SCHEMA, accepted }, null, 2)}\n`);
}
