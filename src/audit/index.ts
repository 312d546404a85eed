/** The blast-radius audit (`blastwall/audit`): predictions, findings and reports. See docs/audit.md. */
export { auditTopologies, auditWall, failsAt, readBaseline, writeBaseline, BASELINE_SCHEMA, type AuditOptions } from './audit.js';
export { topologyOfWall, topologyDocument, isAuditableWall, type AuditableWall } from './from-wall.js';
export { ServiceGraph, type ChainHop, type CallerLink } from './graph.js';
export { predict, predictAll, describeEffect, worstCallMs, FAILURE_MODES, type Effect, type FailureMode, type OperationImpact, type Prediction } from './predict.js';
export { toText, toMarkdown, toJson, boundarySummary, type AuditResult } from './report.js';
export { RULES, LIMITS, runRules, type Finding, type RuleInfo, type Severity } from './rules.js';
export { toSarif, artifactUri, type SarifOptions } from './sarif.js';
export {
  parseTopology,
  parseTopologyText,
  AuditInputError,
  TOPOLOGY_SCHEMA,
  type Topology,
  type TopologyDependency,
  type TopologyOperation,
  type TopologyFeature,
  type TopologyModeRule,
  type SourceLocation,
} from './topology.js';
export { verifyPredictions, verifyTable, faultFor, agrees, type VerifyFactory, type VerifyTarget, type VerifyOptions, type VerifyCheck, type OperationCheck, type ObservedClass } from './verify.js';
