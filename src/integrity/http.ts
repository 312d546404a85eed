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
 * - Keys are scoped by caller identity (`identity(header)`, default: a hash of `Authorization`).
 * - Records expire after `ttl` of the Idempotency instance (default 24 h); an in-flight record whose
 *   process died frees the key when its lease (default 30 s) runs out.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { configError, isPlainObject } from '../core/validate.js';
import type { GuardResponse } from '../http/guard.js';
import { headerReader, pathOf, writeResponse } from '../http/node.js';
import type { StoredResponse } from '../stores/types.js';
import { canonicalJson, type Idempotency, type RunResult, scopedKey } from './idempotency.js';
import type { Work } from './work.js';

export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
export const REPLAYED_HEADER = 'idempotent-replayed';
const MAX_KEY_LENGTH = 255;

export interface IdempotentHttpOptions {
  idempotency: Idempotency;
  /** Answer 400 when the header is missing (default true). When false, requests without a key run as usual. */
  required?: boolean;
  /** Caller identity used to scope keys (default: SHA-256 of the Authorization header, or `anonymous`). */
  identity?: (header: (name: string) => string | undefined) => string;
  /** Response headers stored and replayed (lower-case; default content-type, location, etag, cache-control, retry-after). */
  replayHeaders?: readonly string[];
  /** Store and replay 5xx answers too (default false: a 5xx releases the key and commits nothing). */
  storeServerErrors?: boolean;
  /** Largest request body read by the node:http form (default 1 MiB; larger → 413). */
  maxBodyBytes?: number;
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

function problem(status: number, type: string, title: string, detail: string, extra: Record<string, string> = {}): HttpAnswer {
  return {
    status,
    headers: { 'content-type': 'application/problem+json', ...extra },
    body: JSON.stringify({ type: `urn:blastwall:idempotency:${type}`, title, status, detail }),
  };
}

class NotStored extends Error {
  constructor(readonly response: StoredResponse) {
    super('server error: not stored');
  }
}

export interface IdempotentRequest {
  method: string;
  path: string;
  header(name: string): string | undefined;
  /** Raw bytes, or a parsed body (fingerprinted as canonical JSON). */
  body: unknown;
}

export type Begin =
  | { kind: 'respond'; response: HttpAnswer }
  | { kind: 'proceed'; work: Work | undefined; finish(response: HttpAnswer): Promise<HttpAnswer> };

/** The adapter-independent core: decide before the handler, commit after it. */
export class IdempotentHttp {
  readonly idempotency: Idempotency;
  private readonly required: boolean;
  private readonly identity: (header: (name: string) => string | undefined) => string;
  private readonly replayHeaders: ReadonlySet<string>;
  private readonly storeServerErrors: boolean;
  readonly maxBodyBytes: number;

  constructor(options: IdempotentHttpOptions) {
    if (!isPlainObject(options) || typeof (options.idempotency as { run?: unknown } | undefined)?.run !== 'function') {
      throw configError('idempotency', 'an Idempotency instance (createIdempotency({ store }))', (options as { idempotency?: unknown } | undefined)?.idempotency);
    }
    this.idempotency = options.idempotency;
    this.required = options.required ?? true;
    this.identity =
      options.identity ??
      ((h) => {
        const auth = h('authorization');
        return auth === undefined ? 'anonymous' : createHash('sha256').update(auth).digest('base64url');
      });
    this.replayHeaders = new Set((options.replayHeaders ?? ['content-type', 'location', 'etag', 'cache-control', 'retry-after']).map((h) => h.toLowerCase()));
    this.storeServerErrors = options.storeServerErrors ?? false;
    this.maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
    if (!Number.isInteger(this.maxBodyBytes) || this.maxBodyBytes < 1) throw configError('maxBodyBytes', 'an integer ≥ 1', options.maxBodyBytes);
  }

