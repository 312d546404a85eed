/**
 * The policy sections of a dependency spec: concurrency, breaker, retry, timeout and cache. Each section
 * accepts its policy's own option list less what the wall supplies, builds the policy, and describes it in
 * the spec's `boundaries` (for topology and audit). A policy's configuration error names the dependency
 * (`payments.retry.attempts`).
 */
import type { Clock } from '../core/clock.js';
import { timerDurationOption, tryParseDuration } from '../core/duration.js';
import { BlastwallError } from '../core/errors.js';
import { optionNamesWithout } from '../core/option-names.js';
import { configError, intOption, isPlainObject, objectOption } from '../core/validate.js';
import { ADAPTIVE_CONCURRENCY_OPTION_NAMES, AdaptiveConcurrencyPolicy } from '../policies/adaptive-concurrency/index.js';
import { CACHE_OPTION_NAMES, FreshnessCache } from '../policies/cache/index.js';
import { BREAKER_OPTION_NAMES, CircuitBreakerPolicy } from '../policies/circuit-breaker/index.js';
import { BULKHEAD_OPTION_NAMES, BulkheadPolicy, type BulkheadOptions, priorityOption } from '../policies/concurrency/index.js';
import { RETRY_OPTION_NAMES, RetryPolicy, type RetryOptions, budgetOption } from '../policies/retry/index.js';
import { TimeoutPolicy } from '../policies/timeout/index.js';
import type { DependencySpec, ParsedDependencySpec, SpecContext } from './dependency-spec.js';

// Each policy section accepts its policy's own option list (exported by the policy, checked against its
// options type), less the options the wall supplies itself: the section types of DependencySpec are built
// from the same lists, so the type and the runtime check cannot drift apart.
/** Options every policy section leaves to the wall. */
export const SUPPLIED = ['clock', 'name'] as const;
/** The retry section also leaves `minAttemptTime` (the wall's expected attempt time). */
export const RETRY_SUPPLIED = [...SUPPLIED, 'minAttemptTime'] as const;
/** The waiting-room options an adaptive limit takes beside `adaptive`. */
export const WAITING = ['queue', 'queueTimeout', 'priority'] as const;
const RETRY_SECTION = optionNamesWithout(RETRY_OPTION_NAMES, RETRY_SUPPLIED);
const BREAKER_SECTION = optionNamesWithout(BREAKER_OPTION_NAMES, SUPPLIED);
const BULKHEAD_SECTION = optionNamesWithout(BULKHEAD_OPTION_NAMES, SUPPLIED);
const ADAPTIVE_SECTION = optionNamesWithout(ADAPTIVE_CONCURRENCY_OPTION_NAMES, [...SUPPLIED, ...WAITING]);
const CACHE_SECTION = optionNamesWithout(CACHE_OPTION_NAMES, ['clock']);

/** A concurrency limit: a bulkhead, or an adaptive limit with its waiting room. */
export function parseConcurrency(name: string, value: unknown, clock: Clock, out: ParsedDependencySpec): void {
  const field = `${name}.concurrency`;
  if (!isPlainObject(value)) throw configError(field, '{ limit, queue?, queueTimeout?, priority? } or false', value);
  // call classes are on unless `priority: false` (see docs/priority.md); checked here to name the dependency
  priorityOption(`${field}.priority`, value.priority);
  const waiting = () => ({
    ...(value.queue === undefined ? {} : { queue: intOption(`${field}.queue`, value.queue, 0) }),
    ...(value.queueTimeout === undefined ? {} : { queueTimeout: timerDurationOption(`${field}.queueTimeout`, value.queueTimeout) }),
    ...(value.priority === undefined ? {} : { priority: value.priority as NonNullable<BulkheadOptions['priority']> }),
  });
  if (value.adaptive !== undefined) {
    objectOption(field, value, ['adaptive', ...WAITING]);
    const tuning = value.adaptive === true ? {} : objectOption(`${field}.adaptive`, value.adaptive, ADAPTIVE_SECTION);
    const adaptive = prefixed(name, () => new AdaptiveConcurrencyPolicy({ ...tuning, ...waiting(), clock, name }));
    out.adaptive = adaptive;
    out.policies.push(adaptive);
    out.boundaries.concurrency = {
      adaptive: true,
      min: adaptive.limiter.min,
      max: adaptive.limiter.max,
      queue: adaptive.bulkhead.maxQueued,
      priority: adaptive.bulkhead.priority,
    };
  } else {
    objectOption(field, value, BULKHEAD_SECTION);
    const bulkhead = new BulkheadPolicy({ limit: intOption(`${field}.limit`, value.limit, 1), ...waiting(), clock, name });
    out.bulkhead = bulkhead;
    out.policies.push(bulkhead);
    out.boundaries.concurrency = { limit: bulkhead.limit, queue: bulkhead.maxQueued, priority: bulkhead.priority };
  }
}

