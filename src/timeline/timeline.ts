/**
 * `blastwall/timeline`: the durable, append-only record of what happened (SQLite, WAL; writes batched off
 * the call path), queries over it, and the postmortem draft built from a window of it.
 */
import { type Clock, type TimerHandle, realClock } from '../core/clock.js';
import { durationOption, type Duration } from '../core/duration.js';
import { BlastwallError } from '../core/errors.js';
import { clockOption, configError, enumOption, intOption, isPlainObject, objectOption, stringOption } from '../core/validate.js';
import { describeSqliteError, isBusy, openSqlite } from '../stores/sqlite/driver.js';
import { TimelineFile, type TimelineRow } from './file.js';

/**
 * How much a timeline entry matters: `info` (markers, notes, recoveries), `warning` (something degraded
 * or worth a look) or `critical` (something is down: a dependency unavailable, a breaker open, an
 * incident declared). A stored value that is none of these reads back as `info`.
 */
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

/**
 * An entry to {@link Timeline.record}. `kind`, `severity` and `title` are required; everything is checked
 * when recorded (CONFIG_INVALID naming the field), never later at write time.
 */
export interface TimelineEntryInput {
  kind: TimelineKind;
  severity: Severity;
  /** One line for humans; the postmortem draft and the dashboard show it as is. */
  title: string;
  /** The dependency it is about, so `query({ dependency })` finds it. */
  dependency?: string;
  /** The operation it is about. */
  operation?: string;
  /** Anything else, stored as JSON: a plain object, JSON-serialisable (no BigInt, no cycles). */
  data?: Record<string, unknown>;
  /** When it happened (ms since the Unix epoch, finite). Defaults to the timeline's clock at `record` time. */
  at?: number;
}

/** A stored timeline entry, as `query()` returns it. Absent optional fields read back as null. */
export interface TimelineEntry {
  /** Storage order, increasing; entries with the same `at` are ordered by it. */
  seq: number;
  /** When it happened (ms since the Unix epoch). */
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

/**
 * Which entries `query()` returns; every field narrows (all of them must match). Results are oldest first
 * (by `at`, then `seq`).
 */
export interface TimelineQuery {
  /** Only entries at or after this time (ms since the Unix epoch, inclusive). */
  from?: number;
  /** Only entries at or before this time (ms since the Unix epoch, inclusive). */
  to?: number;
  /** Only entries about this dependency. */
  dependency?: string;
  /** Only entries of this kind (`health`, `breaker`, `note`, …). */
  kind?: string;
  /** At most this many entries (an integer ≥ 1), the oldest ones that match. Default 100,000. */
  limit?: number;
}

/** Options of {@link createTimeline} for the SQLite timeline of one process. */
export interface TimelineOptions {
  /**
   * SQLite file (WAL), created with its directory when missing. Default `.blastwall/timeline.db`;
   * `':memory:'` keeps nothing after the process.
   */
  path?: string;
  /** The clock that stamps entries recorded without `at` and times the flushes. Default the real clock. */
  clock?: Clock;
  /** The service name stored with every entry. Default `'service'`. */
  service?: string;
  /** Entries held in memory waiting to be written; beyond it entries are dropped and counted. Default 10,000. */
  bufferSize?: number;
  /** How often buffered entries are written: a duration (`'200ms'`, `'1s'`, or a number of ms, ≥ 1 ms). Default 200ms. */
  flushEvery?: Duration;
}

const SEVERITIES: readonly Severity[] = ['info', 'warning', 'critical'];

/**
 * The durable, append-only record of what happened. `record` never blocks on the call path: entries are
 * checked and serialised at once (a malformed or unstorable entry is refused with CONFIG_INVALID, so it
 * can never poison a batch), held in a bounded buffer (full → dropped and counted) and written in
 * batches, one transaction each, on a timer or by `flush()`, which returns once they are committed (WAL:
 * they survive a crash of the process from then on).
 *
 * A file locked by another process fails a write within a few ms instead of blocking the event loop: the
 * entries stay buffered and the timer tries again. Entries still buffered when the process exits are
 * written on the way out; a file deleted or replaced under the service is noticed at the next write and
 * recreated (`stats().reopened`).
 */
export class Timeline {
  readonly path: string;
  readonly service: string;
  private readonly file: TimelineFile;
  private readonly clock: Clock;
  private readonly bufferSize: number;
  private readonly flushEveryMs: number;
  private buffer: TimelineRow[] = [];
  private timer: TimerHandle | undefined;
  private written = 0;
  private dropped = 0;
  private reopened = 0;
  /** The last write failed (one warning per run of failures). */
  private failing = false;
  private closed = false;

