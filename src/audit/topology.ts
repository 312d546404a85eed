/**
 * The topology document the audit reads: what a service declared (criticality and boundaries of each
 * dependency, deadline and priority of each operation, features) and what it observed (edges, call counts).
 *
 * Versioned by `schema`; `parseTopology` validates a document and names the first bad field, so a file
 * written by hand or by another version of blastwall is rejected whole, never half-read.
 * The JSON Schema for editors is `docs/topology.schema.json`; the field reference is `docs/audit.md`.
 */
import { describe, isPlainObject } from '../core/validate.js';

import { TOPOLOGY_SCHEMA } from '../wall/topology-document.js';

export { TOPOLOGY_SCHEMA };

export type AuditCriticality = 'core' | 'optional' | 'deferrable';
export type AuditPriority = 'critical-plus' | 'critical' | 'sheddable-plus' | 'sheddable';

/** Where something was declared, captured at declaration (`file` as the stack showed it). */
export interface SourceLocation {
  file: string;
  line: number;
  column?: number;
}

/**
 * One dependency as declared (its criticality and boundaries, in milliseconds) and as observed. `null`
 * means "declared without it" (no timeout, no retry, no breaker, …), which is what several rules look for.
 */
export interface TopologyDependency {
  name: string;
  criticality: AuditCriticality;
  /** Per-attempt timeout; `null` when there is none. */
  timeoutMs: number | null;
  /** `null` when the dependency does not retry. `budget: null` means retries are not budgeted. */
  retry: { attempts: number; backoff: { baseMs: number; maxMs: number }; budget: { ratio: number; minPerSecond: number } | null } | null;
  /** The circuit breaker (`failureRate` as a fraction 0–1); `null` without one. */
  breaker: { failureRate: number; minimumCalls: number; windowMs: number; halfOpenAfterMs: number } | null;
  /** `limit: null` for an adaptive limit (its `max` is then in `limit` when known). */
  concurrency: { limit: number | null; queue: number | null; adaptive: boolean } | null;
  /** What an optional dependency serves on failure: nothing, a value, an empty value (`[]`, `{}`, `null`, `''`), or a function. */
  fallback: 'none' | 'value' | 'empty' | 'function';
  /** The response cache: served fresh for `freshMs`, then as a stale substitute up to `staleMs` old; `null` without one. */
  cache: { freshMs: number; staleMs: number } | null;
  /** For deferrable dependencies: the queue, and whether it survives a restart. */
  deferred: { maxQueue: number; durable: boolean } | null;
  /** Whether responses are checked (`validate`), so corrupt answers are refused. */
  validate: boolean;
  /** The service this dependency is, when it is one of the audited services (joins a chain). */
  service?: string;
  owner?: string;
  runbook?: string;
  source?: SourceLocation;
  /** Calls seen in the observed window. */
  observed?: { calls: number };
}

/** One operation: its priority class, its deadline and the dependencies it calls. */
export interface TopologyOperation {
  name: string;
  priority: AuditPriority;
  /** The operation's deadline (ms); `null` when it has none. */
  deadlineMs: number | null;
  /** Dependencies this operation was seen calling (observed edges). */
  calls: string[];
  /** Dependencies the operation declares it may call; when present, an observed call outside it is a finding. */
  declared?: string[];
  capability?: string;
  owner?: string;
  runbook?: string;
  source?: SourceLocation;
}

/** A feature switch, for the owner and expiry rules (BW010, BW011). */
export interface TopologyFeature {
  name: string;
  owner?: string;
  /** ISO date after which the switch should have been removed. */
  expires?: string;
  source?: SourceLocation;
}

/** A mode rule and the (dependency, state) pairs that make it fire, evaluated when the document was written. */
export interface TopologyModeRule {
  name: string;
  mode: string;
  firesOn: { dependency: string; state: string }[];
}

/**
 * The topology document (`blastwall.topology/v1`) of one service: what it declared and what it observed.
 * A wall writes it (`wall.topology()`, an HTTP guard's `topologyPath`); {@link parseTopology} validates
 * one read from elsewhere.
 */
