export * from './faults.js';
export * from './injector.js';
export * from './wall-faults.js';
export * from './drill.js';
export { operation, dependency, mode, status, recovery, integrity, type Invariant, type InvariantResult } from './invariants.js';
export { DrillObservation, type RequestRecord, type Transition, type FaultWindow, type SecondSample } from './observe.js';
export { runDrill, type RunDrillOptions, type DrillResult, type DrillProgress, type InvariantOutcome } from './runner.js';
export { writeReport, junitReport, markdownReport, reportData, chartSpec, renderChart } from './report.js';
export { seededRandom, logNormalFrom } from './random.js';
