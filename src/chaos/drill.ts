/**
 * `defineDrill({...})`: a reproducible game day. A target (an in-process app from a factory, or a URL), an
 * open-loop load per operation with a priority mix, a fault schedule and invariants. Everything that can be
 * checked without the target is checked here; names (dependencies, operations) are checked against the
 * target by the runner before any load is sent.
 */
import type { Clock } from '../core/clock.js';
import { type Duration, durationOption } from '../core/duration.js';
import {
  configError,
  enumOption,
  fnOption,
  intOption,
  isPlainObject,
  numberOption,
  objectOption,
  stringOption,
} from '../core/validate.js';
import type { Timeline } from '../timeline/index.js';
import { type CompiledFault, type Fault, compileFault } from './faults.js';
import { type Invariant, invariantOption } from './invariants.js';
import type { WallFaults } from './wall-faults.js';

/**
 * A request's priority class, from most to least important (the same classes as the wall's operations):
 * under overload, `sheddable` requests are shed first and `critical-plus` last.
 */
export type Priority = 'critical-plus' | 'critical' | 'sheddable-plus' | 'sheddable';
/** Every {@link Priority}, most important first. */
export const DRILL_PRIORITIES: readonly Priority[] = ['critical-plus', 'critical', 'sheddable-plus', 'sheddable'];

/** One request the load sends to an in-process operation. */
export interface DrillRequest {
  operation: string;
  priority: Priority;
  /** 1, 2, ... per operation. */
  seq: number;
  /** 1 for the first send, more for a naive client's re-sends of the same request. */
  send: number;
  /** Seeded randomness of the drill (replays with the seed). */
  random: () => number;
}

/** The part of a wall a drill reads (a `Wall` has all of it). */
export interface DrillWall {
  /** Must be enabled (`createWall({ ...env.wallOptions })` sets `faults: true`): the drill injects through it. */
  readonly faults: WallFaults;
  /**
   * The current health: service status, mode, and each dependency's state and latency p99 (ms). Sampled
   * every 250 ms during the load; the p99 is compared with the dependency's objective.
   */
  health(): { status: string; mode: string; dependencies: Record<string, { state: string; signals: { p99: number } }> };
  /**
   * Subscribes to the wall's events (mode, status, health and drift changes are recorded as transitions);
   * returns the unsubscribe function.
   */
  onEvent(listener: (e: { type: string }) => void): () => void;
  /**
   * The declared dependencies: their names (faults and invariants are checked against them), call counters
   * (for attempts per call) and latency objective (ms).
   */
  dependencies(): readonly { name: string; counters: { calls: number }; objective: { p99Ms: number } }[];
}

/** What an in-process target factory returns. */
export interface DrillApp {
  wall: DrillWall;
  /** The operations the load can call, by name. A rejection is a failed request (its `code` is recorded). */
  operations: Record<string, (req: DrillRequest) => Promise<unknown>>;
  /** Called after the drill (close the wall, stores, servers). */
  close?: () => Promise<unknown> | unknown;
}

/** What the runner gives an in-process target factory: create the wall with these. */
export interface DrillEnv {
  clock: Clock;
  /** The drill's timeline: pass it to `createWall({ timeline })` so the drill's faults and transitions are recorded. */
  timeline: Timeline;
  /** `createWall({ ...env.wallOptions })`: the clock, the timeline and `faults: true`. */
  wallOptions: { clock: Clock; timeline: Timeline; faults: true };
  /**
   * The drill's seeded randomness (uniform in [0, 1)): use it, not `Math.random`, for anything random in
   * the target, so a run replays with the same seed.
   */
  random: () => number;
  /** The drill's seed (its `seed`, default its name). */
  seed: number | string;
}

