/**
 * `blastwall audit --verify`: each prediction becomes a short drill. A fresh target is built on a fake
 * clock, warmed up, the failure mode is injected into the dependency's function slot, light load runs
 * through every operation, and what the operations actually did is compared with what the audit said.
 * Every disagreement is a finding of its own (BW016), so the audit stays honest as the code changes.
 */
import type { Fault } from '../chaos/faults.js';
import type { InjectOptions } from '../chaos/injector.js';
import { FakeClock } from '../core/fake-clock.js';
import { type AuditableWall, topologyOfWall } from './from-wall.js';
import { ServiceGraph } from './graph.js';
import { describeEffect, type Effect, FAILURE_MODES, type FailureMode, predict, type Prediction } from './predict.js';
import { finding, type Finding } from './rules.js';
import type { Topology, TopologyDependency } from './topology.js';

/** What `--verify` drives: a wall with fault injection on, and one function per operation that runs it once. */
export interface VerifyTarget {
  /** The wall under test, built on the factory's clock with fault injection enabled. */
  wall: AuditableWall & {
    faults: {
      /**
       * Injects `fault` into the dependency's function slot (`--verify` passes `{ rate: 1, for: '30m' }`)
       * and returns a handle to stop it.
       */
      inject(dependency: string, fault: Fault, options?: InjectOptions): {
        /** Ends the fault (the dependency behaves normally again). */
        stop(): unknown;
      };
    };
    /** Closes the wall; called after the check when the target has no `close` of its own. */
    close?(): Promise<unknown>;
  };
  /**
   * One function per operation, by operation name, that runs it once through the wall (e.g. calls the
   * handler). Whether it resolves or rejects is not what is judged: failures and degradations are read
   * from the wall's operation counts.
   */
  operations: Record<string, () => Promise<unknown>>;
  /** Releases everything the factory built (else `wall.close` is used); the fake clock is driven meanwhile. */
  close?(): Promise<unknown>;
}

/** Builds a fresh target on the given clock (each check gets its own, so no state leaks between checks). */
export type VerifyFactory = (env: { clock: FakeClock }) => VerifyTarget | Promise<VerifyTarget>;

/** Options of {@link verifyPredictions}. */
export interface VerifyOptions {
  /** Requests per operation under the fault. Default 20. */
  requests?: number;
  /** Failure modes to check. Default: all. */
  modes?: readonly FailureMode[];
  /** Dependencies to check. Default: all of the target's. */
  dependencies?: readonly string[];
  /** Called after each check (progress). */
  onCheck?: (check: VerifyCheck, index: number, total: number) => void;
}

/**
 * What an operation did under the fault, from its counts: `fails` (at least 90% of the requests failed),
 * `fails-partial` (some failed), `degrades` (none failed, some degraded), `ok` (neither, or no request).
 */
export type ObservedClass = 'ok' | 'degrades' | 'fails' | 'fails-partial';

/** One operation's prediction against what the drill observed. */
export interface OperationCheck {
  operation: string;
  /** The effect the audit predicted (`unaffected` when it predicted none). */
  predicted: Effect;
  /** Counts during the fault (warm-up excluded) and the slowest request (ms of fake time). */
  observed: { class: ObservedClass; requests: number; failed: number; degraded: number; maxLatencyMs: number };
  /** Whether the observation is what `predicted` says (see `agrees`); false becomes a BW016 finding. */
  agrees: boolean;
}

/** One drill: a dependency × failure mode, with the prediction and every operation's check. */
export interface VerifyCheck {
  service: string;
  dependency: string;
  mode: FailureMode;
  prediction: Prediction;
  operations: OperationCheck[];
}

/** The fault that makes a dependency misbehave in a failure mode (see predict.ts for the definitions). */
export function faultFor(mode: FailureMode, dep: TopologyDependency): Fault {
  switch (mode) {
    case 'slow':
      // just under the timeout: calls succeed, late
      return { kind: 'latency', delay: Math.max(1, Math.floor((dep.timeoutMs ?? 1000) * 0.8)) };
    case 'down':
      return { kind: 'error', error: 'injected by blastwall audit --verify: connection refused' };
    case 'hanging':
      return { kind: 'hang' };
    case 'corrupt':
      return { kind: 'corrupt' };
    case 'overloaded':
      return { kind: 'error', status: 429, retryAfter: 50 };
    case 'flapping':
      return { kind: 'flap', period: 400, down: 200 };
  }
}

interface Counts {
  requests: number;
  failed: number;
  degraded: number;
}

/** Runs one request and drives the fake clock until it settles (bounded: 2 minutes of fake time). */
async function runOne(clock: FakeClock, fn: () => Promise<unknown>): Promise<{ ok: boolean; latencyMs: number }> {
  const t0 = clock.now();
  let done: boolean | undefined;
  fn().then(
    () => (done = true),
    () => (done = false),
  );
  for (let i = 0; i < 12_000 && done === undefined; i++) await clock.advance(10);
  return { ok: done === true, latencyMs: clock.now() - t0 };
}

function operationCounts(wall: AuditableWall): Map<string, Counts> {
  const t = wall.topology() as { operations?: { name: string; counts?: Counts }[] };
  return new Map((t.operations ?? []).map((o) => [o.name, o.counts ?? { requests: 0, failed: 0, degraded: 0 }]));
}

function classify(requests: number, failed: number, degraded: number): ObservedClass {
  if (requests === 0) return 'ok';
  if (failed >= requests * 0.9) return 'fails';
  if (failed > 0) return 'fails-partial';
  if (degraded > 0) return 'degrades';
  return 'ok';
}