export interface Topology {
  schema: typeof TOPOLOGY_SCHEMA;
  /** The service's name; other services' dependencies join it by this name. */
  service: string;
  /** When the document was written (ms since the epoch). */
  at?: number;
  /** Length of the window in which `calls`/`observed` were counted; without it, nothing is judged dead. */
  observedWindowMs?: number;
  dependencies: TopologyDependency[];
  operations: TopologyOperation[];
  features?: TopologyFeature[];
  modeRules?: TopologyModeRule[];
  /** Where the document came from (a file, a URL, a module): used in messages only. */
  origin?: string;
}

/** Bad audit input: a one-line message naming the source and the field; the CLI exits 2 with it. */
export class AuditInputError extends Error {
  override readonly name = 'AuditInputError';
}

const CRIT: readonly string[] = ['core', 'optional', 'deferrable'];
const PRIO: readonly string[] = ['critical-plus', 'critical', 'sheddable-plus', 'sheddable'];
const FALLBACK: readonly string[] = ['none', 'value', 'empty', 'function'];

class Reader {
  constructor(private readonly origin: string) {}

  fail(path: string, expectation: string, value: unknown): never {
    throw new AuditInputError(`${this.origin}: expected \`${path}\` to be ${expectation}, got ${describe(value)}`);
  }

