// The code of this folder lives in fallback.ts (files are named for what they hold); this entry re-exports it.
export * from './fallback.js';
