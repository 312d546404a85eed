// The code of this folder lives in circuit-breaker.ts (files are named for what they hold); this entry re-exports it.
export * from './circuit-breaker.js';
