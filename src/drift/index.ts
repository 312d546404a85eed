/**
 * `blastwall/drift`: streaming drift detectors (robust, likelihood and ARTime), the drift monitor with hysteresis,
 * multi-window burn-rate alerts, and the NAB v1.1 scorer used by the benchmarks.
 * @module
 */
export * from './burn-rate.js';
export * from './detector.js';
export * from './monitor.js';
export * from './nab/scorer.js';
export * from './likelihood.js';
export * from './artime.js';
