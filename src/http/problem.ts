/**
 * Error answers over HTTP: RFC 9457 problem details (`application/problem+json`) with a stable `code`
 * and a generic `title`. An error's own text never reaches the client (it can hold a DSN, a host name, a
 * stack); it goes to the `onError` reporter with the request id the client sees, and stays on the error
 * and its `cause` for the log.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { BlastwallError } from '../core/errors.js';
import { OVERLOADED_HEADER } from './headers.js';

/** The content type of every error answer blastwall writes (RFC 9457 problem details). */
export const PROBLEM_TYPE = 'application/problem+json';

/** An answer the adapter writes as is. */
export interface GuardResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The problem+json body every blastwall answer uses. */
export interface Problem {
  /** `urn:blastwall:error:<code in kebab case>` (or `urn:blastwall:idempotency:<reason>`). */
  type: string;
  title: string;
  status: number;
  /** Stable, for programs: `SHED`, `DEADLINE_EXCEEDED`, `PAYLOAD_TOO_LARGE`, `INTERNAL`, … */
  code: string;
  /** Written by blastwall for client errors only (it never carries an error's message). */
  detail?: string;
  /** The id under which the detail was reported (`onError`). */
  requestId?: string;
}

/** What the reporter learns about an error answered to a client. */
export interface ErrorInfo {
  requestId: string;
  status: number;
  code: string;
  method?: string | undefined;
  path?: string | undefined;
}

/**
 * Receives every error answered with a 5xx (the detail the client does not see). Default: errors
 * answered 500 (bugs: anything that is not a blastwall decision) are written to stderr; the rest are
 * already visible in health, metrics and the timeline.
 */
export type ErrorReporter = (err: unknown, info: ErrorInfo) => void;

/**
 * A client error the library (or your handler) answers on purpose: its status, code, title and detail are
 * written for the client, so they are shown as they are. Thrown by `parseJson`, the body reader and the
 * idempotency layer; throw it from a handler to answer a 4xx through any adapter.
 */
export class HttpProblem extends Error {
  override readonly name = 'HttpProblem';
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    readonly detail?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(detail === undefined ? title : `${title}: ${detail}`);
  }
}

const kebab = (code: string): string => code.toLowerCase().replace(/_/g, '-');

/**
 * A problem+json answer. The body is written field by field (each string escaped by `JSON.stringify`), the
 * same text `JSON.stringify` of the object gives: a saturated service writes hundreds of refusals a second.
 */
export function problemResponse(p: Problem, headers?: Record<string, string>): GuardResponse {
  let body = `{"type":${JSON.stringify(p.type)},"title":${JSON.stringify(p.title)},"status":${JSON.stringify(p.status)},"code":${JSON.stringify(p.code)}`;
  if (p.detail !== undefined) body += `,"detail":${JSON.stringify(p.detail)}`;
  if (p.requestId !== undefined) body += `,"requestId":${JSON.stringify(p.requestId)}`;
  body += '}';
  const h: Record<string, string> = { 'content-type': PROBLEM_TYPE };
  if (headers !== undefined) for (const k in headers) h[k] = headers[k]!;
  return { status: p.status, headers: h, body };
}

/** A problem for a client error blastwall itself detected (a bad header, a body too large or too slow). */
export function clientProblem(status: number, code: string, title: string, detail?: string, headers: Record<string, string> = {}): GuardResponse {
  return problemResponse({ type: `urn:blastwall:error:${kebab(code)}`, title, status, code, ...(detail === undefined ? {} : { detail }) }, headers);
}

/** Status and generic title per blastwall error code; codes not listed are internal errors (500). */
const BY_CODE: Record<string, [status: number, title: string]> = {
  SHED: [503, 'Service overloaded'],
  BULKHEAD_FULL: [503, 'Service busy'],
  QUEUE_FULL: [503, 'Service busy'],
  QUEUE_TIMEOUT: [503, 'Service busy'],
  THROTTLED: [503, 'A dependency is rate limited'],
  RETRY_BUDGET_EXHAUSTED: [503, 'A dependency is failing'],
  CIRCUIT_OPEN: [503, 'A dependency is unavailable'],
  DEPENDENCY_FAILED: [503, 'A dependency failed'],
  STORE_UNAVAILABLE: [503, 'Store unavailable'],
  READ_ONLY: [503, 'Service is read-only'],
  CLOSED: [503, 'Service is shutting down'],
  ABORTED: [503, 'Request aborted'],
  TIMEOUT: [504, 'A dependency timed out'],
  DEADLINE_EXCEEDED: [504, 'Deadline exceeded'],
  INVALID_RESPONSE: [502, 'A dependency answered invalidly'],
  PAYLOAD_TOO_LARGE: [502, 'A dependency payload was too large'],
  CONFLICT: [409, 'Conflict'],
};

/** Client-error statuses an adapter passes through from framework errors (body parsers, routers). */
const CLIENT_CODES: Record<number, string> = {
  400: 'BAD_REQUEST',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  408: 'REQUEST_TIMEOUT',
  411: 'LENGTH_REQUIRED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'UNPROCESSABLE_CONTENT',
  429: 'TOO_MANY_REQUESTS',
  431: 'HEADERS_TOO_LARGE',
};

