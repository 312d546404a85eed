import type { Clock } from '../core/clock.js';
import type { DeadlineScheduler } from '../core/scheduler.js';
import { durationOption, type Duration } from '../core/duration.js';
import type { Policy } from '../core/policy.js';
import { guarded } from '../core/callback.js';
import { failingResponse } from '../core/result.js';
import { configError, enumOption, fnOption, intOption, isPlainObject, objectOption, ratioOption, stringOption } from '../core/validate.js';
import { type ClassifierOptions, DEFAULT_CLASSIFIER } from '../health/classifier.js';
import type { AdaptiveConcurrencyPolicy, AdaptiveConcurrencyOptions } from '../policies/adaptive-concurrency/index.js';
import type { CacheOptions, FreshnessCache } from '../policies/cache/index.js';
import type { CircuitBreakerPolicy, CircuitBreakerOptions } from '../policies/circuit-breaker/index.js';
import type { BulkheadPolicy, BulkheadOptions } from '../policies/concurrency/index.js';
import type { RetryBudget, RetryBudgetOptions, RetryPolicy, RetryOptions } from '../policies/retry/index.js';
import type { TimeoutPolicy } from '../policies/timeout/index.js';
import { isStandardSchema, type StandardIssue, type StandardSchemaV1 } from './schema.js';
import {
  parseBreaker,
  parseCache,
  parseConcurrency,
  parseRetry,
  parseTimeout,
  type RETRY_SUPPLIED,
  type SUPPLIED,
  type WAITING,
} from './dependency-policies.js';

/**
 * How a dependency's failure reaches the caller, declared once per dependency (and overridable per call).
 * `core`: the caller needs the answer, so a failure fails the call fast with a `BlastwallError` naming the
 * boundary that stopped it (no fallback allowed). `optional`: the call fails open, answering with a stale
 * cached value or the fallback (required). `deferrable`: the work is queued and runs in the background; the
 * call resolves at once with a {@link DeferReceipt}. Criticality also decides how a dependency's health
 * affects the service's status.
 */
export type Criticality = 'core' | 'optional' | 'deferrable';

/** Every {@link Criticality}; a spec or call option with any other value is refused with `CONFIG_INVALID`. */
export const CRITICALITIES: readonly Criticality[] = ['core', 'optional', 'deferrable'];

/**
 * The declaration of a dependency, passed to `wall.dependency(name, spec)`: its criticality and the
 * boundaries every call through it passes, outer to inner: concurrency limit, circuit breaker, retry,
 * per-attempt timeout. Checked field by field at declaration; an unknown or invalid field throws
 * `CONFIG_INVALID` naming it (e.g. `payments.retry.attempts`). `timeout`, `retry`, `breaker`,
 * `concurrency` and `cache` can also be changed at run time (`wall.configure`, or the wall's `config` file).
 *
 * @example
 * ```ts
 * const inventory = wall.dependency('inventory', {
 *   criticality: 'optional',
 *   timeout: '300ms',
 *   retry: { attempts: 2, backoff: { base: '50ms', max: '200ms' } },
 *   breaker: { failureRate: 0.5, window: '30s' },
 *   concurrency: { limit: 32, queue: 64 },
 *   cache: { fresh: '5s', stale: '5m' },
 *   fallback: { inStock: true, estimated: true },
 *   owner: 'team-catalog',
 * });
 * ```
 */
