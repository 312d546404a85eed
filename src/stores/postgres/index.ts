// The code of this folder lives in postgres-store.ts (files are named for what they hold); this entry re-exports it.
export * from './postgres-store.js';