/** How a URL target's operation is requested: one HTTP request per arrival; an answer ≥ 400 is a failure (`HTTP_<status>`). */
export interface HttpOperation {
  /** `GET`, `POST`, `PUT`, `PATCH` or `DELETE`. Default `GET`. */
  method?: string;
  /** Path (starting with `/`) appended to the target's `url`. */
  path: string;
  /** Sent as JSON (with `Content-Type: application/json`) when given. */
  body?: unknown;
  /** Extra request headers (the request's priority is sent in `Blastwall-Priority`). */
  headers?: Record<string, string>;
}

/**
 * What a drill runs against: an in-process app built by a factory (`app`), whose wall is read directly, or
 * a running service on this machine (`url`), loaded over HTTP with faults injected through its fault admin
 * route and health read from its health path.
 */
export type DrillTarget =
  | {
      /**
       * Builds a fresh app for this run: create its wall with `createWall({ ...env.wallOptions })` (the
       * drill's clock and timeline, faults on) and return the wall, the operations and `close`.
       */
      app: (env: DrillEnv) => DrillApp | Promise<DrillApp>;
    }
  | {
      /** Base URL of a running service: `http://` on 127.0.0.1, localhost or [::1] (drills never leave the machine). */
      url: string;
      /** Bearer token of its fault admin route (`faultsHandler`). */
      token: string;
      operations: Record<string, HttpOperation>;
      /** Default `/_blastwall/faults`. */
      faultsPath?: string;
      /** Default `/healthz`. */
      healthPath?: string;
    };

/** The load on one operation during a drill. */
export interface OperationLoad {
  /** Arrivals per second, 0 to 100,000 (open loop: sent on schedule whether or not earlier ones answered). */
  rate: number;
  /** One class, or shares per class (normalised): `{ critical: 0.2, sheddable: 0.8 }`. Default `critical`. */
  priority?: Priority | Partial<Record<Priority, number>>;
  /** A naive client re-sends a failed request at once, this many times (0 to 10): a retry storm on purpose. Default 0. */
  clientRetries?: number;
}

/**
 * A fault the drill injects into a dependency of the target (through `wall.faults`, or the fault admin
 * route of a URL target) at `at` for `for`. Under a shortened run (`timeScale`) both are scaled, unless
 * the drill has `fixedTiming`.
 */
export interface ScheduledFault {
  /** A dependency of the target (checked before any load is sent). */
  dependency: string;
  fault: Fault;
  /** Offset from the start of the load (a duration, within the load's duration). */
  at: Duration;
  /** How long the fault lasts (a duration, 1 ms to 1 hour). */
  for: Duration;
  /** Share of attempts hit, in (0, 1]. Default 1. */
  rate?: number;
  /** Seed of the fault's randomness. Default derived from the wall's injector. */
  seed?: number | string;
  /** Only attempts inside these operations (of the load) are hit. Default every attempt. */
  operations?: string[];
}

/**
 * A fault below the library, started and ended by the drill (e.g. a `FaultProxy` refusing connections to
 * the store): `start(app)` at `at`, `end(app)` after `for`.
 */
export interface ScheduledAction {
  name: string;
  at: Duration;
  for: Duration;
  /**
   * Starts the fault; receives the app of an in-process target (undefined for a URL target). May return a
   * promise; a failure is recorded in the drill's timeline, not thrown.
   */
  start: (app: any) => unknown;
  /** Ends the fault (also when the drill ends first); same arguments and error handling as `start`. */
  end: (app: any) => unknown;
}

/**
 * A drill as written: validated by {@link defineDrill} (every field, named in the error) and run by
 * `runDrill`. Durations are `'10s'`-style strings or numbers of ms.
 *
 * @example
 * ```ts
 * import { createWall } from 'blastwall';
 * import { defineDrill, fault, mode, operation, runDrill } from 'blastwall/testing';
 *
 * const drill = defineDrill({
 *   name: 'payments down',
 *   target: {
 *     app: (env) => {
 *       const wall = createWall({ service: 'shop', ...env.wallOptions });
 *       const payments = wall.dependency('payments', { timeout: '500ms' });
 *       const checkout = wall.operation('checkout');
 *       return {
 *         wall,
 *         operations: { checkout: () => checkout.run(() => payments.call(async () => 'charged')) },
 *         close: () => wall.close(),
 *       };
 *     },
 *   },
 *   load: { duration: '10s', operations: { checkout: { rate: 20 } } },
 *   faults: [{ dependency: 'payments', fault: fault.error(), at: '2s', for: '3s' }],
 *   invariants: [operation('checkout').during('faults').p99.atMost('600ms'), mode.returnsTo('normal', { within: '5s' })],
 * });
 * const result = await runDrill(drill);
 * console.log(result.passed);
 * ```
 */
