/**
 * "If this dependency misbehaves tomorrow, what exactly happens next?" — derived from the declared
 * boundaries alone, per dependency × failure mode, for every operation of the audited services.
 *
 * The failure modes, as the drills inject them (see `verify.ts`):
 * - `slow`: every answer arrives just under the per-attempt timeout (the calls succeed, late);
 * - `down`: every call fails at once (connection refused, 500);
 * - `hanging`: no call ever answers;
 * - `corrupt`: answers arrive but are wrong (they fail the dependency's `validate`, if it has one);
 * - `overloaded`: every call is refused with 429 and a `Retry-After`;
 * - `flapping`: down and up in turn, half the time each.
 */
import type { ServiceGraph } from './graph.js';
import type { TopologyDependency, TopologyOperation } from './topology.js';

/**
 * The failure modes the audit predicts (and `--verify` injects), in report order: `slow` (answers just
 * under the per-attempt timeout), `down` (every call fails at once), `hanging` (no answer), `corrupt`
 * (wrong answers), `overloaded` (429 with `Retry-After`), `flapping` (down and up in turn, half the time
 * each).
 */
export const FAILURE_MODES = ['slow', 'down', 'hanging', 'corrupt', 'overloaded', 'flapping'] as const;
/** One of {@link FAILURE_MODES}. */
export type FailureMode = (typeof FAILURE_MODES)[number];

/** What one operation does when one dependency misbehaves. */
export type Effect =
  | { kind: 'unaffected' }
  /** Succeeds, but later than usual (bounded by `latencyMs`). */
  | { kind: 'slower'; latencyMs: number }
  /** Fails with `code` after at most `latencyMs`. `partial`: only some calls (flapping). */
  | { kind: 'fails'; code: string; latencyMs: number; partial: boolean }
  /** Answers with a substitute: a stale cached value up to `staleMs` old, or the fallback. */
  | { kind: 'degrades'; via: 'cache' | 'fallback' | 'empty-fallback'; staleMs?: number; latencyMs: number; partial: boolean }
  /** The call is queued and delivered later; the operation is not held (`durable`: survives a restart). */
  | { kind: 'deferred'; maxQueue: number; durable: boolean }
  /** Corrupt answers pass unchecked to the caller (no `validate`). */
  | { kind: 'accepts-bad-data' };

/** What one operation (of any audited service) does in a {@link Prediction}. */
export interface OperationImpact {
  /** The service the operation belongs to (another one than the failing dependency's across a chain). */
  service: string;
  operation: string;
  /** Its priority class (`critical-plus`, `critical`, `sheddable-plus` or `sheddable`). */
  priority: string;
  effect: Effect;
  /** The dependency through which the trouble arrives (differs from the failing one across services). */
  via: string;
}

/**
 * What the audit predicts when one dependency of one service misbehaves in one failure mode, derived from
 * the declared boundaries alone: the health and status the wall will report, the mode rules that fire,
 * and the effect on every operation of every audited service.
 */
export interface Prediction {
  /** The service whose dependency misbehaves. */
  service: string;
  dependency: string;
  mode: FailureMode;
  /** The health state `wall.health()` will report for the dependency. */
  health: string;
  /** The service status `wall.health().status` will report. */
  status: 'ok' | 'degraded' | 'unavailable';
  /** Mode rules that fire (name → mode). */
  modeRules: { name: string; mode: string }[];
  /** One per operation of every audited service, `unaffected` included. */
  impacts: OperationImpact[];
}

/** Sum of the waits between attempts (exponential from `baseMs`, capped at `maxMs`; full jitter stays below it). */
export function backoffTotalMs(dep: TopologyDependency): number {
  const r = dep.retry;
  if (r === null) return 0;
  let total = 0;
  for (let i = 0; i < r.attempts - 1; i++) total += Math.min(r.backoff.maxMs, r.backoff.baseMs * 2 ** i);
  return total;
}

export function attemptsOf(dep: TopologyDependency): number {
  return dep.retry?.attempts ?? 1;
}

