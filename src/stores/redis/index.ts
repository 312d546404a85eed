// The code of this folder lives in redis-store.ts (files are named for what they hold); this entry re-exports it.
export * from './redis-store.js';