export interface DrillSpec {
  name: string;
  description?: string;
  target: DrillTarget;
  load: {
    /** How long the load runs (100 ms to 1 hour). At most 500,000 requests in all (rate × duration). */
    duration: Duration;
    /** The load per operation, by name (at least one; each must be an operation of the target). */
    operations: Record<string, OperationLoad>;
    /** Requests in flight beyond which arrivals are dropped and counted as `CLIENT_OVERFLOW`. Default 2,000. */
    maxInflight?: number;
    /** How long to wait for answers after the load ends. Default 5s. */
    drain?: Duration;
    /** The same load before the drill starts, not recorded (a cold process is not the service's behaviour). Default 1s. */
    warmup?: Duration;
  };
  /** The fault schedule (empty for none): faults injected into dependencies, and actions below the library. */
  faults: (ScheduledFault | ScheduledAction)[];
  /** What must hold (at least one): built with `operation()`, `dependency()`, `mode`, `status`, `recovery`, `integrity()`. */
  invariants: Invariant[];
  /** Seed of all the drill's randomness (arrivals' priorities, faults, `env.random`). Default the drill's name. */
  seed?: number | string;
  /** Keep this timing in `--short` runs (e.g. a drift detector needs its baseline first). Default false. */
  fixedTiming?: boolean;
}

/** A validated drill: durations in ms, faults compiled. */
export interface Drill {
  readonly name: string;
  readonly description: string | undefined;
  readonly target: DrillTarget;
  readonly load: {
    durationMs: number;
    operations: Record<string, { rate: number; priorities: [Priority, number][]; clientRetries: number }>;
    maxInflight: number;
    drainMs: number;
    warmupMs: number;
  };
  readonly faults: (Omit<ScheduledFault, 'at' | 'for'> & { atMs: number; forMs: number; compiled: CompiledFault })[];
  readonly actions: (Omit<ScheduledAction, 'at' | 'for'> & { atMs: number; forMs: number })[];
  readonly invariants: readonly Invariant[];
  readonly seed: number | string;
  readonly fixedTiming: boolean;
  readonly spec: DrillSpec;
}

/** Most requests a drill may send in all (rate × duration summed over operations). */
export const MAX_DRILL_REQUESTS = 500_000;
const MAX_DRILL_MS = 3_600_000;

