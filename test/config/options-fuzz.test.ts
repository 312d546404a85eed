/**
 * Issue 17, must-show 4: every factory's options, fuzzed. Each generated input either builds, or throws
 * `BlastwallError` `CONFIG_INVALID` whose message names the field (by its path) — never a TypeError, never a
 * silent default. An independent oracle knows, for each simple field, which values are valid: when a
 * generated value is invalid, the factory must refuse it and name that field (or another invalid one).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BlastwallError,
  RetryBudget,
  adaptiveConcurrency,
  bulkhead,
  cache,
  circuitBreaker,
  fallback,
  retry,
  retryBudget,
  throttle,
  timeout,
} from '../../src/index.js';
import { tryParseDuration } from '../../src/core/duration.js';
import { MAX_TIMER_MS } from '../../src/core/validate.js';
import { FakeClock } from '../../src/testing/index.js';
import { createFetch } from '../../src/http/fetch.js';
import { createTimeline } from '../../src/timeline/index.js';
import { createWall } from '../../src/wall/index.js';

/** What a field accepts. `any` fields are fuzzed too, but without a validity oracle. */
export type Kind =
  | { k: 'duration'; min: number; max?: number }
  | { k: 'int'; min: number; max?: number }
  | { k: 'number'; min: number }
  | { k: 'ratio'; zero?: boolean }
  | { k: 'bool' }
  | { k: 'fn' }
  | { k: 'clock' }
  | { k: 'name' }
  | { k: 'enum'; values: string[] }
  /** `bad`, when given, says which values are certainly invalid (the factory must refuse them). */
  | { k: 'any'; valid: fc.Arbitrary<unknown>; bad?: (v: unknown) => boolean };

export const duration = (min = 1, max?: number): Kind => (max === undefined ? { k: 'duration', min } : { k: 'duration', min, max });
export const timerDuration = (min = 1): Kind => ({ k: 'duration', min, max: MAX_TIMER_MS });

/** The oracle: is `v` valid for `kind`? (`undefined` means "not given" and is always valid.) */
export function isValid(kind: Kind, v: unknown): boolean {
  if (v === undefined) return true;
  switch (kind.k) {
    case 'duration': {
      const ms = tryParseDuration(v);
      return ms !== undefined && ms >= kind.min && ms <= (kind.max ?? Number.POSITIVE_INFINITY);
    }
    case 'int':
      return typeof v === 'number' && Number.isInteger(v) && v >= kind.min && v <= (kind.max ?? Number.MAX_SAFE_INTEGER);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v) && v >= kind.min;
    case 'ratio':
      return typeof v === 'number' && v <= 1 && (kind.zero ? v >= 0 : v > 0);
    case 'bool':
      return typeof v === 'boolean';
    case 'fn':
      return typeof v === 'function';
    case 'clock':
      return v instanceof FakeClock;
    case 'name':
      return typeof v === 'string' && v.length > 0;
    case 'enum':
      return typeof v === 'string' && kind.values.includes(v);
    case 'any':
      return kind.bad === undefined || !kind.bad(v);
  }
}

const plain = (v: unknown): boolean => v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype;
const durationIn = (v: unknown, min: number, max = Number.POSITIVE_INFINITY) => {
  const ms = tryParseDuration(v);
  return ms !== undefined && ms >= min && ms <= max;
};

const garbage: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, -0, -1, 0.5, 1.5, Number.NaN, Number.POSITIVE_INFINITY, -Number.POSITIVE_INFINITY, 1e308, 2 ** 31, 1e21),
  fc.constantFrom('', 'abc', '5s', '30d', '0ms', '-5s', '1e3ms', '10', ' 2m ', '99999999999999999999999999d', 'NaN'),
  fc.integer({ min: -10, max: 5000 }),
  fc.double({ noNaN: false }),
  fc.constantFrom({}, [], [1], { a: 1 }, { calls: 0 }, { now: 5 }, Object.create(null) as object, new Date(0)),
  fc.constantFrom(
    () => undefined,
    () => {
      throw new Error('x');
    },
    () => Number.NaN,
  ),
  fc.constant(10n),
  fc.constant(Symbol('s')),
);