  obj(path: string, v: unknown, known: readonly string[]): Record<string, unknown> {
    if (!isPlainObject(v)) this.fail(path, 'an object', v);
    for (const k of Object.keys(v)) {
      if (!known.includes(k)) {
        throw new AuditInputError(`${this.origin}: unknown field \`${path ? `${path}.` : ''}${k}\`; expected one of ${known.map((x) => `\`${x}\``).join(', ')}`);
      }
    }
    return v;
  }

  str(path: string, v: unknown): string {
    if (typeof v !== 'string' || v.length === 0) this.fail(path, 'a non-empty string', v);
    return v;
  }

  optStr(path: string, v: unknown): string | undefined {
    return v === undefined ? undefined : this.str(path, v);
  }

  num(path: string, v: unknown, min: number, integer = false): number {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) {
      this.fail(path, `${integer ? 'an integer' : 'a finite number'} ≥ ${min}`, v);
    }
    return v;
  }

  nullableNum(path: string, v: unknown, min: number, integer = false): number | null {
    return v === null ? null : this.num(path, v, min, integer);
  }

  ratio(path: string, v: unknown): number {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1) this.fail(path, 'a ratio between 0 and 1', v);
    return v;
  }

  bool(path: string, v: unknown): boolean {
    if (typeof v !== 'boolean') this.fail(path, 'a boolean', v);
    return v;
  }

  oneOf<T extends string>(path: string, v: unknown, allowed: readonly string[]): T {
    if (typeof v !== 'string' || !allowed.includes(v)) this.fail(path, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, v);
    return v as T;
  }

  arr(path: string, v: unknown): unknown[] {
    if (!Array.isArray(v)) this.fail(path, 'an array', v);
    return v;
  }

  strings(path: string, v: unknown): string[] {
    return this.arr(path, v).map((x, i) => this.str(`${path}[${i}]`, x));
  }

  source(path: string, v: unknown): SourceLocation | undefined {
    if (v === undefined) return undefined;
    const o = this.obj(path, v, ['file', 'line', 'column']);
    return {
      file: this.str(`${path}.file`, o.file),
      line: this.num(`${path}.line`, o.line, 1, true),
      ...(o.column === undefined ? {} : { column: this.num(`${path}.column`, o.column, 1, true) }),
    };
  }
}

const DEP_KEYS = ['name', 'criticality', 'timeoutMs', 'retry', 'breaker', 'concurrency', 'fallback', 'cache', 'deferred', 'validate', 'service', 'owner', 'runbook', 'source', 'observed'];
const OP_KEYS = ['name', 'priority', 'deadlineMs', 'calls', 'declared', 'capability', 'owner', 'runbook', 'source'];

function readDependency(r: Reader, p: string, v: unknown): TopologyDependency {
  const o = r.obj(p, v, DEP_KEYS);
  const dep: TopologyDependency = {
    name: r.str(`${p}.name`, o.name),
    criticality: r.oneOf(`${p}.criticality`, o.criticality, CRIT),
    timeoutMs: r.nullableNum(`${p}.timeoutMs`, o.timeoutMs, 1),
    retry: null,
    breaker: null,
    concurrency: null,
    fallback: o.fallback === undefined ? 'none' : r.oneOf(`${p}.fallback`, o.fallback, FALLBACK),
    cache: null,
    deferred: null,
    validate: o.validate === undefined ? false : r.bool(`${p}.validate`, o.validate),
  };
  if (o.retry !== null && o.retry !== undefined) {
    const ro = r.obj(`${p}.retry`, o.retry, ['attempts', 'backoff', 'budget']);
    const bo = ro.backoff === undefined ? { baseMs: 0, maxMs: 0 } : r.obj(`${p}.retry.backoff`, ro.backoff, ['baseMs', 'maxMs']);
    let budget: { ratio: number; minPerSecond: number } | null = null;
    if (ro.budget !== null && ro.budget !== undefined) {
      const b = r.obj(`${p}.retry.budget`, ro.budget, ['ratio', 'minPerSecond']);
      budget = { ratio: r.ratio(`${p}.retry.budget.ratio`, b.ratio), minPerSecond: r.num(`${p}.retry.budget.minPerSecond`, b.minPerSecond, 0) };
    }
    dep.retry = {
      attempts: r.num(`${p}.retry.attempts`, ro.attempts, 1, true),
      backoff: { baseMs: r.num(`${p}.retry.backoff.baseMs`, bo.baseMs, 0), maxMs: r.num(`${p}.retry.backoff.maxMs`, bo.maxMs, 0) },
      budget,
    };
  }
  if (o.breaker !== null && o.breaker !== undefined) {
    const b = r.obj(`${p}.breaker`, o.breaker, ['failureRate', 'minimumCalls', 'windowMs', 'halfOpenAfterMs']);
    dep.breaker = {
      failureRate: r.ratio(`${p}.breaker.failureRate`, b.failureRate),
      minimumCalls: r.num(`${p}.breaker.minimumCalls`, b.minimumCalls, 1, true),
      windowMs: r.num(`${p}.breaker.windowMs`, b.windowMs, 1),
      halfOpenAfterMs: r.num(`${p}.breaker.halfOpenAfterMs`, b.halfOpenAfterMs, 0),
    };
  }
  if (o.concurrency !== null && o.concurrency !== undefined) {
    const c = r.obj(`${p}.concurrency`, o.concurrency, ['limit', 'queue', 'adaptive']);
    dep.concurrency = {
      limit: c.limit === undefined ? null : r.nullableNum(`${p}.concurrency.limit`, c.limit, 1, true),
      queue: c.queue === undefined ? null : r.nullableNum(`${p}.concurrency.queue`, c.queue, 0, true),
      adaptive: c.adaptive === undefined ? false : r.bool(`${p}.concurrency.adaptive`, c.adaptive),
    };
  }
  if (o.cache !== null && o.cache !== undefined) {
    const c = r.obj(`${p}.cache`, o.cache, ['freshMs', 'staleMs']);
    dep.cache = { freshMs: r.num(`${p}.cache.freshMs`, c.freshMs, 0), staleMs: r.num(`${p}.cache.staleMs`, c.staleMs, 0) };
  }
  if (o.deferred !== null && o.deferred !== undefined) {
    const d = r.obj(`${p}.deferred`, o.deferred, ['maxQueue', 'durable']);
    dep.deferred = { maxQueue: r.num(`${p}.deferred.maxQueue`, d.maxQueue, 1, true), durable: r.bool(`${p}.deferred.durable`, d.durable) };
  }
  const service = r.optStr(`${p}.service`, o.service);
  if (service !== undefined) dep.service = service;
  const owner = r.optStr(`${p}.owner`, o.owner);
  if (owner !== undefined) dep.owner = owner;
  const runbook = r.optStr(`${p}.runbook`, o.runbook);
  if (runbook !== undefined) dep.runbook = runbook;
  const source = r.source(`${p}.source`, o.source);
  if (source !== undefined) dep.source = source;
  if (o.observed !== undefined) {
    const ob = r.obj(`${p}.observed`, o.observed, ['calls']);
    dep.observed = { calls: r.num(`${p}.observed.calls`, ob.calls, 0, true) };
  }
  return dep;
}

function readOperation(r: Reader, p: string, v: unknown): TopologyOperation {
  const o = r.obj(p, v, OP_KEYS);
  const op: TopologyOperation = {
    name: r.str(`${p}.name`, o.name),
    priority: r.oneOf(`${p}.priority`, o.priority, PRIO),
    deadlineMs: o.deadlineMs === undefined ? null : r.nullableNum(`${p}.deadlineMs`, o.deadlineMs, 1),
    calls: o.calls === undefined ? [] : r.strings(`${p}.calls`, o.calls),
  };
  if (o.declared !== undefined) op.declared = r.strings(`${p}.declared`, o.declared);
  for (const k of ['capability', 'owner', 'runbook'] as const) {
    const s = r.optStr(`${p}.${k}`, o[k]);
    if (s !== undefined) op[k] = s;
  }
  const source = r.source(`${p}.source`, o.source);
  if (source !== undefined) op.source = source;
  return op;
}

/**
 * Validates a topology document (already parsed from JSON). Throws `AuditInputError` naming `origin` and
 * the first bad field; an unknown `schema` version is refused with the versions this reader knows.
 */
export function parseTopology(value: unknown, origin = 'topology'): Topology {
  const r = new Reader(origin);
  if (!isPlainObject(value)) throw new AuditInputError(`${origin}: expected a JSON object, got ${describe(value)}`);
  if (value.schema !== TOPOLOGY_SCHEMA) {
    throw new AuditInputError(
      `${origin}: unknown topology schema ${describe(value.schema)}; this blastwall reads '${TOPOLOGY_SCHEMA}'`,
    );
  }
  const o = r.obj('', value, ['schema', 'service', 'at', 'observedWindowMs', 'dependencies', 'operations', 'features', 'modeRules']);
  const topo: Topology = {
    schema: TOPOLOGY_SCHEMA,
    service: r.str('service', o.service),
    dependencies: r.arr('dependencies', o.dependencies).map((d, i) => readDependency(r, `dependencies[${i}]`, d)),
    operations: r.arr('operations', o.operations).map((op, i) => readOperation(r, `operations[${i}]`, op)),
    origin,
  };
  if (o.at !== undefined) topo.at = r.num('at', o.at, 0);
  if (o.observedWindowMs !== undefined) topo.observedWindowMs = r.num('observedWindowMs', o.observedWindowMs, 1);
  if (o.features !== undefined) {
    topo.features = r.arr('features', o.features).map((f, i) => {
      const fo = r.obj(`features[${i}]`, f, ['name', 'owner', 'expires', 'source']);
      const feat: TopologyFeature = { name: r.str(`features[${i}].name`, fo.name) };
      const owner = r.optStr(`features[${i}].owner`, fo.owner);
      if (owner !== undefined) feat.owner = owner;
      if (fo.expires !== undefined) {
        const e = r.str(`features[${i}].expires`, fo.expires);
        if (Number.isNaN(Date.parse(e))) r.fail(`features[${i}].expires`, 'an ISO date', e);
        feat.expires = e;
      }
      const source = r.source(`features[${i}].source`, fo.source);
      if (source !== undefined) feat.source = source;
      return feat;
    });
  }
  if (o.modeRules !== undefined) {
    topo.modeRules = r.arr('modeRules', o.modeRules).map((m, i) => {
      const mo = r.obj(`modeRules[${i}]`, m, ['name', 'mode', 'firesOn']);
      return {
        name: r.str(`modeRules[${i}].name`, mo.name),
        mode: r.str(`modeRules[${i}].mode`, mo.mode),
        firesOn: r.arr(`modeRules[${i}].firesOn`, mo.firesOn).map((x, j) => {
          const xo = r.obj(`modeRules[${i}].firesOn[${j}]`, x, ['dependency', 'state']);
          return { dependency: r.str(`modeRules[${i}].firesOn[${j}].dependency`, xo.dependency), state: r.str(`modeRules[${i}].firesOn[${j}].state`, xo.state) };
        }),
      };
    });
  }
  const names = new Set<string>();
  topo.dependencies.forEach((d, i) => {
    if (names.has(d.name)) r.fail(`dependencies[${i}].name`, 'unique within the service', d.name);
    names.add(d.name);
  });
  topo.operations.forEach((op, i) =>
    op.calls.forEach((c, j) => {
      if (!names.has(c)) r.fail(`operations[${i}].calls[${j}]`, 'the name of a declared dependency', c);
    }),
  );
  return topo;
}

/** Parses JSON text into a topology, with the parse error named on one line. */
export function parseTopologyText(text: string, origin: string): Topology {
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (e) {
    throw new AuditInputError(`${origin}: not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  return parseTopology(value, origin);
}
