// The code of this folder lives in retry.ts (files are named for what they hold); this entry re-exports it.
export * from './retry.js';
