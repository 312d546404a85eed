import { MAX_TIMER_MS, configError } from './validate.js';

export { MAX_TIMER_MS };

/** A duration: a number of milliseconds, or a string such as `'800ms'`, `'5s'`, `'1.5m'`, `'2h'`, `'1d'`. */
export type Duration = number | `${number}${DurationUnit}`;
/** The units of a {@link Duration} string: milliseconds, seconds, minutes, hours, days (24 h). */
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd';

const UNIT_MS: Record<DurationUnit, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PATTERN = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h|d)\s*$/;

/** Parses a duration, or returns `undefined` when it is not one. */
export function tryParseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = PATTERN.exec(value);
  if (m === null) return undefined;
  const ms = Number(m[1]) * UNIT_MS[m[2] as DurationUnit];
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * Validates and parses a duration option. The error names the field, the expectation and the value:
 * ``Expected `timeout` to be a duration ≥ 1ms, got `-5` (number)``.
 */
export function durationOption(field: string, value: unknown, minMs = 1, maxMs = Number.POSITIVE_INFINITY): number {
  const ms = tryParseDuration(value);
  if (ms === undefined || ms < minMs || ms > maxMs) {
    const range =
      maxMs === Number.POSITIVE_INFINITY
        ? `≥ ${minMs}ms`
        : maxMs === MAX_TIMER_MS
          ? `between ${minMs}ms and ${MAX_TIMER_MS}ms (24.8d, the timer limit)`
          : `between ${minMs}ms and ${maxMs}ms`;
    throw configError(field, `a duration ${range} (a number of milliseconds or a string like '800ms', '5s', '2m')`, value);
  }
  return ms;
}

/**
 * A duration that arms a timer (a timeout, a queue wait, a backoff, an evaluation interval): at most
 * `MAX_TIMER_MS` (2^31−1 ms, about 24.8 days), because setTimeout fires a longer delay after 1 ms.
 */
export function timerDurationOption(field: string, value: unknown, minMs = 1): number {
  return durationOption(field, value, minMs, MAX_TIMER_MS);
}

/** Formats milliseconds for people: 850 → '850ms', 1500 → '1.5s', 90000 → '1.5m'. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  const abs = Math.abs(ms);
  if (abs < 1000) return `${Math.round(ms * 100) / 100}ms`;
  if (abs < 60_000) return `${Math.round(ms / 10) / 100}s`;
  if (abs < 3_600_000) return `${Math.round(ms / 600) / 100}m`;
  if (abs < 86_400_000) return `${Math.round(ms / 36_000) / 100}h`;
  return `${Math.round(ms / 864_000) / 100}d`;
}
