/**
 * The headers blastwall speaks over HTTP. Names are lower-case (Node's `IncomingMessage.headers` form).
 */

/** Remaining time the caller grants, in whole milliseconds (`Blastwall-Deadline-Ms: 850`). */
export const DEADLINE_HEADER = 'blastwall-deadline-ms';
/** Set to `1` on answers that mean "overloaded, don't retry" (shed, budget exhausted, throttled). */
export const OVERLOADED_HEADER = 'blastwall-overloaded';
/** Priority class asked by the caller; read only when the adapter is told to trust it. */
export const PRIORITY_HEADER = 'blastwall-priority';

/** Deadlines longer than this in a header are treated as malformed (about 24 days: setTimeout's range). */
const MAX_DEADLINE_MS = 2_147_483_647;

/**
 * Parses a deadline header value: `undefined` when absent, a number of milliseconds (may be 0: no time
 * left), or `null` when malformed (anything but a plain non-negative integer or decimal).
 */
export function parseDeadlineHeader(value: string | readonly string[] | undefined | null): number | undefined | null {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    if (value.length !== 1) return value.length === 0 ? undefined : null;
    value = value[0]!;
  }
  const s = value.trim();
  if (!/^\d{1,10}(\.\d{1,3})?$/.test(s)) return null;
  const n = Number(s);
  return n > MAX_DEADLINE_MS ? null : n;
}

/** Whether a response says "overloaded, don't retry". */
export function isOverloadedAnswer(headerValue: string | null | undefined): boolean {
  return headerValue !== null && headerValue !== undefined && headerValue.trim() === '1';
}