/** The 4xx status a framework error carries (`status` / `statusCode`, as http-errors and Fastify set them). */
function clientStatusOf(err: unknown): number | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const e = err as { status?: unknown; statusCode?: unknown };
  const s = typeof e.statusCode === 'number' ? e.statusCode : e.status;
  return typeof s === 'number' && Number.isInteger(s) && s >= 400 && s < 500 ? s : undefined;
}

/** HTTP status for an error raised while handling a request. */
export function statusFor(err: unknown): number {
  if (err instanceof HttpProblem) return err.status;
  if (err instanceof BlastwallError) return BY_CODE[err.code]?.[0] ?? 500;
  return clientStatusOf(err) ?? 500;
}

/**
 * Whether an answer tells the caller not to retry (`Blastwall-Overloaded: 1`): a 503 or 504 for a
 * blastwall error that is not retryable (shed, saturated, breaker open, budget exhausted, read-only,
 * closing, deadline spent) or that came out of a wall dependency after its own retries ran here
 * (retries happen at one layer only). Never on 4xx, on 500 (a bug) or on a store that is down.
 */
export function isFinalAnswer(err: unknown, status: number): boolean {
  return err instanceof BlastwallError && (status === 503 || status === 504) && (!err.retryable || err.dependency !== undefined);
}

/** A request id to report under: the caller's `X-Request-Id` when it is a plain token, else a new one. */
export function requestIdOf(header?: string): string {
  return header !== undefined && /^[\w.:-]{1,128}$/.test(header) ? header : randomUUID();
}

/** Writes errors answered 500 to stderr (one line, with the cause chain); see `ErrorReporter`. */
export const defaultReporter: ErrorReporter = (err, info) => {
  if (info.status !== 500) return;
  let text = err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err);
  for (let c = err instanceof Error ? err.cause : undefined, i = 0; c !== undefined && i < 5; c = c instanceof Error ? c.cause : undefined, i++) {
    text += `\n  [cause] ${c instanceof Error ? `${c.name}: ${c.message}` : String(c)}`;
  }
  process.stderr.write(`blastwall http: ${info.status} ${info.code} request ${info.requestId}${info.method === undefined ? '' : ` ${info.method} ${info.path ?? ''}`}: ${text}\n`);
};

/** Calls a reporter; one that throws is swallowed (reporting must never break an answer). */
export function reportError(reporter: ErrorReporter, err: unknown, info: ErrorInfo): void {
  try {
    reporter(err, info);
  } catch {
    // a broken logger must not turn an error answer into a hang or a crash
  }
}

/**
 * The answer for an error: problem+json with a generic title and a stable code, `Retry-After` when
 * known (503), `Blastwall-Overloaded: 1` when final (see `isFinalAnswer`). 5xx answers carry a request
 * id and are reported to `onError` (default `defaultReporter`) with the error itself.
 */
export function errorResponse(err: unknown, context: { requestId?: string; onError?: ErrorReporter; method?: string; path?: string } = {}): GuardResponse {
  if (err instanceof HttpProblem) {
    return problemResponse({ type: `urn:blastwall:error:${kebab(err.code)}`, title: err.title, status: err.status, code: err.code, ...(err.detail === undefined ? {} : { detail: err.detail }) }, err.headers);
  }
  const status = statusFor(err);
  const headers: Record<string, string> = {};
  let code: string;
  let title: string;
  if (status < 500) {
    code = err instanceof BlastwallError ? err.code : (CLIENT_CODES[status] ?? 'CLIENT_ERROR');
    title = err instanceof BlastwallError ? BY_CODE[err.code]![1] : (STATUS_CODES[status] ?? 'Client error');
    // a framework's client error (http-errors `expose`) is about the request, not about the server
    const expose = !(err instanceof BlastwallError) && (err as { expose?: unknown }).expose === true;
    const detail = expose ? String((err as Error).message) : undefined;
    if (status === 408 || status === 413) headers.connection = 'close';
    return problemResponse({ type: `urn:blastwall:error:${kebab(code)}`, title, status, code, ...(detail === undefined ? {} : { detail }) }, headers);
  }
  if (err instanceof BlastwallError && BY_CODE[err.code] !== undefined) {
    code = err.code;
    title = BY_CODE[err.code]![1];
    if (isFinalAnswer(err, status)) headers[OVERLOADED_HEADER] = '1';
    const after = err.retryAfterMs ?? (err.code === 'SHED' ? 1000 : undefined);
    if (after !== undefined && status === 503) headers['retry-after'] = String(Math.max(1, Math.ceil(after / 1000)));
  } else {
    code = 'INTERNAL';
    title = 'Internal error';
  }
  const requestId = context.requestId ?? randomUUID();
  reportError(context.onError ?? defaultReporter, err, { requestId, status, code, method: context.method, path: context.path });
  return problemResponse({ type: `urn:blastwall:error:${kebab(code)}`, title, status, code, requestId }, headers);
}