  async begin(req: IdempotentRequest): Promise<Begin> {
    const key = parseIdempotencyKey(req.header(IDEMPOTENCY_KEY_HEADER));
    if (key === null) {
      return {
        kind: 'respond',
        response: problem(400, 'malformed-key', 'Malformed Idempotency-Key', 'The Idempotency-Key header must be one quoted string of 1–255 printable ASCII characters, e.g. Idempotency-Key: "8e03978e-40d5-43e8-bc93-6894a57f9324".'),
      };
    }
    if (key === undefined) {
      if (this.required) {
        return {
          kind: 'respond',
          response: problem(400, 'missing-key', 'Idempotency-Key is missing', `${req.method} ${req.path} requires an Idempotency-Key header; retry with a unique key per operation.`),
        };
      }
      return { kind: 'proceed', work: undefined, finish: (r) => Promise.resolve(r) };
    }
    const scoped = scopedKey(this.identity(req.header), key);
    const fp = createHash('sha256')
      .update(`${req.method.toUpperCase()} ${req.path}\n`)
      .update(req.body instanceof Uint8Array ? req.body : typeof req.body === 'string' ? req.body : canonicalJson(req.body ?? null))
      .digest('base64url');

    let respond!: (r: StoredResponse) => void;
    const handlerResponse = new Promise<StoredResponse>((resolve) => (respond = resolve));
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
          if (err instanceof NotStored) return response;
          throw err;
        }
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
        return problem(422, 'key-reused', 'Idempotency-Key reused with a different request', `The key "${key}" was first used with a different method, path or body. Use a new key for a new request.`);
      case 'in-flight':
        return problem(409, 'in-flight', 'A request with this Idempotency-Key is being processed', `Retry after the first request with key "${key}" completes.`, {
          'retry-after': String(Math.max(1, Math.ceil(r.retryAfterMs / 1000))),
        });
      case 'lease-lost':
        return problem(409, 'lease-lost', 'The request took longer than its lease', `Nothing was committed for key "${key}"; retry with the same key.`, { 'retry-after': '1' });
    }
  }
}

