/**
 * The `Idempotency-Key` HTTP header (IETF draft-ietf-httpapi-idempotency-key-header) for node:http,
 * Express, Fastify and Hono.
 *
 * - The header is a Structured Field string (`Idempotency-Key: "8e03978e-…"`); anything else → 400.
 * - A route that requires a key answers 400 when it is missing.
 * - First request: processed; its response (status, the headers in `replayHeaders`, body) is stored
 *   atomically with what the handler recorded on its `Work` (effects, outbox, versioned writes, SQL).
 * - Same key again after completion: the stored response, with `Idempotent-Replayed: true` — successes
 *   and client errors (4xx) alike. 5xx answers are not stored (nothing the handler recorded is
 *   committed, and the key is released so a retry runs again) unless `storeServerErrors`.
 * - Same key with a different payload (method, path and body fingerprint) → 422 problem+json.
 * - Same key while the first is still in flight → 409 problem+json with `Retry-After`.
 * - Keys are scoped by caller: `scope(request)` is required at set-up (the account, tenant or user the
 *   request acts for), or `scope: 'global'` to share keys across every caller on purpose.
 * - Error answers are problem+json with a stable `code`; an error's own text never reaches the client
 *   (it goes to `onError` with the request id the client sees).
 * - Records expire after `ttl` of the Idempotency instance (default 24 h); an in-flight record whose
 *   process died frees the key when its lease (default 30 s) runs out.
 */
import { createHash } from 'node:crypto';
import { boolOption, configError, fnOption, intOption, isPlainObject, objectOption } from '../core/validate.js';
import { nestedDeeperThan, tooDeep } from '../http/json.js';
import { defaultReporter, errorResponse, type ErrorReporter, type GuardResponse, problemResponse, reportError, requestIdOf } from '../http/problem.js';
import type { StoredResponse } from '../stores/types.js';
import { canonicalJson, type Idempotency, type RunResult, scopedKey } from './idempotency.js';
import type { Work } from './work.js';

/** The request header that carries the key (lower-case, as node:http and the adapters look it up): `Idempotency-Key: "<key>"`. */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
/** The response header set to `true` on an answer replayed from the store (not on the first execution's own answer). */
export const REPLAYED_HEADER = 'idempotent-replayed';
const MAX_KEY_LENGTH = 255;

/** What a scope function sees of a request. */
export interface ScopeRequest {
  method: string;
  path: string;
  /** A request header by its lower-case name (several values joined with `,`), or undefined when absent. */
  header(name: string): string | undefined;
}

/** Options of {@link IdempotentHttp} and the HTTP adapters (`idempotentNode`, `expressIdempotency`, `installFastifyIdempotency`, `honoIdempotency`). */
export interface IdempotentHttpOptions {
  /** The guard that holds keys and stored answers (its `ttl` and `lease` apply to the HTTP records too). */
  idempotency: Idempotency;
  /**
   * Whose keys these are (required): a function naming the caller a request acts for — its account,
   * tenant or authenticated user, e.g. `(req) => sessionUser(req.header('cookie'))` — so two callers
   * sending the same key never see each other's stored answers. `'global'` shares one key space across
   * every caller (only when keys are unguessable and answers hold nothing private).
   */
  scope: ((req: ScopeRequest) => string) | 'global';
  /** Answer 400 when the header is missing (default true). When false, requests without a key run as usual. */
  required?: boolean;
  /** Response headers stored and replayed (lower-case; default content-type, location, etag, cache-control, retry-after). */
  replayHeaders?: readonly string[];
  /** Store and replay 5xx answers too (default false: a 5xx releases the key and commits nothing). */
  storeServerErrors?: boolean;
  /** Largest request body read by the node:http and Hono forms (default 1 MiB; larger → 413, read no further). */
  maxBodyBytes?: number;
  /** Receives every error answered 5xx with the request id the client sees (default: 500s to stderr). */
  onError?: ErrorReporter;
}

/**
 * Parses an Idempotency-Key value as a Structured Field sf-string (RFC 8941 §3.3.3), ignoring parameters.
 * `undefined` when absent, `null` when malformed (not a quoted string, bad escape, non-ASCII, empty,
 * longer than 255 characters, or several header lines).
 */
