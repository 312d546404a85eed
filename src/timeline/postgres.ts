/**
 * The timeline in PostgreSQL, for a service that runs as many instances: one table shared by all of
 * them, each entry tagged with its `service` and `instance`, and `query()` answering the merged timeline
 * of the whole fleet. Writes are buffered and flushed on a timer (never on the call path); a PostgreSQL
 * that is down or slow costs the calls nothing: the buffer is bounded, entries beyond it are dropped and
 * counted, and the failure is reported as one warning per run of failures.
 *
 * `pg` is an optional peer dependency: it is loaded the first time a PostgreSQL timeline (or heartbeat)
 * is created, with an error naming the package when it is not installed.
 */
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import type { PgModule, PgPool } from './pg-types.js';
import { type Clock, type TimerHandle, realClock } from '../core/clock.js';
import { durationOption, type Duration } from '../core/duration.js';
import { BlastwallError } from '../core/errors.js';
import { optionNames } from '../core/option-names.js';
import { clockOption, configError, intOption, isPlainObject, objectOption, stringOption } from '../core/validate.js';
import type { TimelineRow } from './file.js';
import { markEntry, noteEntry, rowToEntry, Timeline, toRow, type TimelineEntry, type TimelineEntryInput, type TimelineOptions, type TimelineQuery } from './timeline.js';

/**
 * Options of {@link createTimeline} for the PostgreSQL timeline a fleet shares (`url` selects it). Needs the
 * optional `pg` package.
 */
export interface PostgresTimelineOptions {
  /** `postgres://…` (or `postgresql://…`) connection string. */
  url: string;
  /**
   * Schema holding the tables `blastwall_timeline` and `blastwall_instances` (default `public`); created
   * when missing. A plain lower-case identifier (`[a-z_][a-z0-9_]*`, at most 63 characters).
   */
  schema?: string;
  /** The clock that stamps entries recorded without `at` and times the flushes. Default the real clock. */
  clock?: Clock;
  /** The service name stored with every entry. Default `'service'`. */
  service?: string;
  /** This instance's id: default env BLASTWALL_INSTANCE, else `<hostname>-<pid>`. */
  instance?: string;
  /** Entries held in memory waiting to be written; beyond it entries are dropped and counted. Default 10,000. */
  bufferSize?: number;
  /** How often buffered entries are written: a duration (`'500ms'`, `'2s'`, or a number of ms). Default 500ms. */
  flushEvery?: Duration;
}

/** An entry of the fleet's timeline: which instance wrote it. */
export interface FleetTimelineEntry extends TimelineEntry {
  instance: string;
}

/** What {@link PostgresTimeline.query} takes: a {@link TimelineQuery} that can also narrow by instance and service. */
export interface FleetTimelineQuery extends TimelineQuery {
  /** Only the entries of this instance. */
  instance?: string;
  /** Only the entries of this service. */
  service?: string;
}

const OPTION_NAMES = optionNames<PostgresTimelineOptions>()('url', 'schema', 'clock', 'service', 'instance', 'bufferSize', 'flushEvery');
const QUERY_NAMES = optionNames<FleetTimelineQuery>()('from', 'to', 'dependency', 'kind', 'limit', 'instance', 'service');
const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;
/** Rows per INSERT statement. */
const BATCH = 500;

type Row = TimelineRow;

/** @internal Loads `pg` on first use (`load` is for tests); a clear error naming the package when it is missing. */
export function loadPg(load: (id: string) => unknown = createRequire(import.meta.url)): PgModule {
  try {
    return load('pg') as PgModule;
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'MODULE_NOT_FOUND') throw err;
    throw new BlastwallError('CONFIG_INVALID', 'A PostgreSQL timeline or heartbeat needs the `pg` package, which is not installed: npm install pg', { cause: err });
  }
}

