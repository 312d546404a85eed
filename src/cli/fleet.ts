/**
 * `blastwall timeline --url postgres://…`: the fleet's merged timeline from PostgreSQL, and with `--fleet`
 * the instances first (each one's status, mode, dependency states, and whether its heartbeat is gone).
 */
import { type FleetInstance, fleetState } from '../timeline/fleet.js';
import { openPool, queryFleetTimeline, schemaOption, type FleetTimelineQuery } from '../timeline/postgres.js';
import type { CliIo } from './command.js';
import { UsageError } from './command.js';

/** Prints the fleet (with `fleet`) and the merged timeline; resolves to the exit code. */
export async function fleetTimeline(a: Record<string, string | true>, q: FleetTimelineQuery, io: CliIo): Promise<number> {
  if (typeof a.url !== 'string' || !/^postgres(ql)?:\/\//.test(a.url)) throw new UsageError(`Expected \`--url\` to be a postgres:// URL, got \`${String(a.url)}\``);
  let schema: string;
  try {
    schema = schemaOption(typeof a.schema === 'string' ? a.schema : undefined);
  } catch {
    throw new UsageError(`Expected \`--schema\` to be a lower-case SQL identifier, got \`${String(a.schema)}\``);
  }
  const pool = openPool(a.url, 'url', 1);
  try {
    const fleet = a.fleet === true ? await fleetState({ pool, schema }) : [];
    const entries = await queryFleetTimeline(pool, schema, q).catch((err: unknown) => {
      if ((err as { code?: unknown }).code === '42P01') return []; // no instance has written yet
      throw err;
    });
    if (a.json) {
      io.out(JSON.stringify(a.fleet === true ? { instances: fleet, entries } : entries, null, 2));
      return 0;
    }
    if (a.fleet === true) {
      if (fleet.length === 0) io.err(`No instance has published a heartbeat in schema ${schema} (publishHeartbeat(wall, { url, schema }))`);
      else {
        for (const line of fleetTable(fleet)) io.out(line);
        io.out('');
      }
    }
    const width = Math.max(0, ...entries.map((e) => e.instance.length));
    for (const e of entries) io.out(`${new Date(e.at).toISOString()}  ${e.instance.padEnd(width)}  ${e.severity.padEnd(8)} ${e.kind.padEnd(9)} ${e.title}${e.corrupt ? '  [data unreadable]' : ''}`);
    if (entries.length === 0) io.err(`No timeline entries${Object.keys(q).length > 0 ? ' matching the options' : ''} in schema ${schema}`);
    return 0;
  } catch (err) {
    throw new Error(`cannot read the fleet from PostgreSQL: ${(err as Error).message}`, { cause: err });
  } finally {
    await pool.end().catch(() => undefined);
  }
}

/** One row per instance: id, service, status, mode, up/gone, heartbeat age, dependency states. */
function fleetTable(fleet: FleetInstance[]): string[] {
  const rows = [
    ['INSTANCE', 'SERVICE', 'STATUS', 'MODE', 'HEARTBEAT', 'LAST SEEN', 'DEPENDENCIES'],
    ...fleet.map((i) => [
      i.instance,
      i.service,
      i.status,
      i.mode,
      i.stopped ? 'stopped' : i.gone ? 'gone' : 'up',
      `${(i.ageMs / 1000).toFixed(1)}s ago`,
      Object.entries(i.dependencies)
        .map(([d, s]) => `${d}=${s}`)
        .join(' '),
    ]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd());
}
