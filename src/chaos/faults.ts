/**
 * Fault definitions: what an injected misbehaviour does to one attempt of a dependency call. Each fault is
 * validated once, when it is declared (`CONFIG_INVALID` naming the field), and compiled into an `Effect`
 * that wraps the user's function for the attempts it hits.
 */
import { sleep, type Clock } from '../core/clock.js';
import type { AttemptContext, AttemptFn } from '../core/context.js';
import { type Duration, durationOption, formatDuration } from '../core/duration.js';
import { configError, enumOption, intOption, isPlainObject, objectOption, stringOption } from '../core/validate.js';
import { logNormalFrom } from './random.js';

/** The `kind` of a {@link Fault}. */
export type FaultKind = 'latency' | 'error' | 'hang' | 'corrupt' | 'flap' | 'slowDrip';
/** Every {@link FaultKind}, e.g. to validate a kind read from a request or a file. */
export const FAULT_KINDS: readonly FaultKind[] = ['latency', 'error', 'hang', 'corrupt', 'flap', 'slowDrip'];

/** Added latency: fixed (`delay`) or log-normal through two quantiles (`p50`, `p99`). The real call runs after it. */
export type LatencyFault = { kind: 'latency'; delay: Duration } | { kind: 'latency'; p50: Duration; p99: Duration };

/**
 * The attempt fails. `error`: the Error thrown (a function makes a fresh one per attempt; a string is the
 * message). `status`: an HTTP answer, as a `fetch`/`createFetch` call would get it — the attempt resolves
 * with a synthetic `Response` of that status (with `Retry-After` from `retryAfter`), which the wall's
 * `failOnResult` (default: 5xx and 429 fail, `Retry-After` honoured) and `createFetch` turn into a failure.
 */
export interface ErrorFault {
  kind: 'error';
  /**
   * What is thrown: an Error (the same instance every attempt), a message (a fresh `InjectedFaultError`
   * per attempt), or a function returning a fresh Error per attempt (anything else it returns is wrapped
   * in an `InjectedFaultError`). Default an `InjectedFaultError` "injected fault: error". Not with `status`.
   */
  error?: Error | string | (() => Error);
  /** An HTTP status (400–599) to answer with instead of throwing. */
  status?: number;
  /** With `status` only: the `Retry-After` of the answer (up to 1 day; sent in whole seconds, rounded up). */
  retryAfter?: Duration;
}

/** The attempt never settles until its signal aborts (timeout, deadline, caller) or the fault ends. */
export interface HangFault {
  kind: 'hang';
}

/**
 * The real call runs, then its value is replaced: by `replace` (a value, or a function of the real value),
 * or by default by a value of another shape (an array becomes an object, an object an array, a string a
 * number...), which fails any validator that checks the shape.
 */
export interface CorruptFault {
  kind: 'corrupt';
  replace?: unknown;
}

/** Down then up, on a period: `down` (a duration, default half the period) of `fault` (default an error), then up. */
export interface FlapFault {
  kind: 'flap';
  period: Duration;
  down?: Duration;
  fault?: Exclude<Fault, FlapFault>;
}

/** Latency growing linearly from `from` (default 0) at the start of the window to `to` at its end: drift on purpose. */
export interface SlowDripFault {
  kind: 'slowDrip';
  from?: Duration;
  to: Duration;
}

/**
 * An injected misbehaviour of one dependency, applied to each attempt it hits (see `InjectOptions.rate`).
 * Validated when injected (`CONFIG_INVALID` naming the field). Build one with the {@link fault} shorthands
 * or write the object.
 */
export type Fault = LatencyFault | ErrorFault | HangFault | CorruptFault | FlapFault | SlowDripFault;

/** An error thrown by an injected fault (a real fault would throw its own error at the same place). */
export class InjectedFaultError extends Error {
  override readonly name: string = 'InjectedFaultError';
  readonly injected = true;
  constructor(
    message: string,
    readonly fault: FaultKind,
  ) {
    super(message);
  }
}