/** Whether an observation is what the effect predicts. */
export function agrees(effect: Effect, observed: ObservedClass): boolean {
  switch (effect.kind) {
    case 'unaffected':
    case 'slower':
    case 'deferred':
    case 'accepts-bad-data':
      return observed === 'ok';
    case 'fails':
      return effect.partial ? observed === 'fails' || observed === 'fails-partial' : observed === 'fails';
    case 'degrades':
      return effect.partial ? observed === 'degrades' || observed === 'ok' : observed === 'degrades';
  }
}

function describeObserved(o: OperationCheck['observed']): string {
  const pct = (n: number) => `${Math.round((n / Math.max(1, o.requests)) * 100)}%`;
  if (o.class === 'ok') return `all ${o.requests} succeeded without degrading`;
  if (o.class === 'degrades') return `${pct(o.degraded)} degraded, none failed`;
  return `${pct(o.failed)} of ${o.requests} failed`;
}

async function checkOne(factory: VerifyFactory, dependency: string, mode: FailureMode, requests: number): Promise<VerifyCheck> {
  const clock = new FakeClock();
  const target = await factory({ clock });
  try {
    const names = Object.keys(target.operations);
    // warm up: caches fill, edges are observed
    for (let i = 0; i < 3; i++) for (const n of names) await runOne(clock, target.operations[n]!);
    const topo: Topology = topologyOfWall(target.wall, 'verify target');
    const prediction = predict(new ServiceGraph([topo]), topo.service, dependency, mode);
    const before = operationCounts(target.wall);
    const maxLatency = new Map<string, number>();
    const handle = target.wall.faults.inject(dependency, faultFor(mode, topo.dependencies.find((d) => d.name === dependency)!), { rate: 1, for: '30m' });
    for (let i = 0; i < requests; i++) {
      for (const n of names) {
        const r = await runOne(clock, target.operations[n]!);
        maxLatency.set(n, Math.max(maxLatency.get(n) ?? 0, r.latencyMs));
      }
      await clock.advance(50);
    }
    handle.stop();
    const after = operationCounts(target.wall);
    const operations: OperationCheck[] = [];
    for (const n of names) {
      const impact = prediction.impacts.find((x) => x.service === topo.service && x.operation === n);
      const a = after.get(n) ?? { requests: 0, failed: 0, degraded: 0 };
      const b = before.get(n) ?? { requests: 0, failed: 0, degraded: 0 };
      const req = a.requests - b.requests;
      const failed = a.failed - b.failed;
      const degraded = a.degraded - b.degraded;
      const observed = { class: classify(req, failed, degraded), requests: req, failed, degraded, maxLatencyMs: maxLatency.get(n) ?? 0 };
      const predicted = impact?.effect ?? { kind: 'unaffected' as const };
      operations.push({ operation: n, predicted, observed, agrees: agrees(predicted, observed.class) });
    }
    return { service: topo.service, dependency, mode, prediction, operations };
  } finally {
    await closeOn(clock, target);
  }
}

/** Closes a target while driving its fake clock (closing waits for deferred work on that clock), bounded. */
async function closeOn(clock: FakeClock, target: VerifyTarget): Promise<void> {
  const close = target.close ?? target.wall.close;
  if (close === undefined) return;
  let done = false;
  const p = Promise.resolve(close.call(target.close ? target : target.wall)).finally(() => (done = true));
  for (let i = 0; i < 6000 && !done; i++) await clock.advance(10);
  await p;
}

/** Runs every check and returns them with one BW016 finding per disagreement. */
export async function verifyPredictions(factory: VerifyFactory, options: VerifyOptions = {}): Promise<{ checks: VerifyCheck[]; findings: Finding[] }> {
  const requests = options.requests ?? 20;
  const modes = options.modes ?? FAILURE_MODES;
  const probeClock = new FakeClock();
  const probe = await factory({ clock: probeClock });
  let topo: Topology;
  try {
    topo = topologyOfWall(probe.wall, 'verify target');
  } finally {
    await closeOn(probeClock, probe);
  }
  const deps = topo.dependencies.map((d) => d.name).filter((d) => options.dependencies === undefined || options.dependencies.includes(d));
  const plan = deps.flatMap((d) => modes.map((m) => [d, m] as const));
  const checks: VerifyCheck[] = [];
  for (const [i, [d, m]] of plan.entries()) {
    const c = await checkOne(factory, d, m, requests);
    checks.push(c);
    options.onCheck?.(c, i, plan.length);
  }
  const findings: Finding[] = [];
  for (const c of checks) {
    for (const o of c.operations) {
      if (o.agrees) continue;
      findings.push(
        finding(
          'BW016',
          topo,
          `prediction ${o.operation} / ${c.dependency} ${c.mode}`,
          {
            message: `predicted: '${o.operation}' ${describeEffect(o.predicted)} when '${c.dependency}' is ${c.mode}; observed: ${describeObserved(o.observed)}`,
            why: 'The declared boundaries no longer describe what the service does: the audit (and whoever reads it during an incident) would be wrong.',
            fix: `Find what '${o.operation}' does with '${c.dependency}' beyond its declaration (a fallback that throws, a call outside the wall, a catch that hides errors) and fix it or the declaration.`,
          },
          { data: { predicted: o.predicted, observed: o.observed } },
        ),
      );
    }
  }
  return { checks, findings };
}

/** A table of the checks: one line per dependency × mode × operation. */
export function verifyTable(checks: readonly VerifyCheck[]): string {
  const lines = ['| dependency | mode | operation | predicted | observed | |', '|---|---|---|---|---|---|'];
  for (const c of checks) {
    for (const o of c.operations) {
      lines.push(`| ${c.dependency} | ${c.mode} | ${o.operation} | ${describeEffect(o.predicted)} | ${describeObserved(o.observed)} | ${o.agrees ? 'confirmed' : '**mismatch**'} |`);
    }
  }
  return lines.join('\n');
}
