/**
 * `blastwall/http`: the inbound guard and its node:http, Express, Fastify and Hono adapters, problem+json
 * error answers, bounded body reading, and the deadline-carrying `fetch`. See docs/http.md.
 */
export * from './headers.js';
export {
  defaultReporter,
  errorResponse,
  HttpProblem,
  isFinalAnswer,
  PROBLEM_TYPE,
  statusFor,
  type ErrorInfo,
  type ErrorReporter,
  type GuardResponse,
  type Problem,
} from './problem.js';
export { DEFAULT_MAX_JSON_DEPTH, parseJson } from './json.js';
export { receiveNodeBody, receiveWebBody, type BodyLimits, type BodyOutcome } from './body.js';
export { HttpGuard, type Admitted, type Entry, type HttpGuardOptions, type InboundRequest, type Routed, type RouteSpec, type Routing } from './guard.js';
export { headerReader, nodeHandler, pathOf, responseDone, writeResponse, type NodeHandler } from './node.js';
export { expressErrorHandler, expressMiddleware } from './express.js';
export { installFastify } from './fastify.js';
export { honoMiddleware } from './hono.js';
export * from './fetch.js';
export { drainOnSignal, type DrainOnSignalOptions } from './drain-signal.js';