/** What a compiled fault needs from the running injection. */
export interface EffectEnv {
  /** The wall's clock: delays are slept on it (a `FakeClock` in tests). */
  readonly clock: Clock;
  /** Uniform numbers in [0, 1) for sampling (log-normal latency); seeded, so a drill replays the same. */
  readonly random: () => number;
  /** When the injection started (ms, on `clock`): `flap` counts its periods from it. */
  readonly startedAt: number;
  /** When the injection ends (ms, on `clock`): `slowDrip` reaches `to` at it. */
  readonly endsAt: number;
  /** Registers a function called once when the injection ends; returns its disposer. */
  onEnd(fn: () => void): () => void;
}

/** A compiled fault: runs one affected attempt. */
export type Effect = (ctx: AttemptContext, fn: AttemptFn<unknown>, env: EffectEnv) => Promise<unknown>;

/** A validated fault, ready to run: what the injector applies and what its events and reports show. */
export interface CompiledFault {
  readonly kind: FaultKind;
  /** For people: `error 503 (Retry-After 2s)`, `latency p50 200ms / p99 2s`. */
  readonly description: string;
  /** A JSON form of the fault (functions shown by name), for events and reports. */
  readonly json: Record<string, unknown>;
  /** Runs one affected attempt in place of the real one (calling it, or not). */
  readonly effect: Effect;
}

function call(fn: AttemptFn<unknown>, ctx: AttemptContext): Promise<unknown> {
  try {
    return Promise.resolve(fn(ctx));
  } catch (err) {
    return Promise.reject(err);
  }
}

function delayed(ms: (env: EffectEnv) => number): Effect {
  return (ctx, fn, env) => sleep(env.clock, ms(env), ctx.signal).then(() => call(fn, ctx));
}

/** A value of another shape than `v`, so a validator of `v`'s shape refuses it. */
export function reshape(v: unknown): unknown {
  if (Array.isArray(v)) return { corrupted: true };
  if (v === null || v === undefined) return ['corrupted'];
  switch (typeof v) {
    case 'string':
      return -1;
    case 'number':
    case 'bigint':
    case 'boolean':
      return 'corrupted';
    default:
      return ['corrupted'];
  }
}

