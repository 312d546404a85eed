import Database from 'better-sqlite3';
import { MemoryStore } from '../../src/stores/memory/index.js';
import { SqliteStore } from '../../src/stores/sqlite/index.js';
import { type ConformanceTarget, storeConformance } from './conformance.js';

storeConformance({ name: 'memory', make: () => Promise.resolve(new MemoryStore()) });

/** The caller's own transaction on the store's database (better-sqlite3 transactions are synchronous). */
const sqliteSql: NonNullable<ConformanceTarget['sql']> = {
  inCallerTx(store, fn, rollback) {
    const db = (store as SqliteStore).db;
    try {
      db.transaction(() => {
        fn(db);
        if (rollback) throw new Error('rollback');
      })();
    } catch (err) {
      if (!rollback) throw err;
    }
    return Promise.resolve();
  },
};

storeConformance({ name: 'sqlite', make: () => Promise.resolve(new SqliteStore({ database: ':memory:' })), sql: sqliteSql });

// a shared handle works too (the caller's own database)
storeConformance({
  name: 'sqlite (shared Database handle)',
  make: () => Promise.resolve(new SqliteStore({ database: new Database(':memory:'), prefix: 'bwx_' })),
  sql: sqliteSql,
});
