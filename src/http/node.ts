import type { IncomingMessage, ServerResponse } from 'node:http';
import { BlastwallError } from '../core/errors.js';
import { hasBody, receiveNodeBody } from './body.js';
import { type Entry, HttpGuard, type HttpGuardOptions, type Routed, type Routing } from './guard.js';
import type { GuardResponse } from './problem.js';
import type { Wall } from '../wall/wall.js';

/** Writes a guard answer on a node:http response (if nothing was sent yet). */
export function writeResponse(res: ServerResponse, r: GuardResponse, head = false): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  const headers: Record<string, string> = {};
  for (const k in r.headers) headers[k] = r.headers[k]!;
  headers['content-length'] = String(Buffer.byteLength(r.body));
  res.writeHead(r.status, headers);
  res.end(head ? undefined : r.body);
}

/** Reads request headers by lower-case name (repeated ones joined with a comma). */
export function headerReader(headers: Record<string, string | string[] | undefined>): (name: string) => string | undefined {
  return (name) => {
    const v = headers[name];
    return Array.isArray(v) ? v.join(',') : v;
  };
}

/** The path of a request URL, without its query. */
export function pathOf(url: string | undefined): string {
  const u = url ?? '/';
  const q = u.indexOf('?');
  return q === -1 ? u : u.slice(0, q);
}

/** Settles when the response is done: rejects for 5xx (the admission limiter learns only from successes). */
export function responseDone(res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const settle = () => (res.statusCode >= 500 ? reject(new Error(`HTTP ${res.statusCode}`)) : resolve());
    // a client that left while the request waited for admission closed it already: 'close' will not come again
    if (res.destroyed) reject(new Error('the client closed the connection before the handler ran'));
    else res.once('close', settle);
  });
}

/**
 * The node-side flow every IncomingMessage adapter shares: receive the body within the route's limits
 * (answering 413/408 itself), then take an admission slot, then run `next` inside the operation until the
 * response closes. Resolves when the request is answered; never rejects.
 */
export function guardNodeRequest(guard: HttpGuard, routed: Routed, req: IncomingMessage, res: ServerResponse, next: () => unknown, head: boolean): Promise<void> {
  const fail = (err: unknown): void => {
    // a 5xx the handler wrote itself is already answered (responseDone rejects to teach the limiter)
    if (!res.headersSent) writeResponse(res, guard.errorResponse(err, { requestId: routed.requestId, method: req.method ?? 'GET', path: pathOf(req.url) }), head);
    else if (!res.writableEnded) res.end();
  };
  const enter = (entry: Entry): Promise<void> | undefined => {
    if (entry.kind === 'respond') {
      writeResponse(res, entry.response, head);
      return undefined;
    }
    // the client left while the request waited for admission: its work would be thrown away, so the
    // handler does not run (on a saturated loop it would take the turn of a request still wanted)
    if (res.destroyed) return entry.admitted.run(() => Promise.reject(new BlastwallError('ABORTED', 'The client closed the connection while the request waited'))).catch(() => undefined);
    return entry.admitted.run(() => {
      const done = responseDone(res);
      return Promise.all([next(), done]).then(() => undefined);
    });
  };
  if (!hasBody(req.headers)) {
    // no body to wait for: admission decides in this turn, and a refusal is answered at once, without
    // promise hops (a saturated loop refuses hundreds of requests a second; see docs/overload.md)
    try {
      const entry = routed.admitNow();
      const done = entry instanceof Promise ? entry.then(enter) : enter(entry);
      return done === undefined ? Promise.resolve() : done.catch(fail);
    } catch (err) {
      fail(err);
      return Promise.resolve();
    }
  }
  return receiveNodeBody(req, routed.body)
    .then(async (got) => {
      if (!got.ok) {
        if (got.response !== undefined) writeResponse(res, got.response, head);
        return;
      }
      await enter(await routed.admitNow());
    })
    .catch(fail);
}

/** Writes a `route()` answer (metrics arrive asynchronously); a failure is answered as problem+json. */
export function respondWith(guard: HttpGuard, res: ServerResponse, response: GuardResponse | Promise<GuardResponse>, head: boolean, info: { method: string; path: string }): void {
  Promise.resolve(response).then(
    (r) => writeResponse(res, r, head),
    (err: unknown) => writeResponse(res, guard.errorResponse(err, info), head),
  );
}

/**
 * A node:http request listener (`(req, res)`) as {@link nodeHandler} wraps it. The operation lasts until
 * the response closes and a promise it returns settles; a throw or rejection is answered with
 * problem+json when nothing was sent yet.
 */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => unknown;

/**
 * Wraps a node:http request listener: `/healthz`, `/metrics`, operation by route, priority, the
 * caller's deadline, the body received within its limits (before admission: a slow upload never holds a
 * slot), admission control. The handler runs inside the operation until the response closes and reads
 * the request as usual; an error it throws (or rejects with) is answered with problem+json.
 */
export function nodeHandler(
  wallOrGuard: Wall | HttpGuard,
  handler: NodeHandler,
  options?: HttpGuardOptions,
): ((req: IncomingMessage, res: ServerResponse) => void) & { guard: HttpGuard } {
  const guard = wallOrGuard instanceof HttpGuard ? wallOrGuard : new HttpGuard(wallOrGuard, options);
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const method = req.method ?? 'GET';
    const head = method === 'HEAD';
    const path = pathOf(req.url);
    let r: Routing;
    try {
      r = guard.route({ method, path, header: headerReader(req.headers) });
    } catch (err) {
      writeResponse(res, guard.errorResponse(err, { method, path }), head);
      return;
    }
    if (r.kind === 'route') {
      // synchronously, so the body's bytes are taken from the first one (see receiveNodeBody)
      void guardNodeRequest(guard, r.routed, req, res, () => handler(req, res), head);
      return;
    }
    respondWith(guard, res, r.response, head, { method, path });
  };
  return Object.assign(listener, { guard });
}
