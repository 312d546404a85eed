/**
 * The PostgreSQL store's connection: the pool it queries through (yours, or one it creates from a
 * connection string with its timeouts), a transaction on it, and which errors mean the server cannot
 * serve now.
 */
import pg from 'pg';
import { configError } from '../../core/validate.js';
import type { PostgresStoreOptions } from './postgres-store.js';

/** SQLSTATE classes of a server that cannot serve: connection exceptions, resources, operator intervention. */
const DOWN_STATE = /^(08|53|57P)/;
const DOWN_MESSAGE = /Connection terminated|timeout exceeded when trying to connect|Cannot use a pool after calling end|Client has encountered a connection error|Query read timeout|Connection closed|not queryable/i;
const DOWN_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EPIPE', 'EAI_AGAIN']);

/**
 * The pool of `options.connection`: the pg.Pool given (`owned: false`, `close()` leaves it open), or one
 * created from the connection string (`owned: true`). Checks `statementTimeoutMs` and `connection`.
 */
export function openPool(options: PostgresStoreOptions): { pool: pg.Pool; owned: boolean } {
  const timeout = options.statementTimeoutMs ?? 5000;
  if (!Number.isInteger(timeout) || timeout < 1) throw configError('statementTimeoutMs', 'an integer ≥ 1', timeout);
  let pool: pg.Pool;
  let owned: boolean;
  if (typeof options.connection === 'string') {
    if (!/^postgres(ql)?:\/\//.test(options.connection)) throw configError('connection', 'a postgres:// URL or a pg.Pool', options.connection);
    pool = new pg.Pool({
      connectionString: options.connection,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: 3000,
      statement_timeout: timeout,
      query_timeout: timeout + 1000,
    });
    owned = true;
  } else if (options.connection instanceof pg.Pool) {
    pool = options.connection;
    owned = false;
  } else {
    throw configError('connection', 'a postgres:// URL or a pg.Pool', options.connection);
  }
  // an idle client losing its connection (server restart) must not crash the process; the pool replaces it
  pool.on('error', () => undefined);
  return { pool, owned };
}

/** Whether an error means the server cannot be reached or cannot serve now (answered as STORE_UNAVAILABLE). */
export function isPgDown(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (DOWN_STATE.test(code) || DOWN_ERRNO.has(code))) return true;
  if ((err as { severity?: unknown }).severity !== undefined) return false; // the server answered: an SQL error
  return DOWN_MESSAGE.test(err.message) || (err instanceof AggregateError && err.errors.some((e) => isPgDown(e)));
}

/**
 * Runs `fn` in a transaction on a client of `pool`: commits what it did, or rolls back when it throws (the
 * error passes on) or when `rollbackIf` says so of its result. A client whose ROLLBACK failed is discarded.
 */
export async function inTransaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>, rollbackIf?: (r: T) => boolean): Promise<T> {
  const c = await pool.connect();
  let broken = false;
  try {
    await c.query('BEGIN');
    const r = await fn(c);
    await c.query(rollbackIf?.(r) === true ? 'ROLLBACK' : 'COMMIT');
    return r;
  } catch (err) {
    try {
      await c.query('ROLLBACK');
    } catch {
      broken = true;
    }
    throw err;
  } finally {
    c.release(broken);
  }
}
