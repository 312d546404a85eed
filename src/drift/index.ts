export * from './burn-rate.js';
export * from './detector.js';
export * from './monitor.js';
export * from './nab/scorer.js';
export * from './likelihood.js';
