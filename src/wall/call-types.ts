import type { BlastwallError } from '../core/errors.js';
import type { Criticality } from './dependency-spec.js';

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

export interface CallOptions<T = unknown> {
  /** Overrides the dependency's criticality for this call site. */
  criticality?: Criticality;
  /** Overrides the fallback for this call site. */
  fallback?: T | ((error: BlastwallError) => T);
  /** The caller's own abort signal. */
  signal?: AbortSignal;
  /** Cache key (with `cache`). */
  key?: string;
  /** The request payload, measured against `payload.maxRequestBytes`. */
  request?: unknown;
}
