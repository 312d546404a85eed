/**
 * The audit's rules: each reads the joined graph and returns findings with a rule id, a severity, what was
 * seen, why it matters, how to fix it, and where the thing was declared.
 */
import { attemptsOf, backoffTotalMs, fmtMs, worstCallMs } from './predict.js';
import type { ServiceGraph } from './graph.js';
import type { SourceLocation, Topology, TopologyDependency } from './topology.js';

/**
 * How serious a finding is, from `note` (worth knowing) through `warning` to `error` (the service will
 * misbehave); `--fail-on` fails the run at or above a level.
 */
export type Severity = 'error' | 'warning' | 'note';

/** One problem a rule found: what was seen, why it matters, how to fix it, and where it was declared. */
export interface Finding {
  /** The rule's id, `BW001` … (see {@link RULES}). */
  ruleId: string;
  /** The rule's name, e.g. `core-without-timeout`. */
  rule: string;
  /** Usually the rule's; a rule may raise or lower it for one finding. */
  severity: Severity;
  /** The service it was found in. */
  service: string;
  /** What the finding is about: `dependency payments`, `operation checkout`, `chain web.checkout → api → db`. */
  subject: string;
  /** What was seen, with the figures. */
  message: string;
  /** Why it matters (what goes wrong when the dependency misbehaves). */
  why: string;
  /** How to fix it. */
  fix: string;
  /** Where the subject was declared, when known (file and line, for editors and SARIF). */
  source?: SourceLocation;
  /** The input the service came from (file, URL, module). */
  origin?: string;
  /** Stable across runs and line moves: rule, service, subject. Baselines store it. */
  fingerprint: string;
  /** Rule-specific figures (in JSON and SARIF output). */
  data?: Record<string, unknown>;
}

/** A rule as {@link RULES} lists it. */
export interface RuleInfo {
  /** `BW001` … `BW016`; docs/audit.md has a section per id. */
  id: string;
  /** Kebab-case name, e.g. `retry-amplification`. */
  name: string;
  /** The severity of its findings by default. */
  severity: Severity;
  /** One sentence: what it finds. */
  summary: string;
}

/** Thresholds the rules use; documented in docs/audit.md. */
export const LIMITS = {
  /** Worst-case calls reaching the deepest dependency per organic request above which amplification is a finding. */
  amplification: 1.1,
  /** Concurrency limits above this are "very large". */
  concurrency: 1000,
  /** Queues (concurrency or deferred) above this are "very large". */
  queue: 10_000,
  /** Observations over a shorter window are not judged (dead dependencies, breakers that cannot open). */
  observedWindowMs: 60_000,
} as const;

/** Every rule the audit runs, by id (`BW001` … `BW016`); SARIF output lists them as its rules. */
export const RULES: readonly RuleInfo[] = [
  { id: 'BW001', name: 'core-without-timeout', severity: 'error', summary: 'A core dependency has no per-attempt timeout.' },
  { id: 'BW002', name: 'core-without-breaker', severity: 'warning', summary: 'A core dependency has no circuit breaker.' },
  { id: 'BW003', name: 'timeout-budget-inversion', severity: 'error', summary: 'Timeouts and retries do not fit inside the deadline that contains them.' },
  { id: 'BW004', name: 'retry-amplification', severity: 'warning', summary: 'Retries multiply the load on the deepest dependency.' },
  { id: 'BW005', name: 'unbounded-concurrency', severity: 'warning', summary: 'A dependency has no concurrency limit, or a very large limit or queue.' },
  { id: 'BW006', name: 'empty-fallback-on-critical', severity: 'warning', summary: 'A critical operation falls back to an empty value with no cache.' },
  { id: 'BW007', name: 'deferred-in-memory', severity: 'warning', summary: 'Deferrable work is queued only in memory.' },
  { id: 'BW008', name: 'dead-dependency', severity: 'note', summary: 'A declared dependency was not called in the observed window.' },
  { id: 'BW009', name: 'undeclared-call', severity: 'warning', summary: 'An operation called a dependency it does not declare.' },
  { id: 'BW010', name: 'feature-expired', severity: 'warning', summary: 'A feature switch is past its expiry date.' },
  { id: 'BW011', name: 'feature-without-owner', severity: 'warning', summary: 'A feature switch has no owner.' },
  { id: 'BW012', name: 'single-point-of-failure', severity: 'warning', summary: 'One core dependency is shared by every critical operation.' },
  { id: 'BW013', name: 'breaker-cannot-open', severity: 'warning', summary: 'At the observed call rate the breaker never sees enough calls to open.' },
  { id: 'BW014', name: 'core-without-owner', severity: 'note', summary: 'A core dependency has no owner or no runbook.' },
  { id: 'BW015', name: 'unvalidated-core-responses', severity: 'note', summary: "A core dependency's answers are not validated." },
  { id: 'BW016', name: 'prediction-mismatch', severity: 'error', summary: 'A drill observed something other than what the audit predicted.' },
];