/** Reads a request body of at most `max` bytes (null when it is larger; the request is then destroyed). */
export function readBody(req: IncomingMessage, max: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        resolve(null);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export type IdempotentNodeHandler = (req: IncomingMessage, ctx: { body: Buffer; work: Work | undefined }) => Promise<HttpAnswer> | HttpAnswer;

/** node:http: reads the body, decides, runs `handler` (which returns its answer), commits, answers. */
export function idempotentNode(options: IdempotentHttpOptions | IdempotentHttp, handler: IdempotentNodeHandler): (req: IncomingMessage, res: ServerResponse) => void {
  const core = options instanceof IdempotentHttp ? options : new IdempotentHttp(options);
  return (req, res) => {
    void (async () => {
      const body = await readBody(req, core.maxBodyBytes);
      if (body === null) return writeResponse(res, problem(413, 'too-large', 'Request body too large', `The body exceeds ${core.maxBodyBytes} bytes.`));
      const b = await core.begin({ method: req.method ?? 'GET', path: pathOf(req.url), header: headerReader(req.headers), body });
      if (b.kind === 'respond') return writeResponse(res, b.response);
      let answer: HttpAnswer;
      try {
        answer = await handler(req, { body, work: b.work });
      } catch (err) {
        answer = { status: 500, headers: { 'content-type': 'text/plain' }, body: `internal error: ${err instanceof Error ? err.message : String(err)}` };
      }
      writeResponse(res, await b.finish(answer));
    })().catch((err: unknown) => writeResponse(res, { status: 503, headers: { 'content-type': 'text/plain', 'retry-after': '1' }, body: `idempotency store unavailable: ${String(err)}` }));
  };
}

/** Express: mount after the body parser; the handler finds its Work on `req.idempotency`. */
export function expressIdempotency(
  options: IdempotentHttpOptions | IdempotentHttp,
): (req: IncomingMessage & { body?: unknown; path?: string; idempotency?: Work }, res: ServerResponse, next: (err?: unknown) => void) => void {
  const core = options instanceof IdempotentHttp ? options : new IdempotentHttp(options);
  return (req, res, next) => {
    const hasBody = (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0') || req.headers['transfer-encoding'] !== undefined;
    if (req.body === undefined && hasBody) {
      // without the body the fingerprint cannot tell two payloads apart: refuse rather than replay wrongly
      next(new TypeError('expressIdempotency: mount a body parser (express.json(), express.raw() or express.text()) before it'));
      return;
    }
    core
      .begin({ method: req.method ?? 'GET', path: req.path ?? pathOf(req.url), header: headerReader(req.headers), body: req.body ?? null })
      .then((b) => {
        if (b.kind === 'respond') return writeResponse(res, b.response);
        if (b.work !== undefined) req.idempotency = b.work;
        captureNode(res, b.finish);
        next();
      })
      .catch(next);
  };
}

/** Buffers what the handler writes on a node response, commits, then sends the committed answer. */
function captureNode(res: ServerResponse, finish: (a: HttpAnswer) => Promise<HttpAnswer>): void {
  const chunks: Buffer[] = [];
  const origWrite = res.write.bind(res);
  const origEnd = res.end.bind(res);
  const origWriteHead = res.writeHead.bind(res);
  // writeHead would send the head at once: keep its status and headers on the response instead
  res.writeHead = ((status: number, a?: unknown, b?: unknown) => {
    res.statusCode = status;
    const h = typeof a === 'string' ? b : a;
    if (Array.isArray(h)) {
      for (let i = 0; i + 1 < h.length; i += 2) res.setHeader(String(h[i]), String(h[i + 1]));
    } else if (h !== undefined && h !== null) {
      for (const [k, v] of Object.entries(h as Record<string, unknown>)) if (v !== undefined) res.setHeader(k, v as string);
    }
    return res;
  }) as typeof res.writeHead;
  const toBuf = (c: unknown, enc?: unknown): Buffer =>
    Buffer.isBuffer(c) ? c : typeof c === 'string' ? Buffer.from(c, (typeof enc === 'string' ? enc : 'utf8') as BufferEncoding) : Buffer.from(c as Uint8Array);
  res.write = ((c: unknown, enc?: unknown, cb?: unknown) => {
    if (c !== undefined && c !== null) chunks.push(toBuf(c, enc));
    if (typeof enc === 'function') (enc as () => void)();
    else if (typeof cb === 'function') (cb as () => void)();
    return true;
  }) as typeof res.write;
  res.end = ((c?: unknown, enc?: unknown) => {
    if (c !== undefined && c !== null && typeof c !== 'function') chunks.push(toBuf(c, enc));
    res.write = origWrite;
    res.end = origEnd;
    res.writeHead = origWriteHead;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.getHeaders())) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : String(v);
    const answer: HttpAnswer = { status: res.statusCode, headers, body: Buffer.concat(chunks).toString('utf8') };
    finish(answer)
      .then((out) => {
        if (out !== answer) {
          for (const h of res.getHeaderNames()) res.removeHeader(h);
          for (const [k, v] of Object.entries(out.headers)) res.setHeader(k, v);
          res.statusCode = out.status;
        }
        res.setHeader('content-length', String(Buffer.byteLength(out.body)));
        origEnd(out.body);
      })
      .catch((err: unknown) => {
        res.statusCode = 503;
        for (const h of res.getHeaderNames()) res.removeHeader(h);
        origEnd(`idempotency store unavailable: ${String(err)}`);
      });
    return res;
  }) as typeof res.end;
}

