import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorResponse, HttpGuard, type HttpGuardOptions } from './guard.js';
import { responseDone, writeResponse } from './node.js';
import type { Wall } from '../wall/wall.js';

interface ExpressReq extends IncomingMessage {
  path: string;
  get(name: string): string | undefined;
}
type ExpressNext = (err?: unknown) => void;

/**
 * Express middleware (mount it first): answers `/healthz` and `/metrics`, admits or sheds by priority,
 * and runs the rest of the chain inside the route's operation with the caller's deadline. Routes are
 * named by `options.routes` keys (`"POST /orders/:id"`).
 */
export function expressMiddleware(
  wallOrGuard: Wall | HttpGuard,
  options?: HttpGuardOptions,
): ((req: ExpressReq, res: ServerResponse, next: ExpressNext) => void) & { guard: HttpGuard } {
  const guard = wallOrGuard instanceof HttpGuard ? wallOrGuard : new HttpGuard(wallOrGuard, options);
  const mw = (req: ExpressReq, res: ServerResponse, next: ExpressNext): void => {
    const method = req.method ?? 'GET';
    guard
      .enter({ method, path: req.path, header: (n) => req.get(n) })
      .then((entry) => {
        if (entry.kind === 'respond') return writeResponse(res, entry.response, method === 'HEAD');
        return entry.admitted.run(() => {
          const done = responseDone(res);
          next();
          return done;
        });
      })
      .catch((err: unknown) => {
        if (!res.headersSent) writeResponse(res, errorResponse(err));
      });
  };
  return Object.assign(mw, { guard });
}

/** Express error handler (mount it last): blastwall errors become 503/504 with the don't-retry header. */
export function expressErrorHandler(): (err: unknown, req: IncomingMessage, res: ServerResponse, next: ExpressNext) => void {
  return (err, _req, res, next) => {
    if (res.headersSent) return next(err);
    writeResponse(res, errorResponse(err));
  };
}
