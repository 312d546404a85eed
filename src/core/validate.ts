import type { Clock } from './clock.js';
import { BlastwallError } from './errors.js';

/** The longest delay a timer can wait: setTimeout's limit, 2^31−1 ms (about 24.8 days). Longer ones fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Renders a given value for an error message: `-5` (number), `"abc"` (string). */
export function describe(value: unknown): string {
  let shown: string;
  if (typeof value === 'string') shown = JSON.stringify(value);
  else if (typeof value === 'function') shown = `[function ${value.name || 'anonymous'}]`;
  else if (typeof value === 'bigint') shown = `${value}n`;
  else if (typeof value === 'symbol') shown = value.toString();
  else if (value !== null && typeof value === 'object') {
    try {
      shown = JSON.stringify(value);
    } catch {
      shown = Object.prototype.toString.call(value);
    }
    if (shown.length > 80) shown = `${shown.slice(0, 77)}...`;
  } else shown = String(value);
  const kind = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  return `\`${shown}\` (${kind})`;
}

/** The one error for bad configuration: ``Expected `field` to be <expectation>, got `value` (type)``. */
export function configError(field: string, expectation: string, value: unknown): BlastwallError {
  return new BlastwallError('CONFIG_INVALID', `Expected \`${field}\` to be ${expectation}, got ${describe(value)}`, {
    details: { field, expectation },
  });
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Validates that `value` is an object whose keys are all known. `undefined` becomes `{}`. */
export function objectOption(field: string, value: unknown, known: readonly string[]): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isPlainObject(value)) throw configError(field, 'an object', value);
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new BlastwallError(
        'CONFIG_INVALID',
        `Unknown option \`${field ? `${field}.` : ''}${key}\`; expected one of ${known.map((k) => `\`${k}\``).join(', ')}`,
        { details: { field: field ? `${field}.${key}` : key } },
      );
    }
  }
  return value;
}

export function intOption(field: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `between ${min} and ${max}`;
    throw configError(field, `an integer ${range}`, value);
  }
  return value;
}

export function numberOption(field: string, value: unknown, min: number, max = Number.POSITIVE_INFINITY): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    const range = max === Number.POSITIVE_INFINITY ? `≥ ${min}` : `between ${min} and ${max}`;
    throw configError(field, `a finite number ${range}`, value);
  }
  return value;
}

/** A finite number > 0 (and ≤ `max` when given). */
export function positiveOption(field: string, value: unknown, max = Number.POSITIVE_INFINITY): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > max) {
    throw configError(field, max === Number.POSITIVE_INFINITY ? 'a finite number > 0' : `a number > 0 and ≤ ${max}`, value);
  }
  return value;
}

/** A ratio in (0, 1] by default, or [0, 1] when `allowZero`. */
export function ratioOption(field: string, value: unknown, allowZero = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value > 1 || value < 0 || (!allowZero && value === 0)) {
    throw configError(field, allowZero ? 'a ratio between 0 and 1' : 'a ratio > 0 and ≤ 1', value);
  }
  return value;
}

export function boolOption(field: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw configError(field, 'a boolean', value);
  return value;
}

export function stringOption(field: string, value: unknown, pattern?: RegExp): string {
  if (typeof value !== 'string' || value.length === 0 || (pattern !== undefined && !pattern.test(value))) {
    throw configError(field, pattern ? `a non-empty string matching ${pattern}` : 'a non-empty string', value);
  }
  return value;
}

export function enumOption<T extends string>(field: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw configError(field, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value);
  }
  return value as T;
}

export function fnOption<F = (...args: any[]) => any>(field: string, value: unknown): F {
  if (typeof value !== 'function') throw configError(field, 'a function', value);
  return value as F;
}

/** An optional injected clock: `undefined`, or an object with `now()`, `setTimer(fn, ms)` and `clearTimer(handle)`. */
export function clockOption(field: string, value: unknown): Clock | undefined {
  if (value === undefined) return undefined;
  const c = value as Record<string, unknown> | null;
  if (
    c === null ||
    typeof c !== 'object' ||
    typeof c.now !== 'function' ||
    typeof c.setTimer !== 'function' ||
    typeof c.clearTimer !== 'function' ||
    (c.refTimer !== undefined && typeof c.refTimer !== 'function') ||
    (c.coarseNow !== undefined && typeof c.coarseNow !== 'function')
  ) {
    throw configError(field, 'a Clock (an object with now(), setTimer(fn, ms) and clearTimer(handle))', value);
  }
  return value as Clock;
}

/** An optional name used in errors: `undefined` or a non-empty string. */
export function nameOption(field: string, value: unknown): string | undefined {
  return value === undefined ? undefined : stringOption(field, value);
}
