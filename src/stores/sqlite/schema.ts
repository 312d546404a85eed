/**
 * The SQLite store's tables (created when missing, older files upgraded in place) and the statements it
 * prepares once on them. Every name carries the store's prefix (`T('idem')` is `bw_idem` by default).
 */
import type { Row } from '../rows.js';
import type { SqliteDatabase, SqliteStatement } from './driver.js';

/** Creates the store's tables and indexes when missing; a file made before instance identities gets the owner columns. */
export function createTables(db: SqliteDatabase, T: (name: string) => string): void {
  db.exec(`
      CREATE TABLE IF NOT EXISTS ${T('idem')} (key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, state TEXT NOT NULL, token TEXT NOT NULL,
        lease_until INTEGER NOT NULL, response TEXT, completed_at INTEGER, expires_at INTEGER NOT NULL, owner TEXT, owner_epoch INTEGER);
      CREATE INDEX IF NOT EXISTS ${T('idem_exp')} ON ${T('idem')} (expires_at);
      CREATE TABLE IF NOT EXISTS ${T('queue')} (seq INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL, id TEXT NOT NULL, payload TEXT,
        enqueued_at INTEGER NOT NULL, available_at INTEGER NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL, lease_until INTEGER NOT NULL,
        done_at INTEGER, reason TEXT, UNIQUE (queue, id));
      CREATE INDEX IF NOT EXISTS ${T('queue_due')} ON ${T('queue')} (queue, state, available_at);
      CREATE TABLE IF NOT EXISTS ${T('processed')} (grp TEXT NOT NULL, id TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (grp, id));
      CREATE TABLE IF NOT EXISTS ${T('effects')} (collection TEXT NOT NULL, id TEXT NOT NULL, data TEXT, at INTEGER NOT NULL, PRIMARY KEY (collection, id));
      CREATE TABLE IF NOT EXISTS ${T('outbox')} (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, topic TEXT NOT NULL, payload TEXT,
        created_at INTEGER NOT NULL, sent_at INTEGER);
      CREATE INDEX IF NOT EXISTS ${T('outbox_unsent')} ON ${T('outbox')} (sent_at, seq);
      CREATE TABLE IF NOT EXISTS ${T('versions')} (entity TEXT PRIMARY KEY, version REAL NOT NULL, value TEXT);
      CREATE TABLE IF NOT EXISTS ${T('quarantine')} (seq INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL, reason TEXT NOT NULL,
        payload TEXT NOT NULL, at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS ${T('instances')} (instance TEXT PRIMARY KEY, epoch INTEGER NOT NULL, started_at INTEGER NOT NULL);
    `);
  // files made before instance identities: add the owner columns in place
  const columns = (db.prepare(`SELECT name FROM pragma_table_info('${T('idem')}')`).all() as Row[]).map((r) => r.name);
  if (!columns.includes('owner')) db.exec(`ALTER TABLE ${T('idem')} ADD COLUMN owner TEXT; ALTER TABLE ${T('idem')} ADD COLUMN owner_epoch INTEGER;`);
  db.exec(`CREATE INDEX IF NOT EXISTS ${T('idem_owner')} ON ${T('idem')} (owner, owner_epoch) WHERE owner IS NOT NULL`);
}

