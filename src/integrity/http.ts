/**
 * The Idempotency-Key layer for node:http (`idempotentNode`, `readBody`), Express, Fastify and Hono, around
 * the adapter-independent `IdempotentHttp` (./idempotent-http.ts, which documents the contract).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { realClock } from '../core/clock.js';
import { readNodeStream, receiveNodeBody, receiveWebBody, tooLarge } from '../http/body.js';
import { headerReader, pathOf, writeResponse } from '../http/node.js';
import { errorResponse, requestIdOf } from '../http/problem.js';
import { type Begin, type HttpAnswer, IdempotentHttp, type IdempotentHttpOptions } from './idempotent-http.js';
import type { Work } from './work.js';

export * from './idempotent-http.js';

// readBody is an HTTP helper (src/http/body.ts); re-exported here where it was first offered
export { readBody } from '../http/body.js';

/**
 * The handler `idempotentNode` runs for the first request of a key: it gets the request, the body already
 * read (`body`, the raw bytes that were fingerprinted) and the `work` to record durable writes on
 * (undefined when the key is optional and the request has none), and returns the answer (`status`,
 * `headers`, `body` as a string) instead of writing to the response. The answer is committed with the
 * work and replayed for later requests with the same key (a 5xx only with `storeServerErrors`). A
 * handler that throws commits nothing and releases the key; the client gets problem+json (an
 * `HttpProblem`'s own status, anything else a 500).
 */
export type IdempotentNodeHandler = (req: IncomingMessage, ctx: { body: Buffer; work: Work | undefined }) => Promise<HttpAnswer> | HttpAnswer;

/**
 * node:http: receives the body (over `maxBodyBytes` → 413 with `Connection: close`, the rest discarded),
 * then `IdempotentHttp.handle`: decides, runs `handler` (which returns its answer), commits, answers.
 */
export function idempotentNode(options: IdempotentHttpOptions | IdempotentHttp, handler: IdempotentNodeHandler): (req: IncomingMessage, res: ServerResponse) => void {
  const core = options instanceof IdempotentHttp ? options : new IdempotentHttp(options);
  return (req, res) => {
    receiveNodeBody(req, { maxBytes: core.maxBodyBytes, timeoutMs: Number.POSITIVE_INFINITY, clock: realClock })
      .then(async (got) => {
        if (!got.ok) {
          if (got.response !== undefined) writeResponse(res, got.response);
          return;
        }
        const body = got.body ?? (await readNodeStream(req, core.maxBodyBytes));
        if (body === null) return writeResponse(res, tooLarge(core.maxBodyBytes));
        writeResponse(res, await core.handle({ method: req.method ?? 'GET', path: pathOf(req.url), header: headerReader(req.headers), body }, (work) => handler(req, { body, work })));
      })
      .catch((err: unknown) => {
        // handle() never rejects: this is a failure writing the answer
        if (!res.headersSent) writeResponse(res, errorResponse(err, { onError: core.onError }));
      });
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
    const requestId = requestIdOf(req.headers['x-request-id'] as string | undefined);
    const path = req.path ?? pathOf(req.url);
    core
      .begin({ method: req.method ?? 'GET', path, header: headerReader(req.headers), body: req.body ?? null }, requestId)
      .then((b) => {
        if (b.kind === 'respond') return writeResponse(res, b.response);
        if (b.work !== undefined) req.idempotency = b.work;
        captureNode(res, b.finish, (err) => core.storeFailure(err, requestId, { method: req.method ?? 'GET', path }));
        // a handler that fails without answering (the response closes unanswered) releases the key
        res.once('close', () => {
          if (!res.writableFinished) void b.abandon();
        });
        next();
      })
      .catch((err: unknown) => writeResponse(res, core.storeFailure(err, requestId, { method: req.method ?? 'GET', path })));
  };
}

/** Buffers what the handler writes on a node response, commits, then sends the committed answer. */
function captureNode(res: ServerResponse, finish: (a: HttpAnswer) => Promise<HttpAnswer>, failed: (err: unknown) => HttpAnswer): void {
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
        const out = failed(err);
        for (const h of res.getHeaderNames()) res.removeHeader(h);
        for (const [k, v] of Object.entries(out.headers)) res.setHeader(k, v);
        res.statusCode = out.status;
        res.setHeader('content-length', String(Buffer.byteLength(out.body)));
        origEnd(out.body);
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
    const requestId = requestIdOf(req.headers['x-request-id'] as string | undefined);
    const info = { method: req.method, path: pathOf(req.url) };
    let b: Begin;
    try {
      b = await core.begin({ ...info, header: headerReader(req.headers), body: req.body ?? null }, requestId);
    } catch (err) {
      const out = core.storeFailure(err, requestId, info);
      finishers.set(req, (a) => Promise.resolve(a));
      return reply.code(out.status).headers(out.headers).send(out.body);
    }
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
    let out: HttpAnswer;
    try {
      out = await finish(answer);
    } catch (err) {
      out = core.storeFailure(err, requestIdOf(req.headers['x-request-id'] as string | undefined), { method: req.method, path: pathOf(req.url) });
    }
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
  const toResponse = (a: HttpAnswer): Response => new Response(a.body, { status: a.status, headers: a.headers });
  return async (c, next) => {
    const method = c.req.method;
    const path = c.req.path;
    const raw = c.req.raw;
    // read while streaming: stop at maxBodyBytes (never buffer a larger body), then hand on a fresh Request
    const got = await receiveWebBody(raw, { maxBytes: core.maxBodyBytes, timeoutMs: Number.POSITIVE_INFINITY, clock: realClock });
    if (!got.ok) return got.response === undefined ? new Response(null, { status: 400, headers: { connection: 'close' } }) : toResponse(got.response);
    const body = got.body ?? new Uint8Array(0);
    if (got.body !== undefined) c.req.raw = new Request(raw.url, { method, headers: raw.headers, body, signal: raw.signal });
    const requestId = requestIdOf(c.req.header('x-request-id'));
    let b: Begin;
    try {
      b = await core.begin({ method, path, header: (n) => c.req.header(n), body }, requestId);
    } catch (err) {
      return toResponse(core.storeFailure(err, requestId, { method, path }));
    }
    if (b.kind === 'respond') return toResponse(b.response);
    if (b.work !== undefined) c.set('idempotency', b.work);
    try {
      await next();
    } catch (err) {
      await b.abandon();
      throw err;
    }
    const headers: Record<string, string> = {};
    c.res.headers.forEach((v, k) => (headers[k] = v));
    const answer: HttpAnswer = { status: c.res.status, headers, body: await c.res.clone().text() };
    let out: HttpAnswer;
    try {
      out = await b.finish(answer);
    } catch (err) {
      out = core.storeFailure(err, requestId, { method, path });
    }
    if (out !== answer) c.res = toResponse(out);
    return undefined;
  };
}
