import { isAbsolute, relative } from 'node:path';
/**
 * The audit as people read it (text for a terminal, Markdown for a page) and as programs read it (JSON).
 * Text and Markdown put the "what happens next" table per dependency first, then the findings.
 */
import { describeEffect, FAILURE_MODES, fmtMs, worstCallMs, type Prediction } from './predict.js';
import type { Finding } from './rules.js';
import type { ServiceGraph } from './graph.js';
import type { TopologyDependency } from './topology.js';
import { verifyTable, type VerifyCheck } from './verify.js';

/**
 * The outcome of an audit (`auditWall`, `auditTopologies`): the predictions for every dependency × failure
 * mode and the findings. Render it with {@link toText}, {@link toMarkdown}, {@link toJson} or `toSarif`.
 */
export interface AuditResult {
  /** The audited services' names. */
  services: string[];
  predictions: Prediction[];
  /** Findings not accepted by the baseline (these count for `--fail-on`). */
  findings: Finding[];
  /** Findings the baseline accepted (not counted for `--fail-on`). */
  accepted: Finding[];
  /** The time the audit judged against (ms since the Unix epoch; features' expiry is judged at it). */
  at: number;
  /** The checks `--verify` ran (each prediction against a short drill), when it ran. */
  verified?: VerifyCheck[];
}

/**
 * One line describing a dependency's boundaries, as the reports head each dependency with it, e.g.
 * `core · timeout 800ms · 3 attempts (budget 10%) · breaker 50% of ≥20 calls · gives up within 2.7s`.
 */
export function boundarySummary(d: TopologyDependency): string {
  const parts: string[] = [d.criticality];
  parts.push(d.timeoutMs === null ? 'no timeout' : `timeout ${fmtMs(d.timeoutMs)}`);
  if (d.retry !== null && d.retry.attempts > 1) parts.push(`${d.retry.attempts} attempts${d.retry.budget ? ` (budget ${Math.round(d.retry.budget.ratio * 100)}%)` : ' (no budget)'}`);
  if (d.breaker !== null) parts.push(`breaker ${Math.round(d.breaker.failureRate * 100)}% of ≥${d.breaker.minimumCalls} calls`);
  if (d.concurrency !== null) parts.push(d.concurrency.adaptive ? 'adaptive concurrency' : `concurrency ${d.concurrency.limit ?? '?'}+${d.concurrency.queue ?? 0}`);
  if (d.cache !== null) parts.push(`cache fresh ${fmtMs(d.cache.freshMs)}, stale ${fmtMs(d.cache.staleMs)}`);
  if (d.fallback !== 'none') parts.push(`fallback (${d.fallback})`);
  if (d.deferred !== null) parts.push(`queue ${d.deferred.maxQueue}${d.deferred.durable ? ' durable' : ' in memory'}`);
  if (d.validate) parts.push('validated');
  if (d.criticality !== 'deferrable' && d.timeoutMs !== null) parts.push(`gives up within ${fmtMs(worstCallMs(d))}`);
  return parts.join(' · ');
}

/** The declaration's place, relative to the current directory when it is inside it. */
function where(f: Finding): string {
  if (f.source === undefined) return f.origin ?? f.service;
  const rel = relative(process.cwd(), f.source.file);
  const file = rel.startsWith('..') || isAbsolute(rel) ? f.source.file : rel;
  return `${file}:${f.source.line}`;
}

function counts(findings: Finding[]): string {
  const n = (s: string) => findings.filter((f) => f.severity === s).length;
  return `${n('error')} error(s), ${n('warning')} warning(s), ${n('note')} note(s)`;
}

/**
 * The audit as terminal text: per dependency and failure mode, the health and status it causes and every
 * operation it affects; then the `--verify` summary (when it ran) and the findings with why and fix.
 * `graph` is the one the result was computed from (it gives the order and the boundaries).
 */