/** Validates a drill (every field, named in the error) and returns it ready to run. */
export function defineDrill(spec: DrillSpec): Drill {
  const s = objectOption('drill', spec, ['name', 'description', 'target', 'load', 'faults', 'invariants', 'seed', 'fixedTiming']);
  const name = stringOption('name', s.name, /^[A-Za-z0-9 _.,:()-]{1,100}$/);
  const description = s.description === undefined ? undefined : stringOption('description', s.description);
  const target = targetOption(s.target);
  const l = objectOption('load', s.load, ['duration', 'operations', 'maxInflight', 'drain', 'warmup']);
  const durationMs = durationOption('load.duration', l.duration, 100, MAX_DRILL_MS);
  if (!isPlainObject(l.operations) || Object.keys(l.operations).length === 0) {
    throw configError('load.operations', 'an object of { <operation>: { rate, priority?, clientRetries? } } with at least one operation', l.operations);
  }
  const operations: Drill['load']['operations'] = {};
  let total = 0;
  for (const [op, v] of Object.entries(l.operations)) {
    const f = `load.operations.${op}`;
    const o = objectOption(f, v, ['rate', 'priority', 'clientRetries']);
    const rate = numberOption(`${f}.rate`, o.rate, 0, 100_000);
    total += (rate * durationMs) / 1000;
    operations[op] = {
      rate,
      priorities: priorityMix(`${f}.priority`, o.priority),
      clientRetries: o.clientRetries === undefined ? 0 : intOption(`${f}.clientRetries`, o.clientRetries, 0, 10),
    };
  }
  if (total > MAX_DRILL_REQUESTS) throw configError('load', `at most ${MAX_DRILL_REQUESTS} requests in all (rate × duration)`, Math.round(total));
  const maxInflight = l.maxInflight === undefined ? 2000 : intOption('load.maxInflight', l.maxInflight, 1, 100_000);
  const drainMs = l.drain === undefined ? 5000 : durationOption('load.drain', l.drain, 0, 120_000);
  const warmupMs = l.warmup === undefined ? 1000 : durationOption('load.warmup', l.warmup, 0, 60_000);
  if (!Array.isArray(s.faults)) throw configError('faults', 'an array of { dependency, fault, at, for } (empty for none)', s.faults);
  const actions: Drill['actions'][number][] = [];
  const faults = s.faults.flatMap((v: unknown, i) => {
    const f = `faults[${i}]`;
    if (isPlainObject(v) && 'start' in v) {
      const a = objectOption(f, v, ['name', 'at', 'for', 'start', 'end']);
      actions.push({
        name: stringOption(`${f}.name`, a.name),
        atMs: durationOption(`${f}.at`, a.at, 0, durationMs),
        forMs: durationOption(`${f}.for`, a.for, 1, MAX_DRILL_MS),
        start: fnOption(`${f}.start`, a.start),
        end: fnOption(`${f}.end`, a.end),
      });
      return [];
    }
    const o = objectOption(f, v, ['dependency', 'fault', 'at', 'for', 'rate', 'seed', 'operations']);
    const atMs = durationOption(`${f}.at`, o.at, 0, durationMs);
    const forMs = durationOption(`${f}.for`, o.for, 1, MAX_DRILL_MS);
    if (o.rate !== undefined) numberOption(`${f}.rate`, o.rate, Number.MIN_VALUE, 1);
    if (o.operations !== undefined) {
      if (!Array.isArray(o.operations)) throw configError(`${f}.operations`, 'an array of operation names', o.operations);
      o.operations.forEach((n: unknown, j) => {
        if (!(stringOption(`${f}.operations[${j}]`, n) in operations)) throw configError(`${f}.operations[${j}]`, `an operation of the load (${Object.keys(operations).join(', ')})`, n);
      });
    }
    return [{ ...(o as unknown as ScheduledFault), dependency: stringOption(`${f}.dependency`, o.dependency), atMs, forMs, compiled: compileFault(o.fault, `${f}.fault`) }];
  });
  const windows = [...faults, ...actions];
  if (!Array.isArray(s.invariants) || s.invariants.length === 0) throw configError('invariants', 'a non-empty array of invariants', s.invariants);
  const invariants = s.invariants.map((v: unknown, i) => invariantOption(`invariants[${i}]`, v));
  invariants.forEach((inv, i) => {
    for (const op of inv.refs.operations ?? []) {
      if (!(op in operations)) throw configError(`invariants[${i}]`, `an invariant on an operation of the load (${Object.keys(operations).join(', ')}): ${inv.name}`, op);
    }
    if (inv.refs.faults === true && windows.length === 0) throw configError(`invariants[${i}]`, `a drill with at least one fault for: ${inv.name}`, 'no faults');
    if (inv.refs.after !== undefined && windows.length > 0) {
      const lastEnd = Math.max(...windows.map((f) => f.atMs + f.forMs));
      const after = inv.refs.after as number;
      if (lastEnd + after > durationMs) {
        throw configError('load.duration', `a duration ≥ ${lastEnd + after}ms so that "${inv.name}" can be observed (last fault ends at ${lastEnd}ms)`, l.duration);
      }
    }
  });
  if (s.seed !== undefined && typeof s.seed !== 'string' && !(typeof s.seed === 'number' && Number.isFinite(s.seed))) throw configError('seed', 'a finite number or a string', s.seed);
  return {
    name,
    description,
    target,
    load: { durationMs, operations, maxInflight, drainMs, warmupMs },
    faults,
    actions,
    invariants,
    seed: (s.seed as number | string | undefined) ?? name,
    fixedTiming: s.fixedTiming === undefined ? false : s.fixedTiming === true ? true : s.fixedTiming === false ? false : badBool('fixedTiming', s.fixedTiming),
    spec,
  };
}

