export * from './context.js';
export * from './dependency.js';
export * from './schema.js';
export * from './wall.js';