const BY_ID = new Map(RULES.map((r) => [r.id, r]));

export function finding(
  ruleId: string,
  t: Topology,
  subject: string,
  text: { message: string; why: string; fix: string },
  extra: { source?: SourceLocation | undefined; severity?: Severity; data?: Record<string, unknown> } = {},
): Finding {
  const rule = BY_ID.get(ruleId);
  if (rule === undefined) throw new Error(`unknown rule ${ruleId}`);
  return {
    ruleId,
    rule: rule.name,
    severity: extra.severity ?? rule.severity,
    service: t.service,
    subject,
    ...text,
    ...(extra.source === undefined ? {} : { source: extra.source }),
    ...(t.origin === undefined ? {} : { origin: t.origin }),
    fingerprint: `${ruleId}:${t.service}:${subject}`,
    ...(extra.data === undefined ? {} : { data: extra.data }),
  };
}

const depSubject = (d: TopologyDependency): string => `dependency ${d.name}`;

function perService(t: Topology, graph: ServiceGraph, now: number): Finding[] {
  const out: Finding[] = [];
  const critical = t.operations.filter((o) => o.priority === 'critical' || o.priority === 'critical-plus');
  for (const d of t.dependencies) {
    const src = { source: d.source };
    const callers = t.operations.filter((o) => o.calls.includes(d.name));
    if (d.criticality === 'core' && d.timeoutMs === null) {
      out.push(finding('BW001', t, depSubject(d), {
        message: `core dependency '${d.name}' has no timeout: a hanging call holds its caller until the operation's deadline, or for ever`,
        why: 'A dependency that stops answering is the most common way one part takes a service down.',
        fix: `Give '${d.name}' a timeout a little above its p99 (e.g. timeout: '800ms').`,
      }, src));
    }
    if (d.criticality === 'core' && d.breaker === null) {
      out.push(finding('BW002', t, depSubject(d), {
        message: `core dependency '${d.name}' has no circuit breaker: while it is down every call still waits for it`,
        why: 'Without a breaker, a failing dependency keeps receiving full load and every caller pays its timeout.',
        fix: `Add breaker: { failureRate: 0.5, minimumCalls: 20, window: '30s', halfOpenAfter: '5s' } to '${d.name}'.`,
      }, src));
    }
    for (const op of callers) {
      if (op.deadlineMs === null) continue;
      const worst = worstCallMs(d);
      if (d.timeoutMs !== null && d.timeoutMs > op.deadlineMs) {
        out.push(finding('BW003', t, `operation ${op.name} → ${d.name}`, {
          message: `'${d.name}' timeout ${fmtMs(d.timeoutMs)} exceeds the ${fmtMs(op.deadlineMs)} deadline of '${op.name}': the timeout can never fire first`,
          why: 'The deadline, not the timeout, ends every slow call, so retries never happen and the dependency is never judged by its own timeout.',
          fix: `Lower '${d.name}' timeout below ${fmtMs(op.deadlineMs)}, or raise the deadline of '${op.name}'.`,
        }, { ...src, data: { timeoutMs: d.timeoutMs, deadlineMs: op.deadlineMs } }));
      } else if (worst > op.deadlineMs) {
        out.push(finding('BW003', t, `operation ${op.name} → ${d.name}`, {
          message: `'${d.name}' needs up to ${fmtMs(worst)} (${attemptsOf(d)} attempts × ${fmtMs(d.timeoutMs ?? Number.POSITIVE_INFINITY)} + ${fmtMs(backoffTotalMs(d))} backoff) but '${op.name}' has a ${fmtMs(op.deadlineMs)} deadline`,
          why: 'Attempts that cannot fit are cut by the deadline: the later retries promised by the configuration never happen.',
          fix: `Lower attempts or timeout of '${d.name}' so attempts × timeout + backoff ≤ ${fmtMs(op.deadlineMs)}.`,
        }, { ...src, severity: 'warning', data: { worstMs: worst, deadlineMs: op.deadlineMs } }));
      }
    }
    if (d.criticality !== 'deferrable') {
      const c = d.concurrency;
      if (c === null) {
        out.push(finding('BW005', t, depSubject(d), {
          message: `'${d.name}' has no concurrency limit: when it slows down, in-flight calls to it grow without bound`,
          why: 'A slow dependency with unbounded concurrency takes sockets, memory and event-loop time from everything else.',
          fix: `Add concurrency: { limit: 64, queue: 128 } (or { adaptive: true }) to '${d.name}'.`,
        }, src));
      } else if ((c.limit ?? 0) > LIMITS.concurrency || (c.queue ?? 0) > LIMITS.queue) {
        out.push(finding('BW005', t, depSubject(d), {
          message: `'${d.name}' allows ${c.limit ?? 'adaptive'} concurrent calls with a queue of ${c.queue ?? 0}: too large to protect anything`,
          why: `Limits above ${LIMITS.concurrency} calls or ${LIMITS.queue} queued do not bound memory or latency in practice.`,
          fix: 'Size the limit from Little’s law (calls per second × p99 seconds × 2) and keep the queue short.',
        }, src));
      }
    }
    if (d.criticality === 'deferrable' && d.deferred !== null && d.deferred.maxQueue > LIMITS.queue * 10) {
      out.push(finding('BW005', t, depSubject(d), {
        message: `'${d.name}' queues up to ${d.deferred.maxQueue} deferred calls`,
        why: 'A very long deferred queue hides an outage for hours and takes memory.',
        fix: 'Bound the queue to what you can deliver in the time you are willing to be late.',
      }, src));
    }
    if (d.criticality === 'optional' && d.cache === null && d.fallback === 'empty') {
      const crit = callers.filter((o) => o.priority === 'critical' || o.priority === 'critical-plus');
      if (crit.length > 0) {
        out.push(finding('BW006', t, depSubject(d), {
          message: `when '${d.name}' fails, critical operation${crit.length > 1 ? 's' : ''} ${crit.map((o) => `'${o.name}'`).join(', ')} serve an empty value, with no cache to serve something real`,
          why: 'An empty answer on a critical path often looks like success to the user but is not (an empty cart, no prices).',
          fix: `Give '${d.name}' a cache: { fresh, stale } so it serves a stale value first, or a meaningful fallback.`,
        }, src));
      }
    }
    if (d.criticality === 'deferrable' && (d.deferred === null || !d.deferred.durable)) {
      out.push(finding('BW007', t, depSubject(d), {
        message: `deferred calls to '${d.name}' wait in memory: a restart or crash loses them`,
        why: 'Deferring promises the work will happen later; an in-memory queue breaks that promise at every deploy.',
        fix: 'Give the wall a durable store (sqliteStore, redisStore, postgresStore) and use the durable queue.',
      }, src));
    }
    const observedEnough = t.observedWindowMs !== undefined && t.observedWindowMs >= LIMITS.observedWindowMs;
    if (observedEnough && callers.length === 0 && (d.observed?.calls ?? 0) === 0) {
      out.push(finding('BW008', t, depSubject(d), {
        message: `'${d.name}' was declared but no operation called it in the last ${fmtMs(t.observedWindowMs ?? 0)}`,
        why: 'A dead declaration keeps boundaries, alerts and owners for nothing, and hides what the service really calls.',
        fix: `Remove '${d.name}', or check that its calls run inside an operation (operation.run).`,
      }, src));
    }
    if (observedEnough && t.observedWindowMs !== undefined && d.breaker !== null && d.observed !== undefined && d.observed.calls > 0) {
      const perWindow = (d.observed.calls / t.observedWindowMs) * d.breaker.windowMs;
      if (perWindow < d.breaker.minimumCalls) {
        out.push(finding('BW013', t, depSubject(d), {
          message: `'${d.name}' sees about ${perWindow.toFixed(1)} calls per ${fmtMs(d.breaker.windowMs)} window but its breaker needs ${d.breaker.minimumCalls} to judge: it can never open`,
          why: 'A breaker that never opens gives no protection at this traffic level.',
          fix: `Lower breaker.minimumCalls below ${Math.max(1, Math.floor(perWindow))} or lengthen breaker.window.`,
        }, { ...src, data: { callsPerWindow: perWindow, minimumCalls: d.breaker.minimumCalls } }));
      }
    }
    if (d.criticality === 'core' && (d.owner === undefined || d.runbook === undefined)) {
      const missing = [d.owner === undefined ? 'owner' : '', d.runbook === undefined ? 'runbook' : ''].filter(Boolean).join(' and ');
      out.push(finding('BW014', t, depSubject(d), {
        message: `core dependency '${d.name}' has no ${missing}`,
        why: 'If recovery depends on one engineer remembering undocumented behaviour at 2 a.m., the system is more fragile than it looks.',
        fix: `Declare owner: 'team' and runbook: 'docs/runbooks/${d.name}.md' on '${d.name}'.`,
      }, src));
    }
    if (d.criticality === 'core' && !d.validate && graph.downstreamOf(d) === undefined) {
      out.push(finding('BW015', t, depSubject(d), {
        message: `answers from core dependency '${d.name}' are not validated: corrupt data reaches callers as success`,
        why: 'A dependency that answers wrongly is worse than one that fails: nothing stops the bad data.',
        fix: `Add validate: <a zod/valibot schema> to '${d.name}'.`,
      }, src));
    }
  }
  for (const op of t.operations) {
    if (op.declared === undefined) continue;
    for (const c of op.calls) {
      if (!op.declared.includes(c)) {
        out.push(finding('BW009', t, `operation ${op.name} → ${c}`, {
          message: `'${op.name}' called '${c}', which it does not declare`,
          why: 'An undeclared call is an edge nobody reviewed: its failure reaches this operation unannounced.',
          fix: `Add '${c}' to the dependencies '${op.name}' declares, or remove the call.`,
        }, { source: op.source }));
      }
    }
  }
  for (const f of t.features ?? []) {
    if (f.expires !== undefined && Date.parse(f.expires) < now) {
      out.push(finding('BW010', t, `feature ${f.name}`, {
        message: `feature switch '${f.name}' expired on ${f.expires.slice(0, 10)}`,
        why: 'Temporary flags become permanent dependencies.',
        fix: `Remove '${f.name}' (keep the side that is on), or set a new expiry with a reason.`,
      }, { source: f.source }));
    }
    if (f.owner === undefined) {
      out.push(finding('BW011', t, `feature ${f.name}`, {
        message: `feature switch '${f.name}' has no owner`,
        why: 'A switch nobody owns is never removed and nobody knows whether it may be turned off.',
        fix: `Declare owner: 'team' on '${f.name}'.`,
      }, { source: f.source }));
    }
  }
  if (critical.length >= 2) {
    for (const d of t.dependencies) {
      if (d.criticality === 'core' && critical.every((o) => o.calls.includes(d.name))) {
        out.push(finding('BW012', t, depSubject(d), {
          message: `every critical operation (${critical.map((o) => `'${o.name}'`).join(', ')}) needs core dependency '${d.name}': when it is down nothing critical works`,
          why: 'A single point of failure turns one dependency outage into a full outage.',
          fix: `Make one critical path independent of '${d.name}' (a cache, a queue, a second provider), or accept it knowingly in the baseline.`,
        }, { source: d.source }));
      }
    }
  }
  return out;
}

