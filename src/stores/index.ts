export type * from './types.js';
export { MemoryStore, memoryStore } from './memory/index.js';
export { SqliteStore, sqliteStore, type SqliteStoreOptions } from './sqlite/index.js';