/** Validates a fault (fields named `${field}.x`) and compiles it. Throws `CONFIG_INVALID` on the first bad field. */
export function compileFault(value: unknown, field = 'fault', nested = false): CompiledFault {
  if (!isPlainObject(value)) throw configError(field, `a fault object with a \`kind\` (${FAULT_KINDS.join(', ')})`, value);
  const kinds = nested ? FAULT_KINDS.filter((k) => k !== 'flap') : FAULT_KINDS;
  const kind = enumOption(`${field}.kind`, value.kind, kinds);
  const f = (k: string) => `${field}.${k}`;
  switch (kind) {
    case 'latency': {
      if (value.delay !== undefined) {
        objectOption(field, value, ['kind', 'delay']);
        const ms = durationOption(f('delay'), value.delay, 0);
        return { kind, description: `latency ${formatDuration(ms)}`, json: { kind, delay: ms }, effect: delayed(() => ms) };
      }
      objectOption(field, value, ['kind', 'p50', 'p99']);
      if (value.p50 === undefined) throw configError(f('delay'), "a duration, or `p50` and `p99` (e.g. { p50: '200ms', p99: '2s' })", undefined);
      const p50 = durationOption(f('p50'), value.p50, 1);
      const p99 = durationOption(f('p99'), value.p99, 1);
      if (p99 < p50) throw configError(f('p99'), `a duration ≥ p50 (${formatDuration(p50)})`, value.p99);
      const dist = logNormalFrom(p50, p99);
      return {
        kind,
        description: `latency p50 ${formatDuration(p50)} / p99 ${formatDuration(p99)} (log-normal)`,
        json: { kind, p50, p99 },
        effect: delayed((env) => dist.sample(env.random)),
      };
    }
    case 'error': {
      objectOption(field, value, ['kind', 'error', 'status', 'retryAfter']);
      if (value.status !== undefined) {
        if (value.error !== undefined) throw configError(f('error'), 'absent when `status` is given (an HTTP answer or an Error, not both)', value.error);
        const status = intOption(f('status'), value.status, 400, 599);
        const retryAfterMs = value.retryAfter === undefined ? undefined : durationOption(f('retryAfter'), value.retryAfter, 0, 86_400_000);
        const make = (): Response =>
          new Response(JSON.stringify({ error: 'injected', status }), {
            status,
            headers: { 'content-type': 'application/json', ...(retryAfterMs === undefined ? {} : { 'retry-after': String(Math.ceil(retryAfterMs / 1000)) }) },
          });
        return {
          kind,
          description: `error: HTTP ${status}${retryAfterMs === undefined ? '' : ` (Retry-After ${formatDuration(retryAfterMs)})`}`,
          json: { kind, status, ...(retryAfterMs === undefined ? {} : { retryAfter: retryAfterMs }) },
          effect: () => Promise.resolve(make()),
        };
      }
      if (value.retryAfter !== undefined) throw configError(f('status'), 'an HTTP status (400–599) when `retryAfter` is given', value.status);
      const e = value.error;
      let make: () => Error;
      let shown: string;
      if (e === undefined) {
        make = () => new InjectedFaultError('injected fault: error', 'error');
        shown = 'injected fault: error';
      } else if (typeof e === 'string') {
        stringOption(f('error'), e);
        make = () => new InjectedFaultError(e, 'error');
        shown = e;
      } else if (e instanceof Error) {
        make = () => e;
        shown = `${e.name}: ${e.message}`;
      } else if (typeof e === 'function') {
        const factory = e as () => unknown;
        make = () => {
          const made = factory();
          return made instanceof Error ? made : new InjectedFaultError(String(made), 'error');
        };
        shown = `[function ${factory.name || 'anonymous'}]`;
      } else throw configError(f('error'), 'an Error, a message, or a function returning an Error', e);
      return { kind, description: `error: ${shown}`, json: { kind, error: shown }, effect: () => Promise.reject(make()) };
    }
    case 'hang': {
      objectOption(field, value, ['kind']);
      return { kind, description: 'hang (until the attempt is aborted)', json: { kind }, effect: hang };
    }
    case 'corrupt': {
      objectOption(field, value, ['kind', 'replace']);
      const r = value.replace;
      const replace = r === undefined ? reshape : typeof r === 'function' ? (r as (v: unknown) => unknown) : () => structuredCloneSafe(r);
      return {
        kind,
        description: `corrupt (${r === undefined ? 'reshaped' : typeof r === 'function' ? 'mutated' : 'replaced'} responses)`,
        json: { kind, replace: r === undefined ? 'reshape' : typeof r === 'function' ? 'function' : r },
        effect: (ctx, fn) => call(fn, ctx).then(replace),
      };
    }
    case 'flap': {
      objectOption(field, value, ['kind', 'period', 'down', 'fault']);
      const period = durationOption(f('period'), value.period, 2);
      const down = value.down === undefined ? period / 2 : durationOption(f('down'), value.down, 1, period - 1);
      const inner = value.fault === undefined ? compileFault({ kind: 'error', error: 'injected fault: flap (down)' }, f('fault'), true) : compileFault(value.fault, f('fault'), true);
      return {
        kind,
        description: `flap every ${formatDuration(period)}: ${formatDuration(down)} down (${inner.description}), then up`,
        json: { kind, period, down, fault: inner.json },
        effect: (ctx, fn, env) => ((env.clock.now() - env.startedAt) % period < down ? inner.effect(ctx, fn, env) : call(fn, ctx)),
      };
    }
    case 'slowDrip': {
      objectOption(field, value, ['kind', 'from', 'to']);
      const from = value.from === undefined ? 0 : durationOption(f('from'), value.from, 0);
      const to = durationOption(f('to'), value.to, 0);
      return {
        kind,
        description: `slow drip: latency ${formatDuration(from)} → ${formatDuration(to)} over the window`,
        json: { kind, from, to },
        effect: delayed((env) => {
          const span = env.endsAt - env.startedAt;
          const x = span <= 0 ? 1 : Math.min(1, Math.max(0, (env.clock.now() - env.startedAt) / span));
          return from + (to - from) * x;
        }),
      };
    }
  }
}

