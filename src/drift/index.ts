export * from './detector.js';
export * from './nab/scorer.js';
