#!/usr/bin/env node
/**
 * The blastwall command: `blastwall timeline` and `blastwall postmortem` read a service's timeline.
 */
import { writeFileSync } from 'node:fs';
import { tryParseDuration } from '../core/duration.js';
import { openTimeline } from '../timeline/index.js';
import { postmortem } from '../timeline/postmortem.js';

const USAGE = `Usage:
  blastwall timeline   [--db PATH] [--since 2h | --from T] [--to T] [--dependency NAME] [--kind KIND] [--json]
  blastwall postmortem [--db PATH] --from T --to T [--out FILE]

Times (T) are ISO 8601 (2026-11-22T14:00:00Z), milliseconds since the epoch, or a duration ago (2h, 30m).
The timeline database defaults to .blastwall/timeline.db.`;

class UsageError extends Error {}

function parseArgs(argv: string[], allowed: Record<string, 'value' | 'flag'>): Record<string, string | true> {
  const out: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new UsageError(`Unexpected argument \`${a}\``);
    const name = a.slice(2);
    const kind = allowed[name];
    if (kind === undefined) throw new UsageError(`Unknown option \`--${name}\`; expected one of ${Object.keys(allowed).map((k) => `--${k}`).join(', ')}`);
    if (kind === 'flag') out[name] = true;
    else {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`Expected a value after \`--${name}\``);
      out[name] = v;
    }
  }
  return out;
}

export function parseTime(field: string, value: string, now = Date.now()): number {
  const ago = tryParseDuration(value);
  if (ago !== undefined && /[a-z]$/.test(value)) return now - ago;
  if (/^\d{10,}$/.test(value)) return Number(value);
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new UsageError(`Expected \`--${field}\` to be an ISO time, epoch milliseconds or a duration ago like 2h, got \`${value}\``);
  return t;
}

export function run(argv: string[], print: (s: string) => void = (s) => process.stdout.write(`${s}\n`)): number {
  const [command, ...rest] = argv;
  try {
    if (command === 'timeline') {
      const a = parseArgs(rest, { db: 'value', since: 'value', from: 'value', to: 'value', dependency: 'value', kind: 'value', json: 'flag' });
      const tl = openTimeline(typeof a.db === 'string' ? a.db : '.blastwall/timeline.db');
      try {
        const from = typeof a.since === 'string' ? parseTime('since', a.since) : typeof a.from === 'string' ? parseTime('from', a.from) : undefined;
        const entries = tl.query({
          ...(from !== undefined ? { from } : {}),
          ...(typeof a.to === 'string' ? { to: parseTime('to', a.to) } : {}),
          ...(typeof a.dependency === 'string' ? { dependency: a.dependency } : {}),
          ...(typeof a.kind === 'string' ? { kind: a.kind } : {}),
        });
        if (a.json) print(JSON.stringify(entries, null, 2));
        else if (entries.length === 0) print('No entries.');
        else for (const e of entries) print(`${new Date(e.at).toISOString()}  ${e.severity.padEnd(8)} ${e.kind.padEnd(9)} ${e.title}${e.corrupt ? '  [data unreadable]' : ''}`);
      } finally {
        tl.close();
      }
      return 0;
    }
    if (command === 'postmortem') {
      const a = parseArgs(rest, { db: 'value', from: 'value', to: 'value', out: 'value' });
      if (typeof a.from !== 'string' || typeof a.to !== 'string') throw new UsageError('`postmortem` needs --from and --to');
      const from = parseTime('from', a.from);
      const to = parseTime('to', a.to);
      if (to <= from) throw new UsageError('Expected `--to` to be later than `--from`');
      const tl = openTimeline(typeof a.db === 'string' ? a.db : '.blastwall/timeline.db');
      try {
        const md = postmortem(tl.query({ from, to }), { from, to });
        if (typeof a.out === 'string') {
          writeFileSync(a.out, md);
          print(`Postmortem draft written to ${a.out}`);
        } else print(md);
      } finally {
        tl.close();
      }
      return 0;
    }
    print(USAGE);
    return command === undefined || command === 'help' || command === '--help' ? 0 : 2;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`blastwall: ${err.message}\n\n${USAGE}\n`);
      return 2;
    }
    process.stderr.write(`blastwall: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

const isMain = process.argv[1] !== undefined && /cli[\\/]main\.(ts|js)$/.test(process.argv[1]);
if (isMain) process.exitCode = run(process.argv.slice(2));
