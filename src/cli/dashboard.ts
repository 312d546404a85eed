/**
 * `blastwall dashboard`: the dashboard page, read-only, standalone: from a timeline file (`--db`, opened
 * read-only) or from a running service's dashboard (`--url`, its state.json). Binds 127.0.0.1 by default.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { realClock } from '../core/clock.js';
import { type DashboardSource, sourceHandler } from '../dashboard/handler.js';
import { type DashboardState, STATE_SCHEMA, timelineState } from '../dashboard/state.js';
import { parseArgs } from './args.js';
import { type CliCommand, type CliIo, UsageError } from './command.js';
import { TimelineReader } from './timeline-reader.js';
import { fleetState } from '../timeline/fleet.js';
import { openPool, queryFleetTimeline, schemaOption } from '../timeline/postgres.js';

export interface DashboardServer {
  url: string;
  close(): Promise<void>;
}

/** A source that asks another dashboard for its state (read-only here whatever it offers). */
function urlSource(base: string): DashboardSource {
  const stateUrl = new URL('state.json', base.endsWith('/') ? base : `${base}/`).toString();
  return {
    clock: realClock,
    intervalMs: 2000,
    async state(): Promise<DashboardState> {
      const res = await fetch(stateUrl, { signal: AbortSignal.timeout(3000), headers: { accept: 'application/json' } });
      if (!res.ok) throw new Error(`${stateUrl} answered ${res.status}`);
      const s = (await res.json()) as DashboardState;
      if (s === null || typeof s !== 'object' || s.schema !== STATE_SCHEMA) throw new Error(`${stateUrl} is not a blastwall dashboard`);
      return { ...s, source: 'url', actions: false };
    },
  };
}

/** The fleet in PostgreSQL: every instance's last heartbeat and the merged timeline (read-only). */
function pgSource(url: string, schema: string): { source: DashboardSource; close(): Promise<void> } {
  const pool = openPool(url, '--pg', 2);
  return {
    source: {
      clock: realClock,
      intervalMs: 2000,
      async state(): Promise<DashboardState> {
        const [state, fleet] = await Promise.all([
          timelineState({ query: (q) => queryFleetTimeline(pool, schema, q) }, Date.now()),
          fleetState({ pool, schema }).catch(() => null),
        ]);
        return { ...state, fleet: fleet === null ? null : fleet.map((i) => ({ instance: i.instance, service: i.service, status: i.status, mode: i.mode, dependencies: i.dependencies, ageMs: i.ageMs, gone: i.gone })) };
      },
    },
    close: () => pool.end().catch(() => undefined),
  };
}

/** Starts the read-only dashboard server; `db`, `url` or `pg` names the source. */
export async function startDashboardServer(options: { db?: string; url?: string; pg?: string; schema?: string; host: string; port: number }): Promise<DashboardServer> {
  let reader: TimelineReader | undefined;
  let source: DashboardSource;
  let closeSource: (() => Promise<void>) | undefined;
  if (options.pg !== undefined) {
    const s = pgSource(options.pg, schemaOption(options.schema));
    source = s.source;
    closeSource = s.close;
  } else if (options.db !== undefined) {
    const r = await TimelineReader.open(options.db);
    reader = r;
    source = { clock: realClock, intervalMs: 2000, state: () => timelineState(r, Date.now()) };
  } else source = urlSource(options.url!);
  const handler = sourceHandler(source);
  const server: Server = createServer(handler);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => resolve());
    });
  } catch (err) {
    reader?.close();
    await closeSource?.();
    throw err;
  }
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}/`,
    close: async () => {
      handler.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      reader?.close();
      await closeSource?.();
    },
  };
}

export const dashboardCommand: CliCommand = {
  summary: 'serve the dashboard page (read-only) from a timeline file or a running service',
  usage: `Usage: blastwall dashboard (--db PATH | --url URL | --pg URL [--schema NAME]) [--port N] [--host ADDRESS]

  --db PATH       a timeline file written by createTimeline (opened read-only): states, mode, incident, alerts, entries
  --url URL       a running service's dashboard (the URL dashboardHandler is mounted at): shown read-only
  --pg URL        the fleet's PostgreSQL (postgres://…): every instance's heartbeat and the merged timeline
  --schema NAME   the schema of the fleet's tables (default public)
  --port N        the port to listen on (default 4180; 0 picks a free one)
  --host ADDRESS  the address to bind (default 127.0.0.1; binding another address exposes the page to that network)

Actions (mode, features, notes, deploys, incidents) are offered only by dashboardHandler(wall, { token }) inside the service.`,
  async run(argv: string[], io: CliIo): Promise<number> {
    const a = parseArgs(argv, { db: 'value', url: 'value', pg: 'value', schema: 'value', port: 'value', host: 'value' });
    const db = typeof a.db === 'string' ? a.db : undefined;
    const url = typeof a.url === 'string' ? a.url : undefined;
    const pgUrl = typeof a.pg === 'string' ? a.pg : undefined;
    if ([db, url, pgUrl].filter((x) => x !== undefined).length !== 1) throw new UsageError('Give exactly one of --db PATH, --url URL or --pg URL');
    if (pgUrl !== undefined && !/^postgres(ql)?:\/\//.test(pgUrl)) throw new UsageError(`Expected --pg to be a postgres:// URL, got \`${pgUrl}\``);
    if (a.schema !== undefined && pgUrl === undefined) throw new UsageError('--schema goes with --pg');
    const port = a.port === undefined ? 4180 : Number(a.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`Expected --port to be an integer from 0 to 65535, got \`${String(a.port)}\``);
    const host = typeof a.host === 'string' ? a.host : '127.0.0.1';
    if (url !== undefined && !/^https?:\/\/[^\s]+$/.test(url)) throw new UsageError(`Expected --url to be an http(s) URL, got \`${url}\``);
    if (db !== undefined && !existsSync(db)) {
      io.err(`blastwall dashboard: no timeline at ${db} (the file does not exist); pass the file given to createTimeline({ path })`);
      return 2;
    }
    let server: DashboardServer;
    try {
      server = await startDashboardServer({
        ...(db !== undefined ? { db } : {}),
        ...(url !== undefined ? { url } : {}),
        ...(pgUrl !== undefined ? { pg: pgUrl } : {}),
        ...(typeof a.schema === 'string' ? { schema: a.schema } : {}),
        host,
        port,
      });
    } catch (err) {
      const code = (err as { code?: string }).code;
      io.err(`blastwall dashboard: ${code === 'EADDRINUSE' ? `port ${port} is in use on ${host}; pass --port` : err instanceof Error ? err.message : String(err)}`);
      return code === 'EADDRINUSE' ? 1 : 2;
    }
    io.out(`blastwall dashboard: ${server.url} (read-only; ${db !== undefined ? `timeline ${db}` : url !== undefined ? `service ${url}` : 'the fleet in PostgreSQL'}); Ctrl-C to stop`);
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    await server.close();
    return 0;
  },
};
