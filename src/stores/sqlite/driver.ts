/**
 * The SQLite driver, loaded only when SQLite is used. better-sqlite3 is an optional peer dependency:
 * importing blastwall never loads it, and a user who asks for SQLite without it installed gets a
 * CONFIG_INVALID error naming the package to install. The types below are the small part of
 * better-sqlite3 blastwall uses, so the published declarations need no `@types/better-sqlite3`.
 *
 * Every handle blastwall opens has a busy timeout of {@link BUSY_TIMEOUT_MS} (zero): better-sqlite3 is
 * synchronous, so waiting for another process's write lock inside SQLite would freeze the event loop for
 * as long as the wait. A statement that meets a lock fails at once instead; whoever called it waits
 * off the loop if it wants to (the store retries on a timer for its `busyTimeout`, the timeline keeps its
 * entries buffered and retries on its flush timer).
 */
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { BlastwallError } from '../../core/errors.js';

/** What better-sqlite3's `Statement` offers that blastwall uses. */
export interface SqliteStatement {
  /** Executes a writing statement with positional `params`; `changes` is how many rows it inserted, updated or deleted. */
  run(...params: unknown[]): { changes: number };
  /** Executes a query and returns its first row as an object keyed by column name, or undefined when there is none. */
  get(...params: unknown[]): unknown;
  /** Executes a query and returns every row (objects keyed by column name; an empty array when none). */
  all(...params: unknown[]): unknown[];
}

/** A function wrapped in a transaction (`db.transaction(fn)`). */
export interface SqliteTransaction<T> {
  (): T;
  /**
   * Runs the function in a `BEGIN IMMEDIATE` transaction: the write lock is taken at BEGIN, so a
   * conflict with another connection fails before the function runs (SQLITE_BUSY), not half-way.
   */
  immediate(): T;
}

/** What better-sqlite3's `Database` offers that blastwall uses; a better-sqlite3 Database satisfies it. */
export interface SqliteDatabase {
  /** False once the database is closed. */
  readonly open: boolean;
  /** True inside a transaction (`enqueueOutboxWith` requires one). */
  readonly inTransaction: boolean;
  /** Compiles one SQL statement for repeated use; throws on a syntax error or an unknown table. */
  prepare(sql: string): SqliteStatement;
  /** Runs one or more SQL statements that take no parameters and return no rows (e.g. schema DDL). */
  exec(sql: string): unknown;
  /** Reads or sets a PRAGMA (`'journal_mode = WAL'`); with `{ simple: true }` returns the first column of the first row. */
  pragma(sql: string, options?: { simple?: boolean }): unknown;
  /**
   * Wraps `fn` so that calling the result runs it in one transaction: committed when `fn` returns,
   * rolled back when it throws. `fn` must be synchronous.
   */
  transaction<T>(fn: () => T): SqliteTransaction<T>;
  /** Closes the database; later statements throw. */
  close(): unknown;
}

export interface SqliteOpenOptions {
  readonly?: boolean;
  fileMustExist?: boolean;
  /** Busy timeout in ms. */
  timeout?: number;
}

type SqliteConstructor = new (path: string, options?: SqliteOpenOptions) => SqliteDatabase;

/** How long one statement may wait, blocking the event loop, for another connection's lock: not at all. */
export const BUSY_TIMEOUT_MS = 0;

const requireFromHere = createRequire(import.meta.url);
let driver: SqliteConstructor | undefined;

/** better-sqlite3's Database constructor, loaded on first use; CONFIG_INVALID naming the package when it is missing. */
export function sqliteDriver(): SqliteConstructor {
  if (driver !== undefined) return driver;
  try {
    driver = requireFromHere('better-sqlite3') as SqliteConstructor;
  } catch (err) {
    const missing = (err as { code?: unknown }).code === 'MODULE_NOT_FOUND' && String((err as Error).message).includes('better-sqlite3');
    throw new BlastwallError(
      'CONFIG_INVALID',
      missing
        ? 'SQLite needs the better-sqlite3 package (an optional peer dependency of blastwall): npm install better-sqlite3'
        : `The better-sqlite3 package could not be loaded (${err instanceof Error ? err.message : String(err)}); reinstall it for this Node.js version: npm install better-sqlite3`,
      { cause: err },
    );
  }
  return driver;
}

/**
 * Opens a database file with a short busy timeout and WAL. A path that is a directory, a file that is
 * not a database, or a location that cannot be written becomes a CONFIG_INVALID error naming the option,
 * the path and the cause (no raw SqliteError).
 */
export function openSqlite(path: string, what: string, field: string, options: SqliteOpenOptions = {}): SqliteDatabase {
  const Database = sqliteDriver();
  let db: SqliteDatabase | undefined;
  try {
    if (path !== ':memory:' && statSync(path, { throwIfNoEntry: false })?.isDirectory() === true) {
      throw Object.assign(new Error('the path is a directory'), { code: 'EISDIR' });
    }
    db = new Database(path, { timeout: BUSY_TIMEOUT_MS, ...options });
    if (options.readonly !== true) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
    } else {
      db.prepare('SELECT count(*) FROM sqlite_master').get(); // reads the header: a non-database fails here
    }
    return db;
  } catch (err) {
    try {
      db?.close();
    } catch {
      // the open failed; nothing more to release
    }
    throw openError(path, what, field, err);
  }
}

/** The error for a database that cannot be opened: which option, what, where, and why. */
export function openError(path: string, what: string, field: string, err: unknown): BlastwallError {
  return new BlastwallError('CONFIG_INVALID', `Cannot open the ${what} at ${path} (\`${field}\`): ${describeSqliteError(err)}`, {
    cause: err,
    details: { field, path },
  });
}

/** A short reason for a SQLite failure, in words, with SQLite's own code. */
export function describeSqliteError(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  const reason =
    code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT'
      ? 'the file is not a SQLite database or is corrupt'
      : code === 'SQLITE_READONLY' || (typeof code === 'string' && code.startsWith('SQLITE_READONLY'))
        ? 'the location is read-only'
        : code === 'SQLITE_CANTOPEN'
          ? 'the file cannot be opened or created there (missing directory, a path through a file, or no permission)'
          : code === 'EROFS'
            ? 'the location is read-only'
            : code === 'EACCES' || code === 'EPERM'
              ? 'no permission to create it there'
              : code === 'ENOTDIR'
                ? 'a part of the path is a file, not a directory'
                : isBusy(err)
                  ? 'another connection holds the write lock'
                  : undefined;
  if (code === 'EISDIR') return 'the path is a directory';
  return reason === undefined ? message : `${reason} (${typeof code === 'string' && !message.startsWith(code) ? `${code}: ` : ''}${message})`;
}

const UNAVAILABLE = ['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_IOERR', 'SQLITE_READONLY', 'SQLITE_FULL', 'SQLITE_CANTOPEN', 'SQLITE_CORRUPT', 'SQLITE_NOTADB'];

/** The database cannot serve the call (locked, closed, unreadable or unwritable): not the caller's fault. */
export function isUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return UNAVAILABLE.some((c) => code.startsWith(c));
  return err instanceof TypeError && /database connection is not open/.test(err.message);
}

/** Another connection holds the lock (SQLITE_BUSY / SQLITE_LOCKED and their extended codes). */
export function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}