/** Longest a call can take before it gives up when every attempt hangs: attempts × timeout + backoff. */
export function worstCallMs(dep: TopologyDependency): number {
  const per = dep.timeoutMs ?? Number.POSITIVE_INFINITY;
  return attemptsOf(dep) * per + backoffTotalMs(dep);
}

function cap(ms: number, op: TopologyOperation): number {
  return op.deadlineMs === null ? ms : Math.min(ms, op.deadlineMs);
}

function healthFor(dep: TopologyDependency, mode: FailureMode): string {
  switch (mode) {
    case 'slow':
      return 'delayed';
    case 'down':
    case 'hanging':
    case 'overloaded':
      return 'unavailable';
    case 'corrupt':
      return dep.validate ? 'corrupt' : 'healthy';
    case 'flapping':
      return 'degraded';
  }
}

function statusFor(dep: TopologyDependency, health: string): Prediction['status'] {
  if (health === 'healthy') return 'ok';
  if (dep.criticality === 'core') return health === 'unavailable' ? 'unavailable' : 'degraded';
  return health === 'unavailable' || health === 'corrupt' || health === 'degraded' ? 'degraded' : 'ok';
}

/** How long the caller waits before the dependency's boundaries give up, for a mode that fails. */
function giveUpMs(dep: TopologyDependency, mode: FailureMode, op: TopologyOperation): number {
  if (mode === 'hanging') return cap(worstCallMs(dep), op);
  // fast failures: only the waits between attempts (a 429's Retry-After may stretch them; the deadline caps it)
  return cap(backoffTotalMs(dep), op);
}

/** The effect on one operation that calls `dep` directly. */
export function directEffect(dep: TopologyDependency, mode: FailureMode, op: TopologyOperation): Effect {
  if (dep.criticality === 'deferrable') {
    return mode === 'corrupt' && !dep.validate ? { kind: 'accepts-bad-data' } : { kind: 'deferred', maxQueue: dep.deferred?.maxQueue ?? 10_000, durable: dep.deferred?.durable ?? false };
  }
  if (mode === 'slow') {
    const late = dep.timeoutMs ?? op.deadlineMs ?? Number.POSITIVE_INFINITY;
    if (op.deadlineMs !== null && late >= op.deadlineMs) {
      return dep.criticality === 'core'
        ? { kind: 'fails', code: 'DEADLINE_EXCEEDED', latencyMs: op.deadlineMs, partial: false }
        : degrade(dep, op.deadlineMs, false);
    }
    return { kind: 'slower', latencyMs: late };
  }
  if (mode === 'corrupt' && !dep.validate) return { kind: 'accepts-bad-data' };
  const partial = mode === 'flapping';
  const latencyMs = giveUpMs(dep, mode === 'flapping' ? 'down' : mode, op);
  if (dep.criticality === 'optional') return degrade(dep, latencyMs, partial);
  const code =
    mode === 'corrupt'
      ? 'INVALID_RESPONSE'
      : mode === 'hanging'
        ? dep.timeoutMs === null || (op.deadlineMs !== null && worstCallMs(dep) >= op.deadlineMs)
          ? 'DEADLINE_EXCEEDED'
          : 'TIMEOUT'
        : 'DEPENDENCY_FAILED';
  return { kind: 'fails', code, latencyMs, partial };
}

function degrade(dep: TopologyDependency, latencyMs: number, partial: boolean): Effect {
  if (dep.cache !== null) return { kind: 'degrades', via: 'cache', staleMs: dep.cache.staleMs, latencyMs, partial };
  return { kind: 'degrades', via: dep.fallback === 'empty' ? 'empty-fallback' : 'fallback', latencyMs, partial };
}

/**
 * How a caller's dependency on another audited service sees that service's operations misbehave:
 * failing fast reads as `down`, failing or answering slower than the caller's timeout reads as `hanging`.
 */