interface FastifyRequestLike {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body?: unknown;
  routeOptions?: { url?: string | undefined };
  idempotency?: Work;
}
interface FastifyReplyLike {
  statusCode: number;
  getHeaders(): Record<string, unknown>;
  code(status: number): FastifyReplyLike;
  headers(h: Record<string, string>): FastifyReplyLike;
  removeHeader(name: string): FastifyReplyLike;
  send(body?: unknown): FastifyReplyLike;
}
interface FastifyLike {
  addHook(name: 'preHandler', fn: (req: FastifyRequestLike, reply: FastifyReplyLike) => Promise<unknown>): unknown;
  addHook(name: 'onSend', fn: (req: FastifyRequestLike, reply: FastifyReplyLike, payload: unknown) => Promise<unknown>): unknown;
}

/**
 * Fastify: hooks on an instance or an encapsulated plugin scope (`app.register(async (s) => {
 * installFastifyIdempotency(s, options); s.post(...) })`). The handler finds its Work on `request.idempotency`.
 */
export function installFastifyIdempotency(app: FastifyLike, options: IdempotentHttpOptions | IdempotentHttp): IdempotentHttp {
  const core = options instanceof IdempotentHttp ? options : new IdempotentHttp(options);
  const finishers = new WeakMap<FastifyRequestLike, (a: HttpAnswer) => Promise<HttpAnswer>>();
  app.addHook('preHandler', async (req, reply) => {
    const b = await core.begin({ method: req.method, path: pathOf(req.url), header: headerReader(req.headers), body: req.body ?? null });
    if (b.kind === 'respond') {
      finishers.set(req, (a) => Promise.resolve(a));
      return reply.code(b.response.status).headers(b.response.headers).send(b.response.body);
    }
    if (b.work !== undefined) req.idempotency = b.work;
    finishers.set(req, b.finish);
    return undefined;
  });
  app.addHook('onSend', async (req, reply, payload) => {
    const finish = finishers.get(req);
    if (finish === undefined) return payload;
    finishers.delete(req);
    if (payload !== null && payload !== undefined && typeof payload !== 'string' && !Buffer.isBuffer(payload)) {
      throw new TypeError('idempotent Fastify routes must send a string, Buffer or object body (not a stream)');
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(reply.getHeaders())) if (v !== undefined) headers[k] = String(v);
    const answer: HttpAnswer = { status: reply.statusCode, headers, body: payload === null || payload === undefined ? '' : payload.toString() };
    const out = await finish(answer);
    if (out === answer) return payload;
    for (const k of Object.keys(reply.getHeaders())) reply.removeHeader(k);
    reply.code(out.status).headers(out.headers);
    return out.body;
  });
  return core;
}

interface HonoContextLike {
  req: { method: string; path: string; header(name: string): string | undefined; raw: Request };
  res: Response;
  set(key: 'idempotency', value: Work): void;
}

/** Hono middleware; the handler finds its Work with `c.get('idempotency')`. */
export function honoIdempotency(options: IdempotentHttpOptions | IdempotentHttp): (c: HonoContextLike, next: () => Promise<void>) => Promise<Response | undefined> {
  const core = options instanceof IdempotentHttp ? options : new IdempotentHttp(options);
  return async (c, next) => {
    const body = new Uint8Array(await c.req.raw.clone().arrayBuffer());
    if (body.byteLength > core.maxBodyBytes) {
      const p = problem(413, 'too-large', 'Request body too large', `The body exceeds ${core.maxBodyBytes} bytes.`);
      return new Response(p.body, { status: p.status, headers: p.headers });
    }
    const b = await core.begin({ method: c.req.method, path: c.req.path, header: (n) => c.req.header(n), body });
    if (b.kind === 'respond') return new Response(b.response.body, { status: b.response.status, headers: b.response.headers });
    if (b.work !== undefined) c.set('idempotency', b.work);
    await next();
    const headers: Record<string, string> = {};
    c.res.headers.forEach((v, k) => (headers[k] = v));
    const answer: HttpAnswer = { status: c.res.status, headers, body: await c.res.clone().text() };
    const out = await b.finish(answer);
    if (out !== answer) c.res = new Response(out.body, { status: out.status, headers: out.headers });
    return undefined;
  };
}
