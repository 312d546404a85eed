import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { type Clock, type TimerHandle, realClock } from '../core/clock.js';
import { durationOption, type Duration } from '../core/duration.js';
import { BlastwallError } from '../core/errors.js';
import { configError, enumOption, intOption, isPlainObject, objectOption, stringOption } from '../core/validate.js';

export type Severity = 'info' | 'warning' | 'critical';
/** Kinds the wall writes; others may be added by applications. */
export type TimelineKind =
  | 'health'
  | 'breaker'
  | 'drift'
  | 'burn-rate'
  | 'mode'
  | 'action'
  | 'deploy'
  | 'config'
  | 'flag'
  | 'note'
  | 'impact'
  | (string & {});

export interface TimelineEntryInput {
  kind: TimelineKind;
  severity: Severity;
  title: string;
  dependency?: string;
  operation?: string;
  data?: Record<string, unknown>;
  /** Defaults to the timeline's clock. */
  at?: number;
}

export interface TimelineEntry {
  seq: number;
  at: number;
  kind: string;
  service: string;
  severity: Severity;
  title: string;
  dependency: string | null;
  operation: string | null;
  data: Record<string, unknown> | null;
  /** Set when the stored data could not be read back (it is reported, not thrown). */
  corrupt?: true;
}

export interface TimelineQuery {
  from?: number;
  to?: number;
  dependency?: string;
  kind?: string;
  limit?: number;
}

export interface TimelineOptions {
  /** SQLite file (WAL). Default `.blastwall/timeline.db`; `':memory:'` keeps nothing. */
  path?: string;
  clock?: Clock;
  service?: string;
  /** Entries held in memory waiting to be written; beyond it entries are dropped and counted. Default 10,000. */
  bufferSize?: number;
  /** How often buffered entries are written. Default 200ms. */
  flushEvery?: Duration;
}

const SEVERITIES: readonly Severity[] = ['info', 'warning', 'critical'];

/**
 * The durable, append-only record of what happened. `record` never blocks or throws on the call path:
 * entries go to a bounded buffer (full → dropped and counted) and are written in batches, one transaction
 * each, on a timer or by `flush()`, which returns once they are committed (WAL: they survive a crash of the
 * process from then on).
 */
export class Timeline {
  readonly path: string;
  readonly service: string;
  private readonly db: Database.Database;
  private readonly clock: Clock;
  private readonly bufferSize: number;
  private readonly flushEveryMs: number;
  private buffer: TimelineEntryInput[] = [];
  private timer: TimerHandle | undefined;
  private written = 0;
  private dropped = 0;
  private closed = false;
  private readonly insert: Database.Statement;
  private readonly writeBatch: (entries: TimelineEntryInput[]) => void;