/** Retry amplification and timeout budgets along call chains that cross services. */
function acrossServices(graph: ServiceGraph): Finding[] {
  const out: Finding[] = [];
  const seen = new Set<string>();
  for (const chain of graph.chains()) {
    const first = chain[0];
    if (first === undefined) continue;
    const label = chain.map((h) => `${h.service}.${h.operation.name}`).join(' → ') + ` → ${chain[chain.length - 1]?.dependency.name ?? ''}`;
    let worst = 1;
    let budgeted = 1;
    for (const h of chain) {
      const a = attemptsOf(h.dependency);
      worst *= a;
      const b = h.dependency.retry?.budget;
      budgeted *= b ? Math.min(a, 1 + b.ratio) : a;
    }
    const t = graph.service(first.service);
    if (budgeted > LIMITS.amplification + 1e-9 && !seen.has(`amp:${label}`)) {
      seen.add(`amp:${label}`);
      const perLayer = chain.map((h) => `${h.service}→${h.dependency.name}: ${attemptsOf(h.dependency)}${h.dependency.retry?.budget ? ` (budget ${h.dependency.retry.budget.ratio})` : ''}`).join(', ');
      out.push(finding('BW004', t, `chain ${label}`, {
        message: `one request can reach '${chain[chain.length - 1]?.dependency.name ?? ''}' up to ${worst.toFixed(2)}× without budgets and ${budgeted.toFixed(2)}× with them (attempts per layer: ${perLayer})`,
        why: `Retries at several layers multiply: a struggling dependency receives ${budgeted.toFixed(2)}× its organic load exactly when it can least take it (bound ${LIMITS.amplification}×).`,
        fix: 'Retry at one layer only (usually the outermost), or give every layer a retry budget (ratio 0.1) and let inner services answer with non-retryable errors.',
      }, { source: first.dependency.source, severity: budgeted >= 3 ? 'error' : 'warning', data: { worstCase: worst, withBudgets: budgeted, layers: chain.length } }));
    }
    for (let i = 0; i < chain.length - 1; i++) {
      const caller = chain[i];
      const callee = chain[i + 1];
      if (caller === undefined || callee === undefined || caller.dependency.timeoutMs === null) continue;
      const inner = callee.operation.deadlineMs;
      if (inner === null || inner > caller.dependency.timeoutMs) {
        const key = `inv:${caller.service}.${caller.dependency.name}:${callee.service}.${callee.operation.name}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push(finding('BW003', graph.service(caller.service), `chain ${caller.service}→${callee.service}.${callee.operation.name}`, {
          message: `'${callee.service}.${callee.operation.name}' has ${inner === null ? 'no deadline' : `a ${fmtMs(inner)} deadline`} but '${caller.service}' gives up on it after ${fmtMs(caller.dependency.timeoutMs)}: the inner service keeps working for an answer nobody waits for`,
          why: 'Work done after the caller timed out is wasted capacity at the moment capacity is short, and retries stack new work on it.',
          fix: `Give '${callee.service}.${callee.operation.name}' a deadline below ${fmtMs(caller.dependency.timeoutMs)} (or propagate the caller's deadline in a header).`,
        }, { source: caller.dependency.source, data: { callerTimeoutMs: caller.dependency.timeoutMs, innerDeadlineMs: inner } }));
      }
    }
  }
  return out;
}

/** Every finding over the graph, worst first. */
export function runRules(graph: ServiceGraph, now = Date.now()): Finding[] {
  const out = [...graph.services().flatMap((t) => perService(t, graph, now)), ...acrossServices(graph)];
  const rank: Record<Severity, number> = { error: 0, warning: 1, note: 2 };
  return out.sort((a, b) => rank[a.severity] - rank[b.severity] || a.ruleId.localeCompare(b.ruleId) || a.fingerprint.localeCompare(b.fingerprint));
}

export function ruleInfo(id: string): RuleInfo | undefined {
  return BY_ID.get(id);
}
