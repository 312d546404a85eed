import { configError } from './validate.js';

/** A duration: a number of milliseconds, or a string such as `'800ms'`, `'5s'`, `'1.5m'`, `'2h'`, `'1d'`. */
export type Duration = number | `${number}${DurationUnit}`;
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd';

const UNIT_MS: Record<DurationUnit, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PATTERN = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h|d)\s*$/;

/** Parses a duration, or returns `undefined` when it is not one. */
export function tryParseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = PATTERN.exec(value);
  if (m === null) return undefined;
  return Number(m[1]) * UNIT_MS[m[2] as DurationUnit];
}

/**
 * Validates and parses a duration option. The error names the field, the expectation and the value:
 * ``Expected `timeout` to be a duration ≥ 1ms, got `-5` (number)``.
 */
export function durationOption(field: string, value: unknown, minMs = 1, maxMs = Number.POSITIVE_INFINITY): number {
  const ms = tryParseDuration(value);
  if (ms === undefined || ms < minMs || ms > maxMs) {
    const range = maxMs === Number.POSITIVE_INFINITY ? `≥ ${minMs}ms` : `between ${minMs}ms and ${maxMs}ms`;
    throw configError(field, `a duration ${range} (a number of milliseconds or a string like '800ms', '5s', '2m')`, value);
  }
  return ms;
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