export function toText(result: AuditResult, graph: ServiceGraph): string {
  const lines: string[] = [];
  lines.push(`blastwall audit — ${result.services.join(', ')}`);
  lines.push('');
  lines.push('What happens next (per dependency and failure mode; operations not listed are unaffected):');
  for (const t of graph.services()) {
    for (const d of t.dependencies) {
      lines.push('');
      lines.push(`${t.service}/${d.name}  ${boundarySummary(d)}`);
      for (const m of FAILURE_MODES) {
        const p = result.predictions.find((x) => x.service === t.service && x.dependency === d.name && x.mode === m);
        if (p === undefined) continue;
        const rules = p.modeRules.length > 0 ? `; mode → ${p.modeRules.map((r) => `${r.mode} (${r.name})`).join(', ')}` : '';
        lines.push(`  ${m.padEnd(10)} health ${p.health}, service ${p.status}${rules}`);
        const hit = p.impacts.filter((i) => i.effect.kind !== 'unaffected');
        if (hit.length === 0) lines.push(`  ${''.padEnd(10)}   every operation unaffected`);
        for (const i of hit) lines.push(`  ${''.padEnd(10)}   ${`${i.service}.${i.operation}`.padEnd(24)} ${describeEffect(i.effect)}`);
      }
    }
  }
  if (result.verified !== undefined) {
    const ops = result.verified.flatMap((c) => c.operations);
    lines.push('');
    lines.push(`Predictions checked by drills: ${ops.length} (dependency × mode × operation), ${ops.filter((o) => !o.agrees).length} mismatch(es)`);
  }
  lines.push('');
  lines.push(`Findings: ${counts(result.findings)}${result.accepted.length > 0 ? `; ${result.accepted.length} accepted by the baseline` : ''}`);
  for (const f of result.findings) {
    lines.push('');
    lines.push(`${f.severity.toUpperCase()} ${f.ruleId} ${f.rule}  ${where(f)}`);
    lines.push(`  ${f.message}`);
    lines.push(`  why: ${f.why}`);
    lines.push(`  fix: ${f.fix}`);
  }
  return `${lines.join('\n')}\n`;
}

const esc = (s: string): string => s.replace(/\|/g, '\\|');

/**
 * The audit as a Markdown page (a PR comment, a CI summary): one table per dependency (failure modes ×
 * operations), the `--verify` table when it ran, then the findings. `graph` is the one the result was
 * computed from.
 */
export function toMarkdown(result: AuditResult, graph: ServiceGraph): string {
  const out: string[] = [`# blastwall audit — ${result.services.join(', ')}`, ''];
  out.push(`Findings: ${counts(result.findings)}${result.accepted.length > 0 ? `; ${result.accepted.length} accepted by the baseline` : ''}.`, '');
  out.push('## What happens next', '');
  for (const t of graph.services()) {
    for (const d of t.dependencies) {
      out.push(`### ${t.service} / ${d.name}`, '', boundarySummary(d), '');
      const ops = t.operations.map((o) => o.name);
      const others = graph.services().filter((s) => s.service !== t.service).flatMap((s) => s.operations.map((o) => `${s.service}.${o.name}`));
      const cols = [...ops.map((o) => `${t.service}.${o}`), ...others];
      out.push(`| mode | health | service | ${cols.map(esc).join(' | ')} |`);
      out.push(`|---|---|---|${cols.map(() => '---').join('|')}|`);
      for (const m of FAILURE_MODES) {
        const p = result.predictions.find((x) => x.service === t.service && x.dependency === d.name && x.mode === m);
        if (p === undefined) continue;
        const cells = cols.map((c) => {
          const i = p.impacts.find((x) => `${x.service}.${x.operation}` === c);
          return i === undefined ? '' : esc(describeEffect(i.effect));
        });
        const rules = p.modeRules.length > 0 ? ` (mode → ${p.modeRules.map((r) => r.mode).join(', ')})` : '';
        out.push(`| ${m} | ${p.health} | ${p.status}${esc(rules)} | ${cells.join(' | ')} |`);
      }
      out.push('');
    }
  }
  if (result.verified !== undefined) {
    const bad = result.verified.flatMap((c) => c.operations).filter((o) => !o.agrees).length;
    out.push('## Predictions checked by drills (--verify)', '', `${result.verified.length} checks, ${bad} mismatch(es).`, '', verifyTable(result.verified), '');
  }
  out.push('## Findings', '');
  if (result.findings.length === 0) out.push('None.', '');
  for (const f of result.findings) {
    out.push(`- **${f.severity} ${f.ruleId} ${f.rule}** (\`${where(f)}\`): ${f.message}.  `, `  *Why:* ${f.why}  `, `  *Fix:* ${f.fix}`);
  }
  return `${out.join('\n')}\n`;
}

/** The result as pretty-printed JSON (with a final newline) under `"schema": "blastwall.audit/v1"`, for programs. */
export function toJson(result: AuditResult): string {
  return `${JSON.stringify({ schema: 'blastwall.audit/v1', ...result }, null, 2)}\n`;
}
