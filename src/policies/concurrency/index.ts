// The code of this folder lives in bulkhead.ts and priority-lanes.ts (files are named for what they hold); this entry re-exports it.
export * from './bulkhead.js';
export * from './priority-lanes.js';
