/**
 * Command-line parsing for the `blastwall` subcommands: `--name value` options, `--flag`s, times.
 */
import { tryParseDuration } from '../core/duration.js';
import { UsageError } from './command.js';

/** Parses `--name value` and `--flag` arguments against the allowed set; anything else is a UsageError. */
export function parseArgs(argv: string[], allowed: Record<string, 'value' | 'flag'>): Record<string, string | true> {
  const out: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new UsageError(`Unexpected argument \`${a}\``);
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    const kind = allowed[name];
    if (kind === undefined) throw new UsageError(`Unknown option \`--${name}\`; expected one of ${Object.keys(allowed).map((k) => `--${k}`).join(', ')}`);
    if (name in out) throw new UsageError(`\`--${name}\` is given twice`);
    if (kind === 'flag') {
      if (eq >= 0) throw new UsageError(`\`--${name}\` takes no value`);
      out[name] = true;
    } else {
      const v = eq >= 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined || v === '' || (eq < 0 && v.startsWith('--'))) throw new UsageError(`Expected a value after \`--${name}\``);
      out[name] = v;
    }
  }
  return out;
}

/**
 * A time on the command line: `now`, a duration ago (`2h`, `30m`), milliseconds since the epoch, or an ISO
 * 8601 time with a date (`2026-11-22T14:00:00Z`, `2026-11-22`).
 */
export function parseTime(field: string, value: string, now = Date.now()): number {
  if (value === 'now') return now;
  const ago = tryParseDuration(value);
  if (ago !== undefined && /[a-z]$/.test(value)) return now - ago;
  if (/^\d{10,}$/.test(value)) return Number(value);
  const t = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(t)) throw new UsageError(`Expected \`--${field}\` to be \`now\`, an ISO time, epoch milliseconds or a duration ago like 2h, got \`${value}\``);
  return t;
}

/** The time window from `--since` / `--from` and `--to`, refusing conflicting or impossible combinations. */
export function parseWindow(a: Record<string, string | true>, now = Date.now()): { from?: number; to?: number } {
  if (typeof a.since === 'string' && typeof a.from === 'string') throw new UsageError('`--since` and `--from` both set the start of the window: pass one of them');
  const from = typeof a.since === 'string' ? parseTime('since', a.since, now) : typeof a.from === 'string' ? parseTime('from', a.from, now) : undefined;
  const to = typeof a.to === 'string' ? parseTime('to', a.to, now) : undefined;
  if (from !== undefined && to !== undefined && from > to) {
    throw new UsageError(`Expected the start (${iso(from)}) to be before \`--to\` (${iso(to)})`);
  }
  return { ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) };
}

/** An ISO 8601 time without milliseconds when they are zero. */
export const iso = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');
