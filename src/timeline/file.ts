/**
 * The timeline's SQLite file: opened with a short busy timeout (a file locked by another process makes
 * a write fail in a few ms instead of freezing the event loop), and watched by inode so a file deleted
 * or replaced under a running service is noticed and recreated instead of written into an unlinked inode.
 */
import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { openError, openSqlite, type SqliteDatabase, type SqliteStatement } from '../stores/sqlite/driver.js';

/** One prepared row: everything is serialised when the entry is recorded, so a batch can always be written. */
export type TimelineRow = [at: number, kind: string, severity: string, title: string, dependency: string | null, operation: string | null, data: string | null];

const SCHEMA = `CREATE TABLE IF NOT EXISTS timeline (
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
CREATE INDEX IF NOT EXISTS timeline_dep ON timeline(dependency, at);`;

export class TimelineFile {
  db: SqliteDatabase;
  private insert: SqliteStatement;
  /** The file's identity when it was opened (undefined for `:memory:`). */
  private identity: string | undefined;

  constructor(
    readonly path: string,
    private readonly service: string,
  ) {
    [this.db, this.insert, this.identity] = this.open();
  }

  private open(): [SqliteDatabase, SqliteStatement, string | undefined] {
    const memory = this.path === ':memory:';
    if (!memory) {
      try {
        mkdirSync(dirname(this.path), { recursive: true });
      } catch (err) {
        throw openError(this.path, 'timeline', 'path', err);
      }
    }
    const db = openSqlite(this.path, 'timeline', 'path');
    try {
      db.exec(SCHEMA);
      const insert = db.prepare('INSERT INTO timeline (at, kind, service, severity, title, dependency, operation, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
      return [db, insert, memory ? undefined : fileIdentity(this.path)];
    } catch (err) {
      db.close();
      throw openError(this.path, 'timeline', 'path', err);
    }
  }

  /**
   * True when the file at `path` is no longer the one open (deleted, or replaced by another file): then
   * the old handle is closed and the path opened again. Throws when it cannot be reopened.
   */
  reopenIfGone(): boolean {
    if (this.identity === undefined || fileIdentity(this.path) === this.identity) return false;
    try {
      this.db.close(); // the old inode: its WAL is checkpointed into it and removed
    } catch {
      // already unusable; the new handle replaces it
    }
    [this.db, this.insert, this.identity] = this.open();
    return true;
  }

  /** Writes the rows in one transaction (all or none). */
  write(rows: readonly TimelineRow[]): void {
    this.db.transaction(() => {
      for (const r of rows) this.insert.run(r[0], r[1], this.service, r[2], r[3], r[4], r[5], r[6]);
    }).immediate();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function fileIdentity(path: string): string | undefined {
  const st = statSync(path, { throwIfNoEntry: false });
  return st === undefined ? undefined : `${st.dev}:${st.ino}`;
}