/** @internal A pool for blastwall's own short statements: bounded connect and statement times, idle errors swallowed. */
export function openPool(url: unknown, field = 'url', max = 2): PgPool {
  if (typeof url !== 'string' || !/^postgres(ql)?:\/\//.test(url)) throw configError(field, 'a postgres:// URL', url);
  const { Pool } = loadPg();
  const pool = new Pool({ connectionString: url, max, connectionTimeoutMillis: 3000, statement_timeout: 5000, query_timeout: 6000, idleTimeoutMillis: 10_000, allowExitOnIdle: true });
  // an idle client losing its connection (server restart) must not crash the process; the pool replaces it
  pool.on('error', () => undefined);
  return pool;
}

/** @internal Checks a schema name (it is spliced into SQL, so only a plain lower-case identifier). */
export function schemaOption(value: unknown): string {
  return value === undefined ? 'public' : stringOption('schema', value, IDENT);
}

/** @internal The instance id: the option, else env BLASTWALL_INSTANCE, else `<hostname>-<pid>`. */
export function instanceOption(value: unknown): string {
  if (value !== undefined) return stringOption('instance', value);
  const env = process.env.BLASTWALL_INSTANCE;
  return env !== undefined && env !== '' ? env : `${hostname()}-${process.pid}`;
}

/** @internal Creates the fleet's two tables in `schema` when missing (idempotent, safe from many instances at once). */
export async function ensureFleetSchema(pool: PgPool, schema: string): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`blastwall-fleet:${schema}`]);
    if (schema !== 'public') await c.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await c.query(`CREATE TABLE IF NOT EXISTS "${schema}".blastwall_timeline (
      seq bigserial PRIMARY KEY, at double precision NOT NULL, kind text NOT NULL, service text NOT NULL, instance text NOT NULL,
      severity text NOT NULL, title text NOT NULL, dependency text, operation text, data text)`);
    await c.query(`CREATE INDEX IF NOT EXISTS blastwall_timeline_at ON "${schema}".blastwall_timeline (at)`);
    await c.query(`CREATE TABLE IF NOT EXISTS "${schema}".blastwall_instances (
      instance text PRIMARY KEY, service text NOT NULL, status text NOT NULL, mode text NOT NULL, health jsonb NOT NULL,
      heartbeat_timeout_ms integer NOT NULL, started_at timestamptz NOT NULL DEFAULT now(), last_seen timestamptz NOT NULL DEFAULT now(),
      stopped_at timestamptz)`);
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

/**
 * The timeline of a fleet in PostgreSQL. The same `record` / `mark` / `note` as the SQLite `Timeline`
 * (synchronous, never blocking, refusing a malformed entry with CONFIG_INVALID); `flush`, `query` and
 * `close` are asynchronous, and `flush` never rejects (its failure is a warning and `stats().lastError`),
 * so a wall calling it at close can never be broken by the database.
 */
export class PostgresTimeline {
  readonly service: string;
  readonly instance: string;
  readonly schema: string;
  /** The connection pool (two connections), e.g. to share with `publishHeartbeat({ pool })`. */
  readonly pool: PgPool;
  private readonly clock: Clock;
  private readonly bufferSize: number;
  private readonly flushEveryMs: number;
  private buffer: Row[] = [];
  private timer: TimerHandle | undefined;
  private inFlight: Promise<number> | undefined;
  private ready: Promise<void> | undefined;
  private written = 0;
  private dropped = 0;
  private lastError: string | undefined;
  private closed = false;

  constructor(options: PostgresTimelineOptions) {
    const o = objectOption('createTimeline options', options, OPTION_NAMES);
    this.schema = schemaOption(o.schema);
    this.service = o.service === undefined ? 'service' : stringOption('service', o.service);
    this.instance = instanceOption(o.instance);
    this.clock = clockOption('createTimeline options.clock', o.clock) ?? realClock;
    this.bufferSize = o.bufferSize === undefined ? 10_000 : intOption('bufferSize', o.bufferSize, 1);
    this.flushEveryMs = o.flushEvery === undefined ? 500 : durationOption('flushEvery', o.flushEvery);
    this.pool = openPool(o.url);
    track(this);
  }

  /** Adds an entry (never blocks, never throws for a full buffer or a dead database): false when it was dropped. */
  record(entry: TimelineEntryInput): boolean {
    if (this.closed) {
      this.dropped++;
      return false;
    }
    const row = toRow(entry, this.clock);
    if (this.buffer.length >= this.bufferSize) {
      this.dropped++;
      return false;
    }
    this.buffer.push(row);
    this.arm();
    return true;
  }

  /** A deploy, config or flag marker. */
  mark(kind: 'deploy' | 'config' | 'flag', title: string, data?: Record<string, unknown>): boolean {
    return this.record(markEntry(kind, title, data));
  }

  /** An operator's note. */
  note(text: string, author?: string): boolean {
    return this.record(noteEntry(text, author));
  }

  private arm(): void {
    if (this.timer !== undefined || this.closed || this.buffer.length === 0) return;
    this.timer = this.clock.setTimer(this.onTimer, this.flushEveryMs);
    this.clock.refTimer?.(this.timer, false);
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    void this.flush().then(() => this.arm());
  };

  /**
   * Writes what is buffered (one flush at a time; a call during one waits for it and then writes the
   * rest); resolves to how many entries were written. Never rejects: when PostgreSQL cannot take them the
   * entries stay buffered for the next timer, one warning is emitted per run of failures and
   * `stats().lastError` says why.
   */
  flush(): Promise<number> {
    const previous = this.inFlight ?? Promise.resolve(0);
    const next = previous.then(() => this.writeBuffered());
    this.inFlight = next;
    void next.finally(() => {
      if (this.inFlight === next) this.inFlight = undefined;
    });
    return next;
  }