/** The circuit breaker, on unless `false` (with `circuitBreaker()`'s defaults). */
export function parseBreaker(name: string, value: unknown, clock: Clock, out: ParsedDependencySpec): void {
  const options = objectOption(`${name}.breaker`, value, BREAKER_SECTION);
  const breaker = prefixed(name, () => new CircuitBreakerPolicy({ ...options, clock, name }));
  out.breaker = breaker;
  out.policies.push(breaker);
  out.boundaries.breaker = {
    failureRate: breaker.failureRate,
    minimumCalls: breaker.minimumCalls,
    probes: breaker.probes,
    window: breaker.windowKind(),
    ...(breaker.windowKind().kind === 'time' ? { windowMs: (breaker.windowKind() as { ms: number }).ms } : {}),
    ...(typeof options.halfOpenAfter === 'function' ? {} : { halfOpenAfterMs: tryParseDuration(options.halfOpenAfter) ?? 5000 }),
    ...(Number.isFinite(breaker.slowOverMs) ? { slowCall: { overMs: breaker.slowOverMs, rate: breaker.slowRate } } : {}),
  };
}

/** Retries are off unless asked for, except on deferrable dependencies (5 attempts by default). */
export function parseRetry(name: string, value: DependencySpec['retry'], clock: Clock, out: ParsedDependencySpec): void {
  const defaultRetry = out.criticality === 'deferrable' ? { attempts: 5 } : undefined;
  const retry = value === false ? undefined : value === undefined ? defaultRetry : value;
  if (retry === undefined) return;
  const options = objectOption(`${name}.retry`, retry, RETRY_SECTION);
  // null, 0, NaN or true are refused (naming `<name>.retry.budget`), never read as the default budget
  const budget = prefixed(name, () => budgetOption('retry.budget', options.budget, clock));
  const policy = prefixed(name, () => new RetryPolicy({ ...(options as RetryOptions), budget: budget ?? false, clock, name }));
  if (budget !== undefined) out.budget = budget;
  out.retry = policy;
  out.policies.push(policy);
  out.boundaries.retry = {
    attempts: policy.attempts,
    backoff: backoffBounds(options.backoff),
    ...(budget ? { budget: { ratio: budget.ratio, minPerSecond: budget.minPerSecond } } : {}),
  };
}

/** Per-attempt timeout, 10s unless given: no dependency call waits forever. */
export function parseTimeout(name: string, value: unknown, env: SpecContext, out: ParsedDependencySpec): void {
  const timeoutMs = value === undefined ? 10_000 : timerDurationOption(`${name}.timeout`, value);
  out.timeoutMs = timeoutMs;
  out.timeout = new TimeoutPolicy(timeoutMs, { clock: env.clock, name, scheduler: env.scheduler });
  out.policies.push(out.timeout);
  out.boundaries.timeoutMs = timeoutMs;
}

/** Values by `key` (see `DependencySpec.cache`). */
export function parseCache(name: string, value: unknown, clock: Clock, out: ParsedDependencySpec): void {
  const options = objectOption(`${name}.cache`, value, CACHE_SECTION);
  const cache = prefixed(name, () => new FreshnessCache({ ...options, clock } as never));
  out.cache = cache;
  out.boundaries.cache = { freshMs: cache.freshMs, staleMs: cache.staleMs };
}

/** Adds the dependency's name to the field of a policy's configuration error. */
function prefixed<T>(name: string, build: () => T): T {
  try {
    return build();
  } catch (e) {
    if (e instanceof BlastwallError && e.code === 'CONFIG_INVALID') {
      const msg = e.message.replace(/`(retry|breaker|concurrency|timeout|cache)/, `\`${name}.$1`);
      throw new BlastwallError('CONFIG_INVALID', msg, { details: e.details });
    }
    throw e;
  }
}

/**
 * The waits between attempts as the audit reads them: the first wait and the cap (exponential from 50ms to
 * 30s by default; a constant delay is both; a schedule function is unknown, reported as 0).
 */
function backoffBounds(spec: unknown): { baseMs: number; maxMs: number } {
  if (spec === undefined) return { baseMs: 50, maxMs: 30_000 };
  if (typeof spec === 'number' || typeof spec === 'string') {
    const ms = tryParseDuration(spec) ?? 0;
    return { baseMs: ms, maxMs: ms };
  }
  if (isPlainObject(spec)) {
    const base = spec.base === undefined ? 50 : (tryParseDuration(spec.base) ?? 0);
    if (spec.kind === 'constant') return { baseMs: base, maxMs: base };
    return { baseMs: base, maxMs: spec.max === undefined ? 30_000 : (tryParseDuration(spec.max) ?? base) };
  }
  return { baseMs: 0, maxMs: 0 };
}
