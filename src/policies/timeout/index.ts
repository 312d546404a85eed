// The code of this folder lives in timeout.ts (files are named for what they hold); this entry re-exports it.
export * from './timeout.js';
