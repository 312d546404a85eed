// The code of this folder lives in sqlite-store.ts (files are named for what they hold); this entry re-exports it.
export * from './sqlite-store.js';