function structuredCloneSafe(v: unknown): unknown {
  try {
    return structuredClone(v);
  } catch {
    return v;
  }
}

/** Never settles until the attempt's signal aborts (rejects with its reason) or the injection ends. */
const hang: Effect = (ctx, _fn, env) =>
  new Promise((_resolve, reject) => {
    const signal = ctx.signal;
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      offEnd();
      reject(signal.reason);
    };
    const offEnd = env.onEnd(() => {
      signal.removeEventListener('abort', onAbort);
      reject(new InjectedFaultError('injected hang released: the fault ended while the attempt was waiting', 'hang'));
    });
    signal.addEventListener('abort', onAbort, { once: true });
  });

/** Shorthand constructors: `fault.latency('200ms')`, `fault.status(503, { retryAfter: '2s' })`, ... */
export const fault = {
  /**
   * Delays each attempt, then runs the real call: a fixed `delay` (`'200ms'`, or a number of ms, ≥ 0), or a
   * log-normal delay through `{ p50, p99 }` (each ≥ 1 ms, `p99` ≥ `p50`). The delay is cut short when the
   * attempt is aborted (its timeout, the deadline).
   */
  latency(delay: Duration | { p50: Duration; p99: Duration }): LatencyFault {
    return typeof delay === 'object' ? { kind: 'latency', p50: delay.p50, p99: delay.p99 } : { kind: 'latency', delay };
  },
  /**
   * Each attempt throws: `error` as an Error (the same instance every time), a message, or a function
   * making a fresh Error per attempt. Default an `InjectedFaultError` "injected fault: error".
   */
  error(error?: Error | string | (() => Error)): ErrorFault {
    return error === undefined ? { kind: 'error' } : { kind: 'error', error };
  },
  /**
   * Each attempt resolves with a synthetic HTTP `Response` of `status` (400–599), with `Retry-After` when
   * `options.retryAfter` is given (up to 1 day, sent in whole seconds): what a `fetch` would get from an
   * overloaded or failing server. The wall's `failOnResult` (default: 5xx and 429) makes it a failure.
   */
  status(status: number, options: { retryAfter?: Duration } = {}): ErrorFault {
    return { kind: 'error', status, ...options };
  },
  /**
   * Each attempt never answers: it settles only when aborted (its timeout, the deadline, the caller),
   * rejecting with the abort reason, or when the fault ends (an `InjectedFaultError`).
   */
  hang(): HangFault {
    return { kind: 'hang' };
  },
  /**
   * The real call runs, then its value is replaced: by `replace` (a value, copied per attempt, or a function
   * of the real value), or by default by a value of another shape (an array becomes an object, a string a
   * number, …) so a validator of the shape refuses it.
   */
  corrupt(replace?: unknown): CorruptFault {
    return replace === undefined ? { kind: 'corrupt' } : { kind: 'corrupt', replace };
  },
  /**
   * Down, then up, in turn: each `period` (≥ 2 ms) counted from the injection's start begins with `down`
   * (1 ms to `period` − 1 ms; default half the period) of `fault` (any fault but a flap; default an error),
   * and the rest of the period calls through normally.
   */
  flap(options: { period: Duration; down?: Duration; fault?: Exclude<Fault, FlapFault> }): FlapFault {
    return { kind: 'flap', ...options };
  },
  /**
   * Latency growing linearly from `from` (default 0) when the injection starts to `to` when it ends: a
   * dependency slowly drifting, for drift detection.
   */
  slowDrip(options: { from?: Duration; to: Duration }): SlowDripFault {
    return { kind: 'slowDrip', ...options };
  },
};
