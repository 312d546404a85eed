export * from './headers.js';
export * from './guard.js';
export * from './node.js';
export * from './express.js';
export * from './fastify.js';
export * from './hono.js';
export * from './fetch.js';
