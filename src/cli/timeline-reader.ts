/**
 * The CLI's read-only view of a timeline file: opened with SQLite's read-only flag, the schema checked
 * before any query, so pointing a read command at another database changes nothing in it.
 */
import type { Severity, TimelineEntry, TimelineQuery } from '../timeline/index.js';

const COLUMNS = ['seq', 'at', 'kind', 'service', 'severity', 'title', 'dependency', 'operation', 'data'];
const SEVERITIES: readonly string[] = ['info', 'warning', 'critical'];

interface Db {
  prepare(sql: string): { all(...args: unknown[]): unknown[]; get(...args: unknown[]): unknown };
  close(): void;
}

/** A failure to open or read the timeline file, with a message meant for the person at the terminal. */
export class TimelineFileError extends Error {}

/** A timeline file opened read-only. */
export class TimelineReader {
  private constructor(
    readonly path: string,
    private readonly db: Db,
  ) {}

  /** Opens `path` read-only and checks it holds a blastwall timeline; throws TimelineFileError otherwise. */
  static async open(path: string): Promise<TimelineReader> {
    let Database: new (path: string, options: { readonly: boolean; fileMustExist: boolean }) => Db;
    try {
      Database = ((await import('better-sqlite3')) as unknown as { default: typeof Database }).default;
    } catch {
      throw new TimelineFileError('Reading a timeline needs the SQLite driver: npm install better-sqlite3');
    }
    let db: Db;
    try {
      db = new Database(path, { readonly: true, fileMustExist: true });
    } catch {
      throw new TimelineFileError(`No timeline at ${path}: run the service with createWall({ timeline: createTimeline({ path }) }) first, or pass --db`);
    }
    try {
      const columns = (db.prepare("SELECT name FROM pragma_table_info('timeline')").all() as { name: string }[]).map((c) => c.name);
      const missing = COLUMNS.filter((c) => !columns.includes(c));
      if (columns.length === 0) throw new TimelineFileError(`${path} is a SQLite database without a blastwall timeline (no \`timeline\` table); pass the file given to createTimeline({ path })`);
      if (missing.length > 0) throw new TimelineFileError(`${path} has a \`timeline\` table that is not a blastwall timeline (missing columns: ${missing.join(', ')})`);
    } catch (err) {
      db.close();
      if (err instanceof TimelineFileError) throw err;
      throw new TimelineFileError(`${path} is not a readable SQLite database (${err instanceof Error ? err.message : String(err)})`);
    }
    return new TimelineReader(path, db);
  }

  /** Entries matching the query, oldest first. */
  query(q: TimelineQuery = {}): TimelineEntry[] {
    const where: string[] = [];
    const args: unknown[] = [];
    const filters: [string, unknown][] = [
      ['at >= ?', q.from],
      ['at <= ?', q.to],
      ['dependency = ?', q.dependency],
      ['kind = ?', q.kind],
    ];
    for (const [clause, value] of filters) {
      if (value === undefined) continue;
      where.push(clause);
      args.push(value);
    }
    const limit = q.limit ?? 100_000;
    const rows = this.db.prepare(`SELECT * FROM timeline ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at, seq LIMIT ${Math.floor(limit)}`).all(...args);
    return (rows as Record<string, unknown>[]).map(toEntry);
  }

  /** The first and last entry times and the number of entries, or undefined for an empty timeline. */
  extent(): { first: number; last: number; count: number } | undefined {
    const r = this.db.prepare('SELECT MIN(at) AS first, MAX(at) AS last, COUNT(*) AS count FROM timeline').get() as { first: number | null; last: number | null; count: number };
    return r.first === null || r.last === null ? undefined : { first: r.first, last: r.last, count: r.count };
  }

  close(): void {
    this.db.close();
  }
}

function toEntry(r: Record<string, unknown>): TimelineEntry {
  const entry: TimelineEntry = {
    seq: Number(r.seq),
    at: Number(r.at),
    kind: String(r.kind),
    service: String(r.service),
    severity: SEVERITIES.includes(String(r.severity)) ? (r.severity as Severity) : 'info',
    title: String(r.title),
    dependency: typeof r.dependency === 'string' ? r.dependency : null,
    operation: typeof r.operation === 'string' ? r.operation : null,
    data: null,
  };
  if (typeof r.data === 'string') {
    try {
      const parsed: unknown = JSON.parse(r.data);
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) entry.data = parsed as Record<string, unknown>;
      else entry.corrupt = true;
    } catch {
      entry.corrupt = true;
    }
  }
  return entry;
}