/** Prepares every statement the store runs, by name (`T` names a table). */
export function prepareStatements(db: SqliteDatabase, T: (name: string) => string): Record<string, SqliteStatement> {
  const st = (sql: string): SqliteStatement => db.prepare(sql);
  return {
    getKey: st(`SELECT * FROM ${T('idem')} WHERE key = ?`),
    putKey: st(
      `INSERT INTO ${T('idem')} (key, fingerprint, state, token, lease_until, expires_at, owner, owner_epoch) VALUES (?, ?, 'in-flight', ?, ?, ?, ?, ?)
         ON CONFLICT(key) DO UPDATE SET fingerprint = excluded.fingerprint, state = 'in-flight', token = excluded.token,
           lease_until = excluded.lease_until, expires_at = excluded.expires_at, response = NULL, completed_at = NULL,
           owner = excluded.owner, owner_epoch = excluded.owner_epoch`,
    ),
    nextEpoch: st(
      `INSERT INTO ${T('instances')} (instance, epoch, started_at) VALUES (?, 1, ?)
         ON CONFLICT(instance) DO UPDATE SET epoch = epoch + 1, started_at = excluded.started_at RETURNING epoch`,
    ),
    releaseOwned: st(
      `UPDATE ${T('idem')} SET token = '', lease_until = 0, expires_at = 0, owner = NULL, owner_epoch = NULL
         WHERE owner = ? AND owner_epoch < ? AND state = 'in-flight'`,
    ),
    renew: st(`UPDATE ${T('idem')} SET lease_until = ?, expires_at = ? WHERE key = ? AND token = ? AND state = 'in-flight'`),
    release: st(`DELETE FROM ${T('idem')} WHERE key = ? AND token = ? AND state = 'in-flight'`),
    complete: st(
      `UPDATE ${T('idem')} SET state = 'completed', response = ?, completed_at = ?, expires_at = ? WHERE key = ? AND token = ? AND state = 'in-flight'`,
    ),
    heldMsg: st(`SELECT attempts FROM ${T('queue')} WHERE queue = ? AND id = ? AND state = 'leased'`),
    processed: st(`INSERT OR IGNORE INTO ${T('processed')} (grp, id, at) VALUES (?, ?, ?)`),
    effect: st(`INSERT OR IGNORE INTO ${T('effects')} (collection, id, data, at) VALUES (?, ?, ?, ?)`),
    outbox: st(`INSERT OR IGNORE INTO ${T('outbox')} (id, topic, payload, created_at) VALUES (?, ?, ?, ?)`),
    getVersion: st(`SELECT version, value FROM ${T('versions')} WHERE entity = ?`),
    putVersion: st(
      `INSERT INTO ${T('versions')} (entity, version, value) VALUES (?, ?, ?)
         ON CONFLICT(entity) DO UPDATE SET version = excluded.version, value = excluded.value WHERE excluded.version > version`,
    ),
    enqueue: st(
      `INSERT OR IGNORE INTO ${T('queue')} (queue, id, payload, enqueued_at, available_at, state, attempts, lease_until)
         VALUES (?, ?, ?, ?, ?, 'ready', 0, 0)`,
    ),
    due: st(
      `SELECT seq FROM ${T('queue')} WHERE queue = ? AND ((state = 'ready' AND available_at <= ?) OR (state = 'leased' AND lease_until <= ?))
         ORDER BY available_at, seq LIMIT ?`,
    ),
    take: st(
      `UPDATE ${T('queue')} SET state = 'leased', attempts = attempts + 1, lease_until = ? WHERE seq = ?
         RETURNING id, payload, attempts, enqueued_at, lease_until`,
    ),
    ack: st(`UPDATE ${T('queue')} SET state = 'done', done_at = ? WHERE queue = ? AND id = ? AND state = 'leased' AND attempts = ?`),
    retry: st(`UPDATE ${T('queue')} SET state = 'ready', available_at = ? WHERE queue = ? AND id = ? AND state = 'leased' AND attempts = ?`),
    dead: st(`UPDATE ${T('queue')} SET state = 'dead', reason = ?, done_at = ? WHERE queue = ? AND id = ? AND state = 'leased' AND attempts = ?`),
    stats: st(
      `SELECT SUM(state IN ('ready','leased')) AS backlog, SUM(state = 'leased' AND lease_until > ?) AS leased, SUM(state = 'dead') AS dead,
           MIN(CASE WHEN state IN ('ready','leased') THEN enqueued_at END) AS oldest FROM ${T('queue')} WHERE queue = ?`,
    ),
    deadList: st(`SELECT id, payload, attempts, reason, done_at FROM ${T('queue')} WHERE queue = ? AND state = 'dead' ORDER BY seq LIMIT ?`),
    pending: st(`SELECT seq, id, topic, payload, created_at FROM ${T('outbox')} WHERE sent_at IS NULL ORDER BY seq LIMIT ?`),
    sent: st(`UPDATE ${T('outbox')} SET sent_at = ? WHERE id = ? AND sent_at IS NULL`),
    effects: st(`SELECT collection, id, data, at FROM ${T('effects')} WHERE collection = ? ORDER BY rowid`),
    putQ: st(`INSERT INTO ${T('quarantine')} (source, reason, payload, at) VALUES (?, ?, ?, ?)`),
    listQ: st(`SELECT source, reason, payload, at FROM ${T('quarantine')} WHERE (? IS NULL OR source = ?) ORDER BY seq LIMIT ?`),
    sweepKeys: st(`DELETE FROM ${T('idem')} WHERE expires_at <= ?`),
    sweepDone: st(`DELETE FROM ${T('queue')} WHERE state = 'done' AND done_at <= ?`),
  };
}
