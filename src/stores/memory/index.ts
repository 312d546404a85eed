// The code of this folder lives in memory-store.ts (files are named for what they hold); this entry re-exports it.
export * from './memory-store.js';
