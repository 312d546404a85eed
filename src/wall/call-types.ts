import type { BlastwallError } from '../core/errors.js';
import type { Criticality } from './dependency-spec.js';

/**
 * Where an {@link Outcome}'s value came from: `live` (the dependency answered this call), `cache` (the
 * dependency's cache, fresh or stale) or `fallback` (the dependency's or the call's fallback).
 */
export type Source = 'live' | 'cache' | 'fallback';

/** The result of `attempt()`: never thrown, always described. */
export interface Outcome<T> {
  ok: boolean;
  /** The live value, a cached one, or the fallback (undefined only when a core call failed). */
  value: T;
  source: Source;
  /** Age of the value in ms (0 for live and fallback values). */
  ageMs: number;
  /** True when the caller got something other than a fresh live answer because of a fault. */
  degraded: boolean;
  error?: BlastwallError;
}

/**
 * Per-call options of `dependency.call(fn, options)` and `dependency.attempt(fn, options)`; each overrides
 * or adds to the dependency's spec for this one call.
 */
export interface CallOptions<T = unknown> {
  /**
   * Overrides the dependency's criticality for this call site: e.g. `'core'` on the one page that cannot
   * render without a dependency declared `optional`. Decides how a failure reaches the caller (see
   * {@link Criticality}).
   */
  criticality?: Criticality;
  /**
   * Overrides the fallback for this call site: a value, or a function of the error that produces one. Given
   * here, it is served on failure even for a `core` call through `attempt()`. If the function throws, the
   * outcome fails with `CALLBACK_FAILED`.
   */
  fallback?: T | ((error: BlastwallError) => T);
  /** The caller's own abort signal: aborting it rejects the call at once with `ABORTED` and aborts the attempt's signal. */
  signal?: AbortSignal;
  /** Cache key, when the dependency has a `cache`: calls with the same key share values. Default `''` (one value for every call). */
  key?: string;
  /**
   * The request payload, measured against the dependency's `payload.maxRequestBytes` (by `payload.measure`;
   * default: bytes of a string, buffer or its JSON text): a larger one is refused with `PAYLOAD_TOO_LARGE`
   * without calling. Ignored when no limit is set.
   */
  request?: unknown;
}
