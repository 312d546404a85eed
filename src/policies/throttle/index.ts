// The code of this folder lives in throttle.ts (files are named for what they hold); this entry re-exports it.
export * from './throttle.js';