function targetOption(v: unknown): DrillTarget {
  if (!isPlainObject(v)) throw configError('target', '{ app: (env) => app } or { url, token, operations }', v);
  if ('app' in v) {
    objectOption('target', v, ['app']);
    fnOption('target.app', v.app);
    return v as DrillTarget;
  }
  const o = objectOption('target', v, ['url', 'token', 'operations', 'faultsPath', 'healthPath']);
  const url = stringOption('target.url', o.url);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw configError('target.url', 'an http URL', url);
  }
  if (u.protocol !== 'http:' || !['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) {
    throw configError('target.url', 'an http URL on 127.0.0.1, localhost or [::1] (drills never leave the machine)', url);
  }
  stringOption('target.token', o.token);
  if (!isPlainObject(o.operations) || Object.keys(o.operations).length === 0) throw configError('target.operations', 'an object of { <operation>: { method?, path } }', o.operations);
  for (const [name, op] of Object.entries(o.operations)) {
    const p = objectOption(`target.operations.${name}`, op, ['method', 'path', 'body', 'headers']);
    stringOption(`target.operations.${name}.path`, p.path, /^\//);
    if (p.method !== undefined) enumOption(`target.operations.${name}.method`, p.method, ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
  }
  return v as DrillTarget;
}

function priorityMix(field: string, v: unknown): [Priority, number][] {
  if (v === undefined) return [['critical', 1]];
  if (typeof v === 'string') return [[enumOption(field, v, DRILL_PRIORITIES), 1]];
  const o = objectOption(field, v, DRILL_PRIORITIES as unknown as string[]);
  const entries = Object.entries(o).map(([k, w]) => [k as Priority, numberOption(`${field}.${k}`, w, 0)] as [Priority, number]);
  const sum = entries.reduce((a, [, w]) => a + w, 0);
  if (sum <= 0) throw configError(field, 'shares per priority class with a positive sum', v);
  return entries.filter(([, w]) => w > 0).map(([k, w]) => [k, w / sum]);
}

/** Checks a drill's names against its target: every faulted dependency and every loaded operation must exist. */
export function checkAgainstTarget(drill: Drill, dependencies: readonly string[], operations: readonly string[]): void {
  drill.faults.forEach((f, i) => {
    if (!dependencies.includes(f.dependency)) {
      throw configError(`faults[${i}].dependency`, `a dependency of the target (${dependencies.join(', ') || 'none declared'})`, f.dependency);
    }
  });
  for (const op of Object.keys(drill.load.operations)) {
    if (!operations.includes(op)) throw configError(`load.operations.${op}`, `an operation of the target (${operations.join(', ')})`, op);
  }
  drill.invariants.forEach((inv, i) => {
    for (const d of inv.refs.dependencies ?? []) {
      if (!dependencies.includes(d)) throw configError(`invariants[${i}]`, `an invariant on a dependency of the target (${dependencies.join(', ')}): ${inv.name}`, d);
    }
  });
}

function badBool(field: string, v: unknown): never {
  throw configError(field, 'a boolean', v);
}
