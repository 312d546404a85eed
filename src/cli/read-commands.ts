/**
 * `blastwall timeline` and `blastwall postmortem`: the read commands. Both open the timeline read-only.
 */
import { writeFileSync } from 'node:fs';
import { postmortem } from '../timeline/postmortem.js';
import { iso, parseArgs, parseWindow } from './args.js';
import { type CliCommand, type CliIo, UsageError } from './command.js';
import { TimelineReader } from './timeline-reader.js';
import { fleetTimeline } from './fleet.js';

const DEFAULT_DB = '.blastwall/timeline.db';
const TIMES = `Times (T) are \`now\`, ISO 8601 (2026-11-22T14:00:00Z), milliseconds since the epoch, or a duration
ago (2h, 30m). The start must not be after the end. The database (a file written by createTimeline) is opened
read-only; it defaults to ${DEFAULT_DB}.`;

/** What to say when a window holds nothing: where the timeline's entries actually are. */
function emptyWindowHint(reader: TimelineReader, from: number | undefined, to: number | undefined): string {
  const extent = reader.extent();
  const window = `${from === undefined ? 'the beginning' : iso(from)} and ${to === undefined ? 'now' : iso(to)}`;
  if (extent === undefined) return `No entries between ${window}; the timeline ${reader.path} is empty.`;
  return `No entries between ${window}; the timeline holds ${extent.count} entries from ${iso(extent.first)} to ${iso(extent.last)}.`;
}


const CHANGE_LOOKBACK_MS = 3_600_000;
const CHANGE_KINDS = new Set(['config', 'deploy', 'flag']);

export const timelineCommand: CliCommand = {
  summary: 'print the entries of a timeline, oldest first',
  usage: `Usage: blastwall timeline [--db PATH | --url URL [--schema NAME] [--fleet]] [--since DURATION | --from T] [--to T] [--dependency NAME] [--kind KIND] [--json]

  --db PATH          the timeline file (default ${DEFAULT_DB})
  --url URL          a fleet's timeline in PostgreSQL (postgres://…): the merged entries of every instance
  --schema NAME      the schema of the fleet's tables (default public)
  --fleet            with --url: first the instances, each one's status, mode, dependency states, up or gone
  --since DURATION   entries of the last DURATION (2h), the same as --from 2h
  --from T, --to T   the window (both ends included)
  --dependency NAME  only entries about this dependency
  --kind KIND        only entries of this kind (health, breaker, drift, burn-rate, mode, impact, deploy, …)
  --json             the entries as a JSON array

${TIMES}`,
  async run(argv: string[], io: CliIo): Promise<number> {
    const a = parseArgs(argv, { db: 'value', url: 'value', schema: 'value', fleet: 'flag', since: 'value', from: 'value', to: 'value', dependency: 'value', kind: 'value', json: 'flag' });
    const { from, to } = parseWindow(a);
    if (a.url !== undefined && a.db !== undefined) throw new UsageError('`--db` (a SQLite file) and `--url` (PostgreSQL) name two timelines: pass one of them');
    if (a.url === undefined && (a.fleet !== undefined || a.schema !== undefined)) throw new UsageError('`--fleet` and `--schema` read a fleet in PostgreSQL: pass `--url postgres://…` too');
    if (a.url !== undefined) {
      const q = { from, to, dependency: a.dependency, kind: a.kind };
      return fleetTimeline(a, Object.fromEntries(Object.entries(q).filter(([, v]) => typeof v === 'string' || typeof v === 'number')), io);
    }
    const reader = await TimelineReader.open(typeof a.db === 'string' ? a.db : DEFAULT_DB);
    try {
      const entries = reader.query({
        ...(from !== undefined ? { from } : {}),
        ...(to !== undefined ? { to } : {}),
        ...(typeof a.dependency === 'string' ? { dependency: a.dependency } : {}),
        ...(typeof a.kind === 'string' ? { kind: a.kind } : {}),
      });
      if (a.json) io.out(JSON.stringify(entries, null, 2));
      else for (const e of entries) io.out(`${new Date(e.at).toISOString()}  ${e.severity.padEnd(8)} ${e.kind.padEnd(9)} ${e.title}${e.corrupt ? '  [data unreadable]' : ''}`);
      if (entries.length === 0) {
        const filtered = typeof a.dependency === 'string' || typeof a.kind === 'string' ? ' matching --dependency/--kind' : '';
        io.err(emptyWindowHint(reader, from, to).replace('No entries', `No entries${filtered}`));
      }
      return 0;
    } finally {
      reader.close();
    }
  },
};

export const postmortemCommand: CliCommand = {
  summary: 'draft a postmortem (Markdown) from the entries of a window',
  usage: `Usage: blastwall postmortem [--db PATH] (--from T | --since DURATION) --to T [--out FILE]

  --db PATH          the timeline file (default ${DEFAULT_DB})
  --from T, --to T   the incident window; --since 2h is --from 2h
  --out FILE         write the draft there instead of printing it

A window with no entries writes no draft: it says where the timeline's entries are and exits with 1.

${TIMES}`,
  async run(argv: string[], io: CliIo): Promise<number> {
    const a = parseArgs(argv, { db: 'value', from: 'value', since: 'value', to: 'value', out: 'value' });
    const { from, to } = parseWindow(a);
    if (from === undefined || to === undefined) throw new UsageError('`postmortem` needs the window: --from T (or --since DURATION) and --to T (T may be `now`)');
    if (to === from) throw new UsageError('Expected `--to` to be later than `--from`');
    const reader = await TimelineReader.open(typeof a.db === 'string' ? a.db : DEFAULT_DB);
    try {
      const entries = reader.query({ from, to });
      if (entries.length === 0) {
        io.err(`${emptyWindowHint(reader, from, to)} No draft written.`);
        return 1;
      }
      // the hour before the window too: the changes that preceded the first signal (the draft lists them)
      const before = reader.query({ from: from - CHANGE_LOOKBACK_MS, to: from - 1 }).filter((e) => CHANGE_KINDS.has(e.kind));
      const md = postmortem([...before, ...entries], { from, to, service: entries[0]!.service });
      if (typeof a.out === 'string') {
        writeFileSync(a.out, md);
        io.out(`Postmortem draft written to ${a.out} (${entries.length} entries)`);
      } else io.out(md);
      return 0;
    } finally {
      reader.close();
    }
  },
};
