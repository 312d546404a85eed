// The code of this folder lives in timeline.ts (files are named for what they hold); this entry re-exports it.
export * from './timeline.js';
