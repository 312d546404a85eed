// The code of this folder lives in adaptive-concurrency.ts (files are named for what they hold); this entry re-exports it.
export * from './adaptive-concurrency.js';