/** Plausible valid values of a kind, so the fuzz also covers inputs that should build. */
export function validOf(kind: Kind): fc.Arbitrary<unknown> {
  switch (kind.k) {
    case 'duration': {
      const hi = Math.min(kind.max ?? 1e9, 1e9);
      return fc.oneof(
        fc.integer({ min: Math.ceil(kind.min), max: Math.max(Math.ceil(kind.min), hi) }),
        fc.constantFrom(`${Math.max(kind.min, 1)}ms`, '2s', '1m').filter((s) => isValid(kind, s)),
      );
    }
    case 'int':
      return fc.integer({ min: kind.min, max: Math.min(kind.max ?? kind.min + 1000, kind.min + 1000) });
    case 'number':
      return fc.double({ min: kind.min, max: kind.min + 100, noNaN: true });
    case 'ratio':
      return fc.double({ min: kind.zero ? 0 : 0.01, max: 1, noNaN: true });
    case 'bool':
      return fc.boolean();
    case 'fn':
      return fc.constant(() => true);
    case 'clock':
      return fc.constant(new FakeClock());
    case 'name':
      return fc.constantFrom('payments', 'x');
    case 'enum':
      return fc.constantFrom(...kind.values);
    case 'any':
      return kind.valid;
  }
}

/** A value for a field: absent, valid, or garbage. */
function valueFor(kind: Kind): fc.Arbitrary<unknown> {
  return fc.oneof({ arbitrary: fc.constant(undefined), weight: 2 }, { arbitrary: validOf(kind), weight: 3 }, { arbitrary: garbage, weight: 2 });
}

/** Options for a schema: each field absent, valid or garbage; now and then an unknown key. */
export function optionsFor(schema: Record<string, Kind>): fc.Arbitrary<Record<string, unknown>> {
  const fields = Object.fromEntries(Object.entries(schema).map(([k, kind]) => [k, valueFor(kind)]));
  return fc.tuple(fc.record(fields), fc.option(fc.constantFrom('retries', 'timeot', '__proto__x'), { freq: 8 })).map(([o, extra]) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
    if (extra !== null) out[extra] = 1;
    return out;
  });
}

/** True when `message` names `key` as a field: `key`, `some.path.key` or a field inside it (`key.over`) in backticks. */
export function names(message: string, key: string): boolean {
  const escaped = key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`\`([^\`]*[. ])?${escaped}(\\.[^\`]*)?\``).test(message);
}

/**
 * The property: `build(options)` builds, or throws CONFIG_INVALID naming a field. When the oracle finds
 * invalid fields (or an unknown key), building must fail and name one of them.
 */