export interface DependencySpec {
  /** How a failure reaches the caller; see {@link Criticality}. Default `core`. */
  criticality?: Criticality;
  /** Per-attempt timeout. Default 10s: no dependency call waits forever. `false` for none. */
  timeout?: Duration | false;
  /**
   * Retries, as the options of {@link retry} (without `clock`, `name` and `minAttemptTime`, which the wall
   * supplies). Default: no retry, except on a `deferrable` dependency (`{ attempts: 5 }`). When given, a
   * retry budget of this dependency's own applies unless `budget: false`. `false` for none.
   */
  retry?: false | (Omit<RetryOptions, (typeof RETRY_SUPPLIED)[number] | 'budget'> & { budget?: RetryBudgetOptions | false });
  /**
   * The circuit breaker, as the options of {@link circuitBreaker} (without `clock` and `name`). Default:
   * on, with that function's defaults (opens at a 50% failure rate over 30s with at least 20 calls, probes
   * after 5s). `false` for none.
   */
  breaker?: false | Omit<CircuitBreakerOptions, (typeof SUPPLIED)[number]>;
  /**
   * A concurrency limit: the options of {@link bulkhead} (`{ limit, queue, queueTimeout, priority }`), or an
   * adaptive one, `{ adaptive: true }` or `{ adaptive: { min, max, ... } }` with `queue`, `queueTimeout` and
   * `priority` beside it (see {@link adaptiveConcurrency}). Default: none (`false`).
   */
  concurrency?:
    | false
    | Omit<BulkheadOptions, (typeof SUPPLIED)[number]>
    | ({ adaptive: true | Omit<AdaptiveConcurrencyOptions, (typeof SUPPLIED)[number] | (typeof WAITING)[number]> } & Pick<AdaptiveConcurrencyOptions, (typeof WAITING)[number]>);
  /** A Standard Schema validator (zod, valibot, arktype) for responses. */
  validate?: StandardSchemaV1;
  /**
   * Which results are failures although the function returned them (retry, breaker and health then treat
   * them as errors: a retryable `DEPENDENCY_FAILED` with `details.status`). Default: a fetch `Response`
   * with status 5xx or 429, whose `Retry-After` becomes the least wait before a retry (within the deadline);
   * other statuses, 4xx included, are answers. `false`: every result is a success.
   */
  failOnResult?: false | ((result: unknown) => boolean);
  /** Receives responses that failed validation (they are never returned to the caller). */
  quarantine?: (payload: unknown, issues: ReadonlyArray<StandardIssue>, dependency: string) => void;
  /** For `optional` dependencies: the value (or a function of the error) served when the call fails. */
  fallback?: unknown;
  /**
   * Values by `key` (a call option): served without a call while `fresh`; within `stale` served at once
   * with one background refresh, and (optional dependencies) served when the call fails. Concurrent misses
   * share one call. Bounded by `maxEntries` / `maxBytes` (LRU).
   */
  cache?: Omit<CacheOptions, 'clock'>;
  /**
   * Size limits, in bytes (integers ≥ 1): a request (the `request` call option) larger than
   * `maxRequestBytes` is refused before the call, a response larger than `maxResponseBytes` fails the call;
   * both with `PAYLOAD_TOO_LARGE`. Default: no limits.
   */
  payload?: {
    maxRequestBytes?: number;
    maxResponseBytes?: number;
    /**
     * The size of a request or response in bytes. Default: a string's UTF-8 length, a buffer's length, or
     * the UTF-8 length of its JSON text (0 for `null` and `undefined`). If it throws, the call fails with
     * `CALLBACK_FAILED`.
     */
    measure?: (value: unknown) => number;
  };
  /**
   * The objective this dependency's health is judged against: `latency.p99` (default 80% of the timeout)
   * and `availability`, the share of calls that should succeed (default 0.99).
   */
  slo?: { latency?: { p99: Duration }; availability?: number };
  /** For `deferrable` dependencies: the bounded in-memory queue. */
  deferred?: { maxQueue?: number; workers?: number };
  health?: Partial<Omit<ClassifierOptions, 'minDwellMs'>> & {
    /** How far back calls count when the health state is judged, at least 1s. Default 60s. */
    window?: Duration;
    /** A health state is held at least this long before it improves. Default 5s. */
    minDwell?: Duration;
    /** @deprecated since 0.2: use `minDwell` (a Duration option carries no unit in its name). */
    minDwellMs?: Duration;
  };
  /** Who owns this dependency (a team or a person): shown on the page, in alerts and in the postmortem. */
  owner?: string;
  /** Where its runbook is (a URL or a repository path). */
  runbook?: string;
}

const SPEC_KEYS = [
  'owner',
  'runbook',
  'criticality',
  'timeout',
  'retry',
  'breaker',
  'concurrency',
  'validate',
  'failOnResult',
  'quarantine',
  'fallback',
  'cache',
  'payload',
  'slo',
  'deferred',
  'health',
];

/** A dependency spec checked field by field, with its policies built (outer to inner in `policies`). */
export interface ParsedDependencySpec {
  criticality: Criticality;
  /** Free-form description of the boundaries, for topology and audit. */
  boundaries: Record<string, unknown>;
  policies: Policy[];
  bulkhead?: BulkheadPolicy;
  adaptive?: AdaptiveConcurrencyPolicy;
  breaker?: CircuitBreakerPolicy;
  retry?: RetryPolicy;
  budget?: RetryBudget;
  timeout?: TimeoutPolicy;
  timeoutMs?: number;
  schema: StandardSchemaV1 | undefined;
  /** The result classifier (see `DependencySpec.failOnResult`); undefined when off. */
  failOnResult: ((result: unknown) => boolean) | undefined;
  quarantine: DependencySpec['quarantine'];
  hasFallback: boolean;
  fallback: unknown;
  cache?: FreshnessCache;
  maxRequestBytes: number;
  maxResponseBytes: number;
  measure: (value: unknown) => number;
  objective: { p99Ms: number; availability: number };
  classifier: ClassifierOptions;
  /** Width of the rolling health window (ms). */
  healthWindowMs: number;
  deferred: { maxQueue: number; workers: number };
  owner: string | undefined;
  runbook: string | undefined;
}