  constructor(options: TimelineOptions = {}) {
    const o = objectOption('createTimeline options', options, ['path', 'clock', 'service', 'bufferSize', 'flushEvery']);
    this.path = o.path === undefined ? '.blastwall/timeline.db' : stringOption('path', o.path);
    this.service = o.service === undefined ? 'service' : stringOption('service', o.service);
    this.clock = (o.clock as Clock | undefined) ?? realClock;
    this.bufferSize = o.bufferSize === undefined ? 10_000 : intOption('bufferSize', o.bufferSize, 1);
    this.flushEveryMs = o.flushEvery === undefined ? 200 : durationOption('flushEvery', o.flushEvery);
    if (this.path !== ':memory:') mkdirSync(dirname(this.path), { recursive: true });
    this.db = new Database(this.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS timeline (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      at REAL NOT NULL,
      kind TEXT NOT NULL,
      service TEXT NOT NULL,
      severity TEXT NOT NULL,
      title TEXT NOT NULL,
      dependency TEXT,
      operation TEXT,
      data TEXT
    );
    CREATE INDEX IF NOT EXISTS timeline_at ON timeline(at);
    CREATE INDEX IF NOT EXISTS timeline_dep ON timeline(dependency, at);`);
    this.insert = this.db.prepare(
      'INSERT INTO timeline (at, kind, service, severity, title, dependency, operation, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.writeBatch = this.db.transaction((entries: TimelineEntryInput[]) => {
      for (const e of entries) {
        this.insert.run(e.at, e.kind, this.service, e.severity, e.title, e.dependency ?? null, e.operation ?? null, e.data === undefined ? null : JSON.stringify(e.data));
      }
    });
  }

  /**
   * Adds an entry (never blocks, never throws for a full buffer): returns false when it was dropped.
   * A malformed entry is rejected with CONFIG_INVALID before anything is buffered.
   */
  record(entry: TimelineEntryInput): boolean {
    if (this.closed) {
      this.dropped++;
      return false;
    }
    validateEntry(entry);
    if (this.buffer.length >= this.bufferSize) {
      this.dropped++;
      return false;
    }
    this.buffer.push(entry.at === undefined ? { ...entry, at: this.clock.now() } : entry);
    if (this.timer === undefined) {
      this.timer = this.clock.setTimer(this.onTimer, this.flushEveryMs);
      this.clock.refTimer?.(this.timer, false);
    }
    return true;
  }

  /** A deploy, config or flag marker. */
  mark(kind: 'deploy' | 'config' | 'flag', title: string, data?: Record<string, unknown>): boolean {
    enumOption('kind', kind, ['deploy', 'config', 'flag'] as const);
    return this.record({ kind, severity: 'info', title, ...(data ? { data } : {}) });
  }

  /** An operator's note. */
  note(text: string, author?: string): boolean {
    return this.record({ kind: 'note', severity: 'info', title: text, ...(author ? { data: { author } } : {}) });
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    try {
      this.flush();
    } catch (err) {
      // a write failure must not crash the service; the entries stay buffered for the next try
      process.emitWarning(`blastwall timeline: write failed, will retry: ${String(err)}`);
      if (!this.closed && this.buffer.length > 0 && this.timer === undefined) {
        this.timer = this.clock.setTimer(this.onTimer, this.flushEveryMs);
        this.clock.refTimer?.(this.timer, false);
      }
    }
  };

  /** Writes every buffered entry in one transaction; returns how many were written. */
  flush(): number {
    if (this.buffer.length === 0 || this.closed) return 0;
    const batch = this.buffer;
    this.buffer = [];
    try {
      this.writeBatch(batch);
    } catch (err) {
      this.buffer = batch.concat(this.buffer).slice(0, this.bufferSize);
      throw err;
    }
    this.written += batch.length;
    return batch.length;
  }

  /** Durable entries matching the query, oldest first (buffered entries are written first). */
  query(q: TimelineQuery = {}): TimelineEntry[] {
    const o = objectOption('query', q, ['from', 'to', 'dependency', 'kind', 'limit']);
    if (!this.closed) this.flush();
    const where: string[] = [];
    const args: unknown[] = [];
    if (o.from !== undefined) {
      where.push('at >= ?');
      args.push(o.from);
    }
    if (o.to !== undefined) {
      where.push('at <= ?');
      args.push(o.to);
    }
    if (o.dependency !== undefined) {
      where.push('dependency = ?');
      args.push(o.dependency);
    }
    if (o.kind !== undefined) {
      where.push('kind = ?');
      args.push(o.kind);
    }
    const limit = o.limit === undefined ? 100_000 : intOption('limit', o.limit, 1);
    const rows = this.db
      .prepare(`SELECT * FROM timeline ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at, seq LIMIT ${limit}`)
      .all(...args) as Record<string, unknown>[];
    return rows.map(rowToEntry);
  }

  stats(): { written: number; dropped: number; buffered: number } {
    return { written: this.written, dropped: this.dropped, buffered: this.buffer.length };
  }

  /** Writes what is buffered, stops the timer and closes the database. */
  close(): void {
    if (this.closed) return;
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    try {
      this.flush();
    } finally {
      this.closed = true;
      this.db.close();
    }
  }
}

function validateEntry(e: TimelineEntryInput): void {
  if (!isPlainObject(e)) throw configError('timeline entry', 'an object', e);
  stringOption('entry.kind', e.kind);
  enumOption('entry.severity', e.severity, SEVERITIES);
  stringOption('entry.title', e.title);
  if (e.at !== undefined && (typeof e.at !== 'number' || !Number.isFinite(e.at))) throw configError('entry.at', 'a finite number (ms since epoch)', e.at);
  if (e.data !== undefined && !isPlainObject(e.data)) throw configError('entry.data', 'a plain object', e.data);
}

function rowToEntry(r: Record<string, unknown>): TimelineEntry {
  const entry: TimelineEntry = {
    seq: Number(r.seq),
    at: Number(r.at),
    kind: String(r.kind),
    service: String(r.service),
    severity: (SEVERITIES as readonly string[]).includes(String(r.severity)) ? (r.severity as Severity) : 'info',
    title: String(r.title),
    dependency: (r.dependency as string | null) ?? null,
    operation: (r.operation as string | null) ?? null,
    data: null,
  };
  if (typeof r.data === 'string') {
    try {
      const parsed: unknown = JSON.parse(r.data);
      if (isPlainObject(parsed)) entry.data = parsed;
      else entry.corrupt = true;
    } catch {
      entry.corrupt = true;
    }
  }
  return entry;
}

/** Opens (or creates) a timeline. */
export function createTimeline(options?: TimelineOptions): Timeline {
  return new Timeline(options);
}

/** Opens an existing timeline file read-only-ish for the CLI; throws a clear error when it does not exist. */
export function openTimeline(path: string): Timeline {
  try {
    new Database(path, { fileMustExist: true }).close();
  } catch {
    throw new BlastwallError('CONFIG_INVALID', `No timeline at ${path}: run the service with createWall({ timeline: createTimeline({ path }) }) first, or pass --db`);
  }
  return new Timeline({ path });
}
