import { errorResponse, type GuardResponse, HttpGuard, type HttpGuardOptions } from './guard.js';
import type { Wall } from '../wall/wall.js';

/** The parts of Hono's Context the middleware uses. */
interface HonoContext {
  req: { method: string; path: string; header(name: string): string | undefined };
  res: Response;
  error?: unknown;
}

function toResponse(r: GuardResponse, head: boolean): Response {
  return new Response(head ? null : r.body, { status: r.status, headers: r.headers });
}

class HttpStatus extends Error {}

/**
 * Hono middleware (`app.use('*', honoMiddleware(wall, options))`): health, metrics, admission, and the
 * downstream handlers run inside the route's operation with the caller's deadline. A blastwall error
 * thrown by a handler becomes 503/504 with the don't-retry header.
 */
export function honoMiddleware(
  wallOrGuard: Wall | HttpGuard,
  options?: HttpGuardOptions,
): ((c: HonoContext, next: () => Promise<void>) => Promise<Response | undefined>) & { guard: HttpGuard } {
  const guard = wallOrGuard instanceof HttpGuard ? wallOrGuard : new HttpGuard(wallOrGuard, options);
  const mw = async (c: HonoContext, next: () => Promise<void>): Promise<Response | undefined> => {
    const head = c.req.method === 'HEAD';
    const entry = await guard.enter({ method: c.req.method, path: c.req.path, header: (n) => c.req.header(n) });
    if (entry.kind === 'respond') return toResponse(entry.response, head);
    try {
      await entry.admitted.run(async () => {
        await next();
        // Hono catches handler errors itself and keeps them on the context
        if (c.error !== undefined) throw c.error;
        if (c.res.status >= 500) throw new HttpStatus(String(c.res.status));
      });
      return undefined;
    } catch (err) {
      if (err instanceof HttpStatus) return undefined;
      // the handler already ran: Hono keeps the answer on the context
      c.res = toResponse(errorResponse(err), head);
      return undefined;
    }
  };
  return Object.assign(mw, { guard });
}
