import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpGuard, type HttpGuardOptions, type Routed, type Routing } from './guard.js';
import { guardNodeRequest, pathOf, respondWith, writeResponse } from './node.js';
import { errorResponse } from './problem.js';
import type { Wall } from '../wall/wall.js';

interface ExpressReq extends IncomingMessage {
  path: string;
  get(name: string): string | undefined;
}
type ExpressNext = (err?: unknown) => void;

/** Where the middleware leaves the guard and request id for `expressErrorHandler`. */
const GUARDED = Symbol('blastwall.guarded');
type Guarded = IncomingMessage & { [GUARDED]?: { guard: HttpGuard; routed: Routed } };

/**
 * Express middleware (mount it first): answers `/healthz` and `/metrics`, receives the request body
 * within the route's limits (413/408 otherwise; body parsers mounted after it read it as usual), admits or
 * sheds by priority, and runs the rest of the chain inside the route's operation with the caller's
 * deadline. Routes are named by `options.routes` keys (`"POST /orders/:id"`).
 */
export function expressMiddleware(
  wallOrGuard: Wall | HttpGuard,
  options?: HttpGuardOptions,
): ((req: ExpressReq, res: ServerResponse, next: ExpressNext) => void) & { guard: HttpGuard } {
  const guard = wallOrGuard instanceof HttpGuard ? wallOrGuard : new HttpGuard(wallOrGuard, options);
  const mw = (req: ExpressReq, res: ServerResponse, next: ExpressNext): void => {
    const method = req.method ?? 'GET';
    const head = method === 'HEAD';
    const path = req.path;
    let r: Routing;
    try {
      r = guard.route({ method, path, header: (n) => req.get(n) });
    } catch (err) {
      writeResponse(res, guard.errorResponse(err, { method, path }), head);
      return;
    }
    if (r.kind === 'respond') return respondWith(guard, res, r.response, head, { method, path });
    (req as Guarded)[GUARDED] = { guard, routed: r.routed };
    void guardNodeRequest(guard, r.routed, req, res, () => next(), head);
  };
  return Object.assign(mw, { guard });
}

/**
 * Express error handler (mount it last): every error becomes problem+json — blastwall errors 503/504 with
 * the don't-retry header when final, body-parser errors their 4xx, anything else a generic 500 — and the
 * detail goes to the guard's `onError` under the request id the client sees.
 */
export function expressErrorHandler(): (err: unknown, req: IncomingMessage, res: ServerResponse, next: ExpressNext) => void {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    const g = (req as Guarded)[GUARDED];
    const info = { method: req.method ?? 'GET', path: pathOf(req.url) };
    writeResponse(res, g === undefined ? errorResponse(err, info) : g.guard.errorResponse(err, { ...info, requestId: g.routed.requestId }));
  };
}
