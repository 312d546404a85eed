// The code of this folder lives in cache.ts (files are named for what they hold); this entry re-exports it.
export * from './cache.js';