export function parseIdempotencyKey(value: string | readonly string[] | undefined | null): string | undefined | null {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    if (value.length === 0) return undefined;
    if (value.length !== 1) return null;
    value = value[0]!;
  }
  const s = value.replace(/^[ \t]+|[ \t]+$/g, '');
  if (s[0] !== '"') return null;
  let out = '';
  let i = 1;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c) {
      const n = s[i + 1];
      if (n !== '"' && n !== '\\') return null;
      out += n;
      i++;
    } else if (c === 0x22) {
      break;
    } else if (c < 0x20 || c > 0x7e) {
      return null;
    } else {
      out += s[i];
    }
  }
  if (i >= s.length) return null; // no closing quote
  const rest = s.slice(i + 1);
  if (rest.length > 0 && !/^(;[ ]*[a-z*][a-z0-9_.*-]*(=("([^"\\]|\\["\\])*"|[A-Za-z0-9_.:/*+%-]+|\?[01]))?)+$/.test(rest)) return null;
  if (out.length === 0 || out.length > MAX_KEY_LENGTH) return null;
  return out;
}

/** An answer to write: status, headers, body (the guard's response shape). */
export type HttpAnswer = GuardResponse;

function problem(status: number, type: string, code: string, title: string, detail: string, extra: Record<string, string> = {}): HttpAnswer {
  return problemResponse({ type: `urn:blastwall:idempotency:${type}`, title, status, code, detail }, extra);
}

/** 503 while the idempotency store cannot be reached: the caller may retry (no don't-retry header). */
function storeUnavailable(requestId: string): HttpAnswer {
  return problemResponse({ type: 'urn:blastwall:error:store-unavailable', title: 'Store unavailable', status: 503, code: 'STORE_UNAVAILABLE', requestId }, { 'retry-after': '1' });
}

/** The handler threw before answering: `run()` releases the key. */
class Abandoned extends Error {}

class NotStored extends Error {
  constructor(readonly response: StoredResponse) {
    super('server error: not stored');
  }
}

/** What {@link IdempotentHttp} needs of a request, whatever the framework; method, path and body make up its fingerprint. */
export interface IdempotentRequest {
  method: string;
  /** The path without the query string. */
  path: string;
  /**
   * A request header by its lower-case name (`idempotency-key`, `x-request-id`; several values joined
   * with `,`), or undefined when absent.
   */
  header(name: string): string | undefined;
  /** Raw bytes, or a parsed body (fingerprinted as canonical JSON). */
  body: unknown;
}

/**
 * What {@link IdempotentHttp.begin} decided: `respond` (send `response` now: a replay, a conflict, a
 * missing or malformed key) or `proceed` (run the handler with `work`, then call exactly one of
 * `finish` and `abandon`). `work` is undefined when the key is optional and the request has none.
 */
export type Begin =
  | { kind: 'respond'; response: HttpAnswer }
  | {
      kind: 'proceed';
      work: Work | undefined;
      /** Commits the handler's answer with its work (or releases the key for a 5xx) and returns what to send. */
      finish(response: HttpAnswer): Promise<HttpAnswer>;
      /** The handler failed before answering: commits nothing and releases the key at once. */
      abandon(): Promise<void>;
    };

/** The adapter-independent core: decide before the handler, commit after it. */
export class IdempotentHttp {
  readonly idempotency: Idempotency;
  private readonly required: boolean;
  private readonly scope: ((req: ScopeRequest) => string) | undefined;
  readonly onError: ErrorReporter;
  private readonly replayHeaders: ReadonlySet<string>;
  private readonly storeServerErrors: boolean;
  readonly maxBodyBytes: number;

  constructor(options: IdempotentHttpOptions) {
    if (isPlainObject(options) && 'identity' in options) {
      throw configError('identity', "absent: it was renamed `scope` (a function (request) => string, or 'global')", options.identity);
    }
    const o = objectOption('options', options, ['idempotency', 'scope', 'required', 'replayHeaders', 'storeServerErrors', 'maxBodyBytes', 'onError']);
    if (typeof (o.idempotency as { run?: unknown } | undefined)?.run !== 'function') {
      throw configError('idempotency', 'an Idempotency instance (createIdempotency({ store }))', o.idempotency);
    }
    this.idempotency = o.idempotency as Idempotency;
    const scope = o.scope;
    if (scope !== 'global' && typeof scope !== 'function') {
      throw configError('scope', "a function (request) => string naming the caller a request acts for (account, tenant, user), or 'global' to share keys across all callers", scope);
    }
    this.scope = scope === 'global' ? undefined : (scope as (req: ScopeRequest) => string);
    this.required = o.required === undefined ? true : boolOption('required', o.required);
    const replay = o.replayHeaders ?? ['content-type', 'location', 'etag', 'cache-control', 'retry-after'];
    if (!Array.isArray(replay) || !replay.every((h) => typeof h === 'string' && /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(h))) {
      throw configError('replayHeaders', 'an array of header names', o.replayHeaders);
    }
    this.replayHeaders = new Set((replay as string[]).map((h) => h.toLowerCase()));
    this.storeServerErrors = o.storeServerErrors === undefined ? false : boolOption('storeServerErrors', o.storeServerErrors);
    this.maxBodyBytes = o.maxBodyBytes === undefined ? 1024 * 1024 : intOption('maxBodyBytes', o.maxBodyBytes, 1);
    this.onError = o.onError === undefined ? defaultReporter : fnOption<ErrorReporter>('onError', o.onError);
  }

  /**
   * Runs `handler` at most once per key: answers replays, conflicts and malformed keys itself, commits
   * the handler's answer with its work, and when the handler throws, releases the key at once and answers
   * problem+json (an `HttpProblem` as its 4xx, anything else a generic 500 reported to `onError`). Never
   * rejects: a store that fails is a 503 `STORE_UNAVAILABLE`.
   */
  async handle(req: IdempotentRequest, handler: (work: Work | undefined) => Promise<HttpAnswer> | HttpAnswer): Promise<HttpAnswer> {
    const requestId = requestIdOf(req.header('x-request-id'));
    const fail = (err: unknown): HttpAnswer => errorResponse(err, { requestId, onError: this.onError, method: req.method, path: req.path });
    let b: Begin;
    try {
      b = await this.begin(req, requestId);
    } catch (err) {
      return this.storeFailure(err, requestId, req);
    }
    if (b.kind === 'respond') return b.response;
    let answer: HttpAnswer;
    try {
      answer = await handler(b.work);
    } catch (err) {
      await b.abandon();
      return fail(err);
    }
    try {
      return await b.finish(answer);
    } catch (err) {
      return this.storeFailure(err, requestId, req);
    }
  }

  /** A 503 for a store that failed, the error reported under the request id. */
  storeFailure(err: unknown, requestId: string, req?: { method: string; path: string }): HttpAnswer {
    reportError(this.onError, err, { requestId, status: 503, code: 'STORE_UNAVAILABLE', method: req?.method, path: req?.path });
    return storeUnavailable(requestId);
  }

  /**
   * Decides before the handler: an answer now (replay, conflict, malformed key), or proceed with the
   * handler's `Work`. Rejects only when the store fails. After `proceed`, call exactly one of `finish`
   * (with the answer) or `abandon` (the handler threw) — `handle()` does this for you.
   */
  async begin(req: IdempotentRequest, requestId = requestIdOf(req.header('x-request-id'))): Promise<Begin> {
    const key = parseIdempotencyKey(req.header(IDEMPOTENCY_KEY_HEADER));
    if (key === null) {
      return {
        kind: 'respond',
        response: problem(
          400,
          'malformed-key',
          'IDEMPOTENCY_KEY_MALFORMED',
          'Malformed Idempotency-Key',
          'The Idempotency-Key header must be one quoted string of 1–255 printable ASCII characters, e.g. Idempotency-Key: "8e03978e-40d5-43e8-bc93-6894a57f9324".',
        ),
      };
    }
    if (key === undefined) {
      if (this.required) {
        return {
          kind: 'respond',
          response: problem(400, 'missing-key', 'IDEMPOTENCY_KEY_MISSING', 'Idempotency-Key is missing', `${req.method} ${req.path} requires an Idempotency-Key header; retry with a unique key per operation.`),
        };
      }
      return { kind: 'proceed', work: undefined, finish: (r) => Promise.resolve(r), abandon: () => Promise.resolve() };
    }
    if (!(req.body instanceof Uint8Array) && typeof req.body !== 'string' && nestedDeeperThan(req.body)) {
      return { kind: 'respond', response: errorResponse(tooDeep()) };
    }
    let scope = '';
    if (this.scope !== undefined) {
      try {
        scope = this.scope({ method: req.method, path: req.path, header: req.header });
        if (typeof scope !== 'string') throw configError('scope(request)', 'to return a string', scope);
      } catch (err) {
        return { kind: 'respond', response: errorResponse(err, { requestId, onError: this.onError, method: req.method, path: req.path }) };
      }
    }
    const scoped = scopedKey(scope, key);
    const fp = createHash('sha256')
      .update(`${req.method.toUpperCase()} ${req.path}\n`)
      .update(req.body instanceof Uint8Array ? req.body : typeof req.body === 'string' ? req.body : canonicalJson(req.body ?? null))
      .digest('base64url');

    let respond!: (r: StoredResponse) => void;
    let abandoned!: (err: Abandoned) => void;
    const handlerResponse = new Promise<StoredResponse>((resolve, reject) => {
      respond = resolve;
      abandoned = reject;
    });
    let gotWork!: (w: Work) => void;
    const workP = new Promise<Work>((r) => (gotWork = r));
    const runP = this.idempotency.run(scoped, fp, (work) => {
      gotWork(work);
      return handlerResponse.then((r) => {
        if (r.status >= 500 && !this.storeServerErrors) throw new NotStored(r);
        return r;
      });
    });
    const first = await Promise.race([workP.then((w) => ({ w })), runP.then((r) => ({ r }))]);
    if ('r' in first) return { kind: 'respond', response: this.answer(first.r, key) };
    return {
      kind: 'proceed',
      work: first.w,
      finish: async (response) => {
        respond(this.toStored(response));
        try {
          const r = await runP;
          // the handler's own answer (with all its headers) when it was executed now
          return r.kind === 'executed' ? response : this.answer(r, key);
        } catch (err) {
          if (err instanceof NotStored || err instanceof Abandoned) return response; // nothing was committed
          throw err;
        }
      },
      abandon: async () => {
        abandoned(new Abandoned());
        await runP.catch(() => undefined); // run() released the key; nothing was committed
      },
    };
  }

  private toStored(r: HttpAnswer): StoredResponse {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.headers)) if (this.replayHeaders.has(k.toLowerCase())) headers[k.toLowerCase()] = v;
    return { status: r.status, headers, body: r.body };
  }

  private answer(r: RunResult, key: string): HttpAnswer {
    switch (r.kind) {
      case 'executed':
        return r.response;
      case 'replayed':
        return { status: r.response.status, headers: { ...r.response.headers, [REPLAYED_HEADER]: 'true' }, body: r.response.body };
      case 'mismatch':
        return problem(
          422,
          'key-reused',
          'IDEMPOTENCY_KEY_REUSED',
          'Idempotency-Key reused with a different request',
          `The key "${key}" was first used with a different method, path or body. Use a new key for a new request.`,
        );
      case 'in-flight':
        return problem(409, 'in-flight', 'IDEMPOTENCY_IN_FLIGHT', 'A request with this Idempotency-Key is being processed', `Retry after the first request with key "${key}" completes.`, {
          'retry-after': String(Math.max(1, Math.ceil(r.retryAfterMs / 1000))),
        });
      case 'lease-lost':
        return problem(409, 'lease-lost', 'IDEMPOTENCY_LEASE_LOST', 'The request took longer than its lease', `Nothing was committed for key "${key}"; retry with the same key.`, { 'retry-after': '1' });
    }
  }
}