  constructor(options: TimelineOptions = {}) {
    const o = objectOption('createTimeline options', options, ['path', 'clock', 'service', 'bufferSize', 'flushEvery']);
    this.path = o.path === undefined ? '.blastwall/timeline.db' : stringOption('path', o.path);
    this.service = o.service === undefined ? 'service' : stringOption('service', o.service);
    this.clock = clockOption('createTimeline options.clock', o.clock) ?? realClock;
    this.bufferSize = o.bufferSize === undefined ? 10_000 : intOption('bufferSize', o.bufferSize, 1);
    this.flushEveryMs = o.flushEvery === undefined ? 200 : durationOption('flushEvery', o.flushEvery);
    this.file = new TimelineFile(this.path, this.service);
    if (this.path !== ':memory:') track(this);
  }

  /**
   * Adds an entry (never blocks, never throws for a full buffer): returns false when it was dropped.
   * A malformed entry, or one whose data cannot be stored as JSON (a BigInt, a cycle), is rejected with
   * CONFIG_INVALID before anything is buffered.
   */
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
    this.arm(false);
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

  /** Arms the flush timer (unless armed); `keepAlive` holds the process open for it (used on the way out). */
  private arm(keepAlive: boolean): void {
    if (this.timer !== undefined || this.closed || this.buffer.length === 0) return;
    this.timer = this.clock.setTimer(this.onTimer, this.flushEveryMs);
    this.clock.refTimer?.(this.timer, keepAlive);
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.tryFlush();
    this.arm(false);
  };

  /** Writes what is buffered; a failure keeps the entries and is reported once per run of failures. */
  private tryFlush(): boolean {
    try {
      this.flush();
      return true;
    } catch (err) {
      if (!this.failing) process.emitWarning(`blastwall timeline: ${(err as Error).message}; the entries stay buffered and are retried`);
      this.failing = true;
      return false;
    }
  }

  /**
   * Writes every buffered entry in one transaction; returns how many were written. When the file cannot
   * be written now (locked by another process, read-only, deleted and not recreatable) it throws
   * STORE_UNAVAILABLE and keeps the entries for the next try.
   */
  flush(): number {
    if (this.buffer.length === 0 || this.closed) return 0;
    const batch = this.buffer;
    try {
      if (this.file.reopenIfGone()) {
        this.reopened++;
        process.emitWarning(`blastwall timeline: ${this.path} was deleted or replaced while open; recreated it`);
      }
      this.file.write(batch);
    } catch (err) {
      throw err instanceof BlastwallError
        ? err
        : new BlastwallError(
            'STORE_UNAVAILABLE',
            `cannot write the timeline at ${this.path}: ${isBusy(err) ? 'another process holds the write lock' : describeSqliteError(err)}`,
            { cause: err, details: { path: this.path } },
          );
    }
    this.buffer = this.buffer.length === batch.length ? [] : this.buffer.slice(batch.length);
    this.written += batch.length;
    this.failing = false;
    return batch.length;
  }

  /** Durable entries matching the query, oldest first (buffered entries are written first when the file allows). */
  query(q: TimelineQuery = {}): TimelineEntry[] {
    const o = objectOption('query', q, ['from', 'to', 'dependency', 'kind', 'limit']);
    if (!this.closed) this.tryFlush();
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
    if (!this.file.db.open) {
      throw new BlastwallError('STORE_UNAVAILABLE', `cannot read the timeline at ${this.path}: it was deleted and could not be created again`, {
        details: { path: this.path },
      });
    }
    const rows = this.file.db
      .prepare(`SELECT * FROM timeline ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at, seq LIMIT ${limit}`)
      .all(...args) as Record<string, unknown>[];
    return rows.map(rowToEntry);
  }

  /** `reopened`: how many times the file was found deleted or replaced and recreated. */
  stats(): { written: number; dropped: number; buffered: number; reopened: number } {
    return { written: this.written, dropped: this.dropped, buffered: this.buffer.length, reopened: this.reopened };
  }

  /**
   * Writes what is buffered, stops the timer and closes the database. Entries that cannot be written now
   * (the file is locked or unwritable) are counted as dropped and reported in a warning.
   */
  close(): void {
    if (this.closed) return;
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    openTimelines.delete(this);
    try {
      this.flush();
    } catch (err) {
      this.dropped += this.buffer.length;
      process.emitWarning(`blastwall timeline: ${this.buffer.length} entries not written at close: ${(err as Error).message}`);
      this.buffer = [];
    } finally {
      this.closed = true;
      this.file.close();
    }
  }

