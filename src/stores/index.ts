export type * from './types.js';
export { MemoryStore, memoryStore } from './memory/index.js';
export { SqliteStore, sqliteStore, type SqliteDatabase, type SqliteStoreOptions } from './sqlite/index.js';