export function checkBuild(
  schema: Record<string, Kind>,
  options: Record<string, unknown>,
  build: (o: Record<string, unknown>) => unknown,
  also: readonly string[] = [],
): void {
  const invalid = Object.keys(options).filter((k) => !(k in schema) || !isValid(schema[k]!, options[k]));
  let error: unknown;
  try {
    build(options);
  } catch (e) {
    error = e;
  }
  if (error === undefined) {
    if (invalid.length > 0) throw new Error(`built although ${invalid.map((k) => `\`${k}\``).join(', ')} is invalid: ${describeOptions(options)}`);
    return;
  }
  if (!(error instanceof BlastwallError) || error.code !== 'CONFIG_INVALID') {
    throw new Error(`threw ${String(error)} instead of CONFIG_INVALID for ${describeOptions(options)}`, { cause: error });
  }
  // an invalid field must be named; fields without an oracle (`any`) and cross-field partners may be named instead
  const unjudged = Object.keys(options).filter((k) => schema[k]?.k === 'any');
  const named = invalid.length > 0 ? [...invalid, ...unjudged, ...also] : [...Object.keys(options), ...also];
  if (!named.some((k) => names(error.message, k))) {
    throw new Error(`the message "${error.message}" names none of ${named.join(', ')} for ${describeOptions(options)}`);
  }
}

function describeOptions(o: Record<string, unknown>): string {
  return `{ ${Object.entries(o)
    .map(([k, v]) => `${k}: ${typeof v === 'function' ? 'fn' : typeof v === 'bigint' ? `${v}n` : typeof v === 'symbol' ? 'symbol' : JSON.stringify(v)}`)
    .join(', ')} }`;
}

const RUNS = { numRuns: 300, seed: 17 };

const common = { clock: { k: 'clock' } as Kind, name: { k: 'name' } as Kind };

const factories: [string, Record<string, Kind>, (o: Record<string, unknown>) => unknown, string[]?][] = [
  ['timeout options', { clock: common.clock, name: common.name }, (o) => timeout('1s', o as never)],
  [
    'retry',
    {
      attempts: { k: 'int', min: 1, max: 100 },
      backoff: {
        k: 'any',
        valid: fc.constantFrom(100, '1s', { base: '10ms', max: '1s' }, { kind: 'constant', base: 5 }, () => () => 1),
        bad: (v) => typeof v !== 'function' && !plain(v) && !durationIn(v, 0, MAX_TIMER_MS),
      },
      maxElapsed: duration(1),
      minAttemptTime: duration(0),
      retryOn: { k: 'fn' },
      retryOnResult: { k: 'fn' },
      budget: { k: 'any', valid: fc.constantFrom(false, { ratio: 0.2 }, {}, new RetryBudget()), bad: (v) => v !== false && !(v instanceof RetryBudget) && !plain(v) },
      random: { k: 'fn' },
      ...common,
    },
    (o) => retry(o as never),
  ],
  [
    'retry.budget',
    { ratio: { k: 'ratio', zero: true }, minPerSecond: { k: 'number', min: 0 }, window: duration(100), clock: common.clock },
    (o) => retryBudget(o as never),
  ],
  [
    'breaker',
    {
      failureRate: { k: 'ratio' },
      slowCall: { k: 'any', valid: fc.constantFrom({ over: '1s', rate: 0.5 }), bad: (v) => !plain(v) },
      window: { k: 'any', valid: fc.constantFrom('30s', 1000, { calls: 100 }), bad: (v) => !plain(v) && !durationIn(v, 10) },
      minimumCalls: { k: 'int', min: 1, max: 100 },
      halfOpenAfter: { k: 'any', valid: fc.constantFrom('5s', 100, () => 1), bad: (v) => typeof v !== 'function' && !durationIn(v, 1) },
      probes: { k: 'int', min: 1, max: 10_000 },
      probeSuccesses: { k: 'any', valid: fc.constant(1) },
      isFailure: { k: 'fn' },
      ...common,
    },
    (o) => circuitBreaker(o as never),
  ],
  [
    'concurrency',
    { limit: { k: 'int', min: 1 }, queue: { k: 'int', min: 0 }, queueTimeout: timerDuration(1), ...common },
    (o) => bulkhead({ limit: 4, ...o } as never),
  ],
  [
    'cache',
    {
      fresh: duration(0),
      stale: duration(0),
      revalidate: { k: 'bool' },
      jitter: { k: 'ratio', zero: true },
      maxEntries: { k: 'int', min: 1 },
      maxBytes: { k: 'int', min: 1 },
      sizeOf: { k: 'fn' },
      shared: { k: 'any', valid: fc.constant({ get: () => Promise.resolve(undefined), set: () => Promise.resolve() }), bad: (v) => !plain(v) },
      clock: common.clock,
      random: { k: 'fn' },
    },
    (o) => cache({ stale: '1m', ...o } as never),
    ['stale'],
  ],
  ['fallback', { handles: { k: 'fn' }, clock: common.clock }, (o) => fallback('x', o as never)],
  ['throttle', { k: { k: 'number', min: 1 }, window: duration(1000), isRejection: { k: 'fn' }, random: { k: 'fn' }, ...common }, (o) => throttle(o as never)],
  [
    'adaptive concurrency',
    {
      initial: { k: 'any', valid: fc.constant(10), bad: (v) => !Number.isInteger(v) },
      min: { k: 'any', valid: fc.integer({ min: 1, max: 5 }), bad: (v) => !(Number.isInteger(v) && (v as number) >= 1) },
      max: { k: 'any', valid: fc.integer({ min: 50, max: 100 }), bad: (v) => !(Number.isInteger(v) && (v as number) >= 1) },
      tolerance: { k: 'number', min: 1 },
      smoothing: { k: 'ratio' },
      longWindow: { k: 'int', min: 10 },
      queue: { k: 'int', min: 0 },
      queueTimeout: timerDuration(1),
      ...common,
    },
    (o) => adaptiveConcurrency(o as never),
  ],
];

describe('options fuzz: every factory builds or throws CONFIG_INVALID naming the field', () => {
  it.each(factories)('%s', (_name, schema, build, also) => {
    fc.assert(
      fc.property(optionsFor(schema), (o) => checkBuild(schema, o, build, also)),
      RUNS,
    );
  });

  it('a non-object options argument is CONFIG_INVALID, never a TypeError', () => {
    const builders = [(o: unknown) => retry(o as never), (o: unknown) => circuitBreaker(o as never), (o: unknown) => bulkhead(o as never), (o: unknown) => cache(o as never), (o: unknown) => throttle(o as never), (o: unknown) => adaptiveConcurrency(o as never), (o: unknown) => timeout('1s', o as never), (o: unknown) => fallback(1, o as never), (o: unknown) => retryBudget(o as never)];
    fc.assert(
      fc.property(fc.constantFrom(...builders), garbage.filter((g) => g !== undefined && (g === null || typeof g !== 'object' || Array.isArray(g) || g instanceof Date)), (build, g) => {
        try {
          build(g);
        } catch (e) {
          expect(e).toBeInstanceOf(BlastwallError);
          expect((e as BlastwallError).code).toBe('CONFIG_INVALID');
          return;
        }
        throw new Error('built from a non-object');
      }),
      RUNS,
    );
  });

  it('a timeout duration is validated with its bound', () => {
    fc.assert(
      fc.property(fc.oneof(garbage, validOf(timerDuration(1))), (d) =>
        checkBuild({ timeout: timerDuration(1) }, d === undefined ? {} : { timeout: d }, (o) => ('timeout' in o ? timeout(o.timeout as never) : undefined)),
      ),
      RUNS,
    );
  });
});

// ---- the wall: createWall, wall.dependency (each section), wall.operation, createTimeline ----

const bad = (valid: fc.Arbitrary<unknown>, isBad: (v: unknown) => boolean): Kind => ({ k: 'any', valid, bad: isBad });
const notPlainOr = (...ok: unknown[]) => (v: unknown) => !plain(v) && !ok.includes(v);

/** Builds on a fresh wall (fake clock: no real timers) and closes it. */
function onWall(build: (w: ReturnType<typeof createWall>) => unknown): void {
  const w = createWall({ service: 'fuzz', clock: new FakeClock() });
  try {
    build(w);
  } finally {
    void w.close();
  }
}

const wallFactories: [string, Record<string, Kind>, (o: Record<string, unknown>) => unknown, string[]?][] = [
  [
    'createWall',
    {
      service: { k: 'name' },
      clock: common.clock,
      healthInterval: timerDuration(10),
      closeGrace: timerDuration(0),
      drift: bad(fc.constantFrom(false, {}, { raiseAt: 0.8 }), notPlainOr(false)),
      timeline: bad(fc.constant({ record: () => undefined }), (v) => !plain(v) || typeof (v as { record?: unknown }).record !== 'function'),
    },
    (o) => {
      const w = createWall({ service: 'fuzz', clock: new FakeClock(), ...o } as never);
      void w.close();
    },
  ],
  [
    'wall.dependency',
    {
      criticality: { k: 'enum', values: ['core', 'optional', 'deferrable'] },
      timeout: bad(fc.constantFrom(false, '1s', 500), (v) => v !== false && !durationIn(v, 1, MAX_TIMER_MS)),
      retry: bad(fc.constantFrom(false, {}, { attempts: 2 }), notPlainOr(false)),
      breaker: bad(fc.constantFrom(false, {}, { failureRate: 0.5 }), notPlainOr(false)),
      concurrency: bad(fc.constantFrom(false, { limit: 4 }, { adaptive: true }), notPlainOr(false)),
      failOnResult: bad(fc.constantFrom(false, () => false), (v) => v !== false && typeof v !== 'function'),
      quarantine: { k: 'fn' },
      fallback: { k: 'any', valid: fc.constantFrom('x', () => 'y') },
      cache: bad(fc.constant({ stale: '1m' }), (v) => !plain(v)),
      payload: bad(fc.constantFrom({}, { maxRequestBytes: 10 }), (v) => !plain(v)),
      slo: bad(fc.constantFrom({}, { availability: 0.99 }), (v) => !plain(v)),
      deferred: { k: 'any', valid: fc.constant(undefined) },
      health: bad(fc.constantFrom({}, { minimumCalls: 5 }), (v) => !plain(v)),
    },
    (o) => onWall((w) => w.dependency('p', o as never)),
    ['fallback', 'deferred', 'criticality'],
  ],
  [
    'wall.dependency retry',
    Object.fromEntries(Object.entries(factories.find(([n]) => n === 'retry')![1]).filter(([k]) => !['clock', 'name', 'minAttemptTime'].includes(k))),
    (o) => onWall((w) => w.dependency('p', { retry: o } as never)),
  ],
  [
    'wall.dependency breaker',
    Object.fromEntries(Object.entries(factories.find(([n]) => n === 'breaker')![1]).filter(([k]) => !['clock', 'name'].includes(k))),
    (o) => onWall((w) => w.dependency('p', { breaker: o } as never)),
  ],
  [
    'wall.dependency concurrency',
    { limit: { k: 'int', min: 1 }, queue: { k: 'int', min: 0 }, queueTimeout: timerDuration(1) },
    (o) => onWall((w) => w.dependency('p', { concurrency: { limit: 2, ...o } } as never)),
  ],
  [
    'wall.dependency cache',
    Object.fromEntries(Object.entries(factories.find(([n]) => n === 'cache')![1]).filter(([k]) => !['clock', 'random', 'sizeOf'].includes(k))),
    (o) => onWall((w) => w.dependency('p', { cache: { stale: '1m', ...o } } as never)),
    ['stale'],
  ],
  [
    'wall.dependency payload',
    { maxRequestBytes: { k: 'int', min: 1 }, maxResponseBytes: { k: 'int', min: 1 }, measure: { k: 'fn' } },
    (o) => onWall((w) => w.dependency('p', { payload: o } as never)),
  ],
  [
    'wall.dependency health',
    {
      window: duration(1000),
      minimumCalls: { k: 'int', min: 1 },
      retryRatio: { k: 'ratio' },
      unavailableRatio: { k: 'ratio' },
      corruptRatio: { k: 'ratio' },
      exitFactor: { k: 'ratio' },
      minDwellMs: duration(0),
    },
    (o) => onWall((w) => w.dependency('p', { health: o } as never)),
  ],
  [
    'createFetch',
    {
      fetch: { k: 'fn' },
      clock: common.clock,
      propagatePriority: { k: 'bool' },
      failOnResult: bad(fc.constantFrom(false, () => true), (v) => v !== false && typeof v !== 'function'),
      throwOn5xx: { k: 'bool' },
    },
    (o) => createFetch(o as never),
  ],
  [
    'wall.operation',
    {
      priority: { k: 'enum', values: ['critical-plus', 'critical', 'sheddable-plus', 'sheddable'] },
      deadline: duration(1),
      slo: bad(fc.constant({ availability: 0.99 }), (v) => !plain(v)),
      capability: { k: 'name' },
    },
    (o) => onWall((w) => w.operation('op', o as never)),
  ],
];

describe('options fuzz: the wall', () => {
  it.each(wallFactories)('%s', (_name, schema, build, also) => {
    fc.assert(
      fc.property(optionsFor(schema), (o) => checkBuild(schema, o, build, also)),
      { numRuns: 150, seed: 17 },
    );
  });

  it('createTimeline (in memory)', () => {
    const schema: Record<string, Kind> = { clock: common.clock, service: { k: 'name' }, bufferSize: { k: 'any', valid: fc.constantFrom(10, 1000) }, flushEvery: { k: 'any', valid: fc.constantFrom('200ms', 50) } };
    fc.assert(
      fc.property(optionsFor(schema), (o) =>
        checkBuild(schema, o, (opts) => {
          const t = createTimeline({ ...opts, path: ':memory:' } as never);
          void t.close();
        }),
      ),
      { numRuns: 40, seed: 17 },
    );
  });
});
