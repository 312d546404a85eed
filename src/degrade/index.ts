export * from './features.js';
export * from './modes.js';
export * from './partial.js';
export * from './read-only.js';
export * from './admission.js';