/** What building a dependency's policies needs from its wall. */
export interface SpecContext {
  clock: Clock;
  scheduler: DeadlineScheduler;
}

/**
 * Checks a dependency spec (every field named `<dependency>.<field>` in errors) and builds its policies,
 * outer to inner: concurrency → breaker → retry → timeout.
 */
export function parseDependencySpec(name: string, spec: DependencySpec, env: SpecContext): ParsedDependencySpec {
  const s = objectOption(`dependency '${name}'`, spec, SPEC_KEYS) as DependencySpec;
  const criticality = s.criticality === undefined ? 'core' : enumOption(`${name}.criticality`, s.criticality, CRITICALITIES);
  const out: ParsedDependencySpec = {
    criticality,
    owner: s.owner === undefined ? undefined : stringOption(`${name}.owner`, s.owner),
    runbook: s.runbook === undefined ? undefined : stringOption(`${name}.runbook`, s.runbook),
    boundaries: {},
    policies: [],
    schema: undefined,
    failOnResult: failingResponse,
    quarantine: undefined,
    hasFallback: false,
    fallback: undefined,
    maxRequestBytes: Number.POSITIVE_INFINITY,
    maxResponseBytes: Number.POSITIVE_INFINITY,
    measure: defaultMeasure,
    objective: { p99Ms: 0, availability: 0 },
    classifier: { ...DEFAULT_CLASSIFIER },
    healthWindowMs: 60_000,
    deferred: { maxQueue: 0, workers: 0 },
  };
  if (s.concurrency !== undefined && s.concurrency !== false) parseConcurrency(name, s.concurrency, env.clock, out);
  if (s.breaker !== false) parseBreaker(name, s.breaker, env.clock, out);
  parseRetry(name, s.retry, env.clock, out);
  if (s.timeout !== false) parseTimeout(name, s.timeout, env, out);
  parseValidation(name, s.validate, s.quarantine, out);
  parseFailOnResult(name, s.failOnResult, out);
  parseFallbackAndCache(name, s, env.clock, out);
  parsePayload(name, s.payload, out);
  parseObjective(name, s.slo, out);
  parseHealth(name, s.health, out);
  parseDeferred(name, s.deferred, out);
  return out;
}

/** `false` turns result classification off; a function replaces the default (a throw in it is CALLBACK_FAILED). */
function parseFailOnResult(name: string, value: unknown, out: ParsedDependencySpec): void {
  if (value === undefined) return;
  if (value === false) out.failOnResult = undefined;
  else if (typeof value === 'function') out.failOnResult = guarded(`${name}.failOnResult`, value as (result: unknown) => boolean);
  else throw configError(`${name}.failOnResult`, 'false or a function (result) => boolean', value);
}

function parseValidation(name: string, validate: unknown, quarantine: unknown, out: ParsedDependencySpec): void {
  if (validate !== undefined && !isStandardSchema(validate)) {
    throw configError(`${name}.validate`, 'a Standard Schema validator (zod, valibot, arktype: an object with `~standard.validate`)', validate);
  }
  out.schema = validate;
  out.quarantine = quarantine === undefined ? undefined : fnOption(`${name}.quarantine`, quarantine);
  if (out.schema) out.boundaries.validate = out.schema['~standard'].vendor;
}

/** An `optional` dependency must have a fallback (it fails open); a `core` one must not (it fails fast). */
function parseFallbackAndCache(name: string, s: DependencySpec, clock: Clock, out: ParsedDependencySpec): void {
  out.hasFallback = 'fallback' in s && s.fallback !== undefined;
  out.fallback = s.fallback;
  if (out.hasFallback) out.boundaries.fallback = fallbackKind(s.fallback);
  if (s.cache !== undefined) parseCache(name, s.cache, clock, out);
  if (out.criticality === 'optional' && !out.hasFallback) {
    throw configError(`${name}.fallback`, "a value or a function of the error: an 'optional' dependency fails open", s.fallback);
  }
  if (out.criticality === 'core' && out.hasFallback) {
    throw configError(`${name}.fallback`, "absent on a 'core' dependency (it fails fast; use criticality 'optional' to fail open)", s.fallback);
  }
}