  /**
   * @internal The process is exiting. `final` false (beforeExit: it ends by itself): write what is
   * buffered, and on failure keep the process alive for a few more flush timers; `final` true (exit): one
   * last synchronous write.
   */
  exiting(final: boolean): void {
    if (this.buffer.length === 0 || this.closed) return;
    if (this.tryFlush() || final) return;
    if (++this.exitRetries <= EXIT_RETRIES) this.arm(true);
  }
  private exitRetries = 0;
}

/** How many flush timers a process exiting by itself waits for before giving up on a locked file. */
const EXIT_RETRIES = 25;

/** Open file-backed timelines: one pair of process hooks (not a listener per timeline) writes their buffers at exit. */
const openTimelines = new Set<Timeline>();
let hooked = false;

function track(t: Timeline): void {
  openTimelines.add(t);
  if (hooked) return;
  hooked = true;
  process.on('beforeExit', () => {
    for (const tl of openTimelines) tl.exiting(false);
  });
  process.on('exit', () => {
    for (const tl of openTimelines) tl.exiting(true);
  });
}

/** @internal The entry of a deploy, config or flag marker (`kind` checked). Shared by the SQLite and PostgreSQL timelines. */
export function markEntry(kind: 'deploy' | 'config' | 'flag', title: string, data?: Record<string, unknown>): TimelineEntryInput {
  enumOption('kind', kind, ['deploy', 'config', 'flag'] as const);
  return { kind, severity: 'info', title, ...(data ? { data } : {}) };
}

/** @internal The entry of an operator's note. Shared by the SQLite and PostgreSQL timelines. */
export function noteEntry(text: string, author?: string): TimelineEntryInput {
  return { kind: 'note', severity: 'info', title: text, ...(author ? { data: { author } } : {}) };
}

/**
 * @internal Checks an entry and serialises it: everything that could fail later fails here, with the field
 * named. Shared by the SQLite and the PostgreSQL timelines.
 */
export function toRow(e: TimelineEntryInput, clock: Clock): TimelineRow {
  if (!isPlainObject(e)) throw configError('timeline entry', 'an object', e);
  stringOption('entry.kind', e.kind);
  enumOption('entry.severity', e.severity, SEVERITIES);
  stringOption('entry.title', e.title);
  if (e.at !== undefined && (typeof e.at !== 'number' || !Number.isFinite(e.at))) throw configError('entry.at', 'a finite number (ms since epoch)', e.at);
  if (e.dependency !== undefined && e.dependency !== null) stringOption('entry.dependency', e.dependency);
  if (e.operation !== undefined && e.operation !== null) stringOption('entry.operation', e.operation);
  let data: string | null = null;
  if (e.data !== undefined) {
    if (!isPlainObject(e.data)) throw configError('entry.data', 'a plain object', e.data);
    try {
      data = JSON.stringify(e.data);
    } catch (err) {
      throw new BlastwallError('CONFIG_INVALID', `Expected \`entry.data\` to be JSON-serialisable (no BigInt, no cycles): ${(err as Error).message}`, {
        cause: err,
        details: { field: 'entry.data' },
      });
    }
  }
  return [e.at ?? clock.now(), e.kind, e.severity, e.title, e.dependency ?? null, e.operation ?? null, data];
}

/** @internal A stored row as an entry; data that cannot be read back is marked `corrupt`, never thrown. */
export function rowToEntry(r: Record<string, unknown>): TimelineEntry {
  const entry: TimelineEntry = {
    seq: Number(r.seq),
    at: Number(r.at),
    kind: String(r.kind),
    service: String(r.service),
    severity: (SEVERITIES as readonly string[]).includes(String(r.severity)) ? (r.severity as Severity) : 'info',
    title: String(r.title),
    dependency: typeof r.dependency === 'string' ? r.dependency : null,
    operation: typeof r.operation === 'string' ? r.operation : null,
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
    openSqlite(path, 'timeline', 'path', { fileMustExist: true, readonly: true }).close();
  } catch (err) {
    throw new BlastwallError('CONFIG_INVALID', `No timeline at ${path}: run the service with createWall({ timeline: createTimeline({ path }) }) first, or pass --db`, { cause: err });
  }
  return new Timeline({ path });
}
