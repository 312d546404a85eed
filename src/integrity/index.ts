export * from './work.js';
export * from './idempotency.js';
export * from './http.js';
export * from './queue.js';
export * from './watch.js';
export * from './metrics.js';