function parsePayload(name: string, value: unknown, out: ParsedDependencySpec): void {
  const field = `${name}.payload`;
  const p = objectOption(field, value, ['maxRequestBytes', 'maxResponseBytes', 'measure']);
  if (p.maxRequestBytes !== undefined) out.maxRequestBytes = intOption(`${field}.maxRequestBytes`, p.maxRequestBytes, 1);
  if (p.maxResponseBytes !== undefined) out.maxResponseBytes = intOption(`${field}.maxResponseBytes`, p.maxResponseBytes, 1);
  if (p.measure !== undefined) out.measure = guarded(`${field}.measure`, fnOption<(value: unknown) => number>(`${field}.measure`, p.measure));
  if (value !== undefined) out.boundaries.payload = { maxRequestBytes: p.maxRequestBytes, maxResponseBytes: p.maxResponseBytes };
}

/** The objective health is judged against: p99 latency (80% of the timeout unless given) and availability. */
function parseObjective(name: string, value: unknown, out: ParsedDependencySpec): void {
  const slo = objectOption(`${name}.slo`, value, ['latency', 'availability']);
  const latency = objectOption(`${name}.slo.latency`, slo.latency, ['p99']);
  out.objective = {
    p99Ms: latency.p99 === undefined ? (out.timeoutMs ?? 10_000) * 0.8 : durationOption(`${name}.slo.latency.p99`, latency.p99),
    availability: slo.availability === undefined ? 0.99 : ratioOption(`${name}.slo.availability`, slo.availability),
  };
}

function parseHealth(name: string, value: unknown, out: ParsedDependencySpec): void {
  const field = `${name}.health`;
  const h = objectOption(field, value, ['window', 'minimumCalls', 'retryRatio', 'unavailableRatio', 'corruptRatio', 'exitFactor', 'minDwell', 'minDwellMs']);
  const co = out.classifier;
  if (h.minimumCalls !== undefined) co.minimumCalls = intOption(`${field}.minimumCalls`, h.minimumCalls, 1);
  if (h.retryRatio !== undefined) co.retryRatio = ratioOption(`${field}.retryRatio`, h.retryRatio);
  if (h.unavailableRatio !== undefined) co.unavailableRatio = ratioOption(`${field}.unavailableRatio`, h.unavailableRatio);
  if (h.corruptRatio !== undefined) co.corruptRatio = ratioOption(`${field}.corruptRatio`, h.corruptRatio);
  if (h.exitFactor !== undefined) co.exitFactor = ratioOption(`${field}.exitFactor`, h.exitFactor);
  if (h.minDwell !== undefined && h.minDwellMs !== undefined) {
    throw configError(`${field}.minDwellMs`, 'absent when `minDwell` is given (it is the old name of `minDwell`)', h.minDwellMs);
  }
  if (h.minDwell !== undefined) co.minDwellMs = durationOption(`${field}.minDwell`, h.minDwell, 0);
  else if (h.minDwellMs !== undefined) co.minDwellMs = durationOption(`${field}.minDwellMs`, h.minDwellMs, 0);
  if (h.window !== undefined) out.healthWindowMs = durationOption(`${field}.window`, h.window, 1000);
}

/** The bounded in-memory queue of a `deferrable` dependency (10 000 items, 4 workers unless given). */
function parseDeferred(name: string, value: unknown, out: ParsedDependencySpec): void {
  const field = `${name}.deferred`;
  const d = objectOption(field, value, ['maxQueue', 'workers']);
  if (value !== undefined && out.criticality !== 'deferrable') {
    throw configError(field, "absent unless criticality is 'deferrable'", value);
  }
  out.deferred = {
    maxQueue: d.maxQueue === undefined ? 10_000 : intOption(`${field}.maxQueue`, d.maxQueue, 1),
    workers: d.workers === undefined ? 4 : intOption(`${field}.workers`, d.workers, 1, 10_000),
  };
  if (out.criticality === 'deferrable') out.boundaries.deferred = { ...out.deferred };
}

function defaultMeasure(v: unknown): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (v instanceof ArrayBuffer) return v.byteLength;
  if (ArrayBuffer.isView(v)) return v.byteLength;
  return Buffer.byteLength(JSON.stringify(v) ?? '');
}

/** What an optional dependency's fallback serves, for the audit: an empty value, a value, or a function's result. */
function fallbackKind(v: unknown): 'empty' | 'value' | 'function' {
  if (typeof v === 'function') return 'function';
  if (v === null || v === '' || (Array.isArray(v) && v.length === 0) || (isPlainObject(v) && Object.keys(v).length === 0)) return 'empty';
  return 'value';
}