  private async writeBuffered(): Promise<number> {
    if (this.buffer.length === 0) return 0;
    let written = 0;
    try {
      this.ready ??= ensureFleetSchema(this.pool, this.schema);
      await this.ready.catch((err: unknown) => {
        this.ready = undefined;
        throw err;
      });
      while (this.buffer.length > 0) {
        const batch = this.buffer.slice(0, BATCH);
        await this.insert(batch);
        // record() only appends, so the batch is still the head of the buffer
        this.buffer = this.buffer.slice(batch.length);
        written += batch.length;
        this.written += batch.length;
      }
      this.lastError = undefined;
    } catch (err) {
      const message = `cannot write the timeline to PostgreSQL: ${(err as Error).message}`;
      if (this.lastError === undefined) process.emitWarning(`blastwall timeline: ${message}; ${this.buffer.length} entries stay buffered and are retried`);
      this.lastError = message;
    }
    return written;
  }

  private async insert(rows: readonly Row[]): Promise<void> {
    const col = (i: number): unknown[] => rows.map((r) => r[i]);
    await this.pool.query(
      `INSERT INTO "${this.schema}".blastwall_timeline (at, kind, severity, title, dependency, operation, data, service, instance)
       SELECT u.*, $8::text, $9::text FROM unnest($1::float8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) AS u`,
      [col(0), col(1), col(2), col(3), col(4), col(5), col(6), this.service, this.instance],
    );
  }

  /** The fleet's merged timeline (every instance), oldest first; this instance's buffer is written first. */
  async query(q: FleetTimelineQuery = {}): Promise<FleetTimelineEntry[]> {
    if (!this.closed) await this.flush();
    return queryFleetTimeline(this.pool, this.schema, q);
  }

  /** `lastError`: why the last write failed, while it keeps failing. */
  stats(): { written: number; dropped: number; buffered: number; lastError: string | undefined } {
    return { written: this.written, dropped: this.dropped, buffered: this.buffer.length, lastError: this.lastError };
  }

  /** Writes what is buffered, stops the timer and closes the pool; entries that cannot be written now are counted as dropped and reported. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    openTimelines.delete(this);
    await this.flush();
    if (this.buffer.length > 0) {
      this.dropped += this.buffer.length;
      process.emitWarning(`blastwall timeline: ${this.buffer.length} entries not written at close: ${this.lastError ?? 'PostgreSQL unavailable'}`);
      this.buffer = [];
    }
    await this.pool.end().catch(() => undefined);
  }

  /** @internal The process is about to exit by itself: one last try at what is buffered. */
  exiting(): void {
    if (this.buffer.length === 0 || this.exitTried) return;
    this.exitTried = true;
    void this.flush();
  }
  private exitTried = false;
}

/** Open PostgreSQL timelines: one `beforeExit` hook (not one per timeline) writes their buffers when the process ends by itself. */
const openTimelines = new Set<PostgresTimeline>();
let hooked = false;
function track(t: PostgresTimeline): void {
  openTimelines.add(t);
  if (hooked) return;
  hooked = true;
  process.on('beforeExit', () => {
    for (const tl of openTimelines) tl.exiting();
  });
}

/** @internal The merged timeline of every instance in `schema`, oldest first. */
export async function queryFleetTimeline(pool: PgPool, schema: string, q: FleetTimelineQuery = {}): Promise<FleetTimelineEntry[]> {
  const o = objectOption('query', q, QUERY_NAMES);
  const where: string[] = [];
  const args: unknown[] = [];
  const filters: [string, unknown][] = [
    ['at >=', o.from],
    ['at <=', o.to],
    ['dependency =', o.dependency === undefined ? undefined : stringOption('dependency', o.dependency)],
    ['kind =', o.kind === undefined ? undefined : stringOption('kind', o.kind)],
    ['instance =', o.instance === undefined ? undefined : stringOption('instance', o.instance)],
    ['service =', o.service === undefined ? undefined : stringOption('service', o.service)],
  ];
  for (const [clause, value] of filters) {
    if (value === undefined) continue;
    if ((clause === 'at >=' || clause === 'at <=') && (typeof value !== 'number' || !Number.isFinite(value))) throw configError(clause === 'at >=' ? 'from' : 'to', 'a finite number (ms since epoch)', value);
    args.push(value);
    where.push(`${clause} $${args.length}`);
  }
  const limit = o.limit === undefined ? 100_000 : intOption('limit', o.limit, 1);
  const r = await pool.query(
    `SELECT * FROM "${schema}".blastwall_timeline ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at, seq LIMIT ${limit}`,
    args,
  );
  return (r.rows as Record<string, unknown>[]).map(fleetEntry);
}

function fleetEntry(r: Record<string, unknown>): FleetTimelineEntry {
  return { ...rowToEntry(r), instance: String(r.instance) };
}

/**
 * Opens a timeline: in PostgreSQL when `url` is given (the fleet's shared timeline), else the SQLite
 * file of one process (the default).
 */
export function createTimeline(options: PostgresTimelineOptions): PostgresTimeline;
export function createTimeline(options?: TimelineOptions): Timeline;
export function createTimeline(options?: TimelineOptions | PostgresTimelineOptions): Timeline | PostgresTimeline {
  if (isPlainObject(options) && 'url' in options && options.url !== undefined) return new PostgresTimeline(options as unknown as PostgresTimelineOptions);
  return new Timeline(options as TimelineOptions | undefined);
}