function upstreamMode(effect: Effect, callerDep: TopologyDependency): FailureMode | undefined {
  if (effect.kind === 'fails') {
    const slow = callerDep.timeoutMs !== null && effect.latencyMs >= callerDep.timeoutMs;
    if (slow) return 'hanging';
    return effect.partial ? 'flapping' : 'down';
  }
  if (effect.kind === 'slower') return callerDep.timeoutMs !== null && effect.latencyMs >= callerDep.timeoutMs ? 'hanging' : 'slow';
  if (effect.kind === 'degrades' && callerDep.timeoutMs !== null && effect.latencyMs >= callerDep.timeoutMs) return 'hanging';
  if (effect.kind === 'accepts-bad-data') return 'corrupt';
  return undefined;
}

/** Predicts what happens when `dep` of `service` misbehaves in `mode`, across every audited service. */
export function predict(graph: ServiceGraph, service: string, depName: string, mode: FailureMode): Prediction {
  const topo = graph.service(service);
  const dep = graph.dependency(service, depName);
  const health = healthFor(dep, mode);
  const impacts: OperationImpact[] = [];
  const seen = new Set<string>();
  const visit = (svc: string, d: TopologyDependency, m: FailureMode, via: string): void => {
    const key = `${svc}/${d.name}/${m}`;
    if (seen.has(key)) return; // a cycle between services: each pair is judged once
    seen.add(key);
    for (const op of graph.service(svc).operations) {
      if (!op.calls.includes(d.name)) continue;
      const effect = directEffect(d, m, op);
      impacts.push({ service: svc, operation: op.name, priority: op.priority, effect, via });
      for (const caller of graph.callersOf(svc)) {
        const up = upstreamMode(effect, caller.dependency);
        if (up !== undefined) visit(caller.service, caller.dependency, up, `${caller.service}→${svc}`);
      }
    }
  };
  visit(service, dep, mode, depName);
  // operations that never reach the trouble, listed so the table says "unaffected" explicitly
  for (const t of graph.services()) {
    for (const op of t.operations) {
      if (!impacts.some((i) => i.service === t.service && i.operation === op.name)) {
        impacts.push({ service: t.service, operation: op.name, priority: op.priority, effect: { kind: 'unaffected' }, via: '' });
      }
    }
  }
  const modeRules = (topo.modeRules ?? []).filter((r) => r.firesOn.some((f) => f.dependency === depName && f.state === health)).map((r) => ({ name: r.name, mode: r.mode }));
  return { service, dependency: depName, mode, health, status: statusFor(dep, health), modeRules, impacts };
}

/** Every dependency × mode prediction of every audited service. */
export function predictAll(graph: ServiceGraph): Prediction[] {
  const out: Prediction[] = [];
  for (const t of graph.services()) for (const d of t.dependencies) for (const m of FAILURE_MODES) out.push(predict(graph, t.service, d.name, m));
  return out;
}

/** One phrase for an effect: "fails (TIMEOUT) within 2.4s", "degrades: stale cache ≤ 10m". */
export function describeEffect(e: Effect): string {
  switch (e.kind) {
    case 'unaffected':
      return 'unaffected';
    case 'slower':
      return `succeeds, slower (≤ ${fmtMs(e.latencyMs)})`;
    case 'fails':
      return `${e.partial ? 'fails for some calls' : 'fails'} (${e.code}) within ${fmtMs(e.latencyMs)}`;
    case 'degrades':
      return `${e.partial ? 'degrades some calls' : 'degrades'}: ${e.via === 'cache' ? `stale cache ≤ ${fmtMs(e.staleMs ?? 0)} old, then fallback` : e.via === 'empty-fallback' ? 'empty fallback' : 'fallback'} within ${fmtMs(e.latencyMs)}`;
    case 'deferred':
      return `deferred (queue of ${e.maxQueue}, ${e.durable ? 'durable' : 'in memory: lost on restart'})`;
    case 'accepts-bad-data':
      return 'accepts bad data (no validate)';
  }
}

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '∞ (no bound)';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Math.round(ms / 100) / 10}s`;
  if (ms < 3_600_000) return `${Math.round(ms / 6000) / 10}m`;
  return `${Math.round(ms / 360_000) / 10}h`;
}
