import { receiveWebBody } from './body.js';
import { HttpGuard, type HttpGuardOptions, type Routing } from './guard.js';
import type { GuardResponse } from './problem.js';
import type { Wall } from '../wall/wall.js';

/** The parts of Hono's Context the middleware uses. */
interface HonoContext {
  req: { method: string; path: string; header(name: string): string | undefined; raw: Request };
  res: Response;
  error?: unknown;
}

function toResponse(r: GuardResponse, head: boolean): Response {
  return new Response(head ? null : r.body, { status: r.status, headers: r.headers });
}

class HttpStatus extends Error {}

/**
 * Hono middleware (`app.use('*', honoMiddleware(wall, options))`): health, metrics, the request body
 * received within the route's limits before admission (413/408 otherwise; handlers read it as usual from
 * `c.req`), admission, and the downstream handlers run inside the route's operation with the caller's
 * deadline. An error thrown by a handler becomes problem+json (see `errorResponse`).
 */
export function honoMiddleware(
  wallOrGuard: Wall | HttpGuard,
  options?: HttpGuardOptions,
): ((c: HonoContext, next: () => Promise<void>) => Promise<Response | undefined>) & { guard: HttpGuard } {
  const guard = wallOrGuard instanceof HttpGuard ? wallOrGuard : new HttpGuard(wallOrGuard, options);
  const mw = async (c: HonoContext, next: () => Promise<void>): Promise<Response | undefined> => {
    const method = c.req.method;
    const head = method === 'HEAD';
    let r: Routing;
    try {
      r = guard.route({ method, path: c.req.path, header: (n) => c.req.header(n) });
      if (r.kind === 'respond') return toResponse(await r.response, head);
    } catch (err) {
      return toResponse(guard.errorResponse(err, { method, path: c.req.path }), head);
    }
    const raw = c.req.raw;
    const got = await receiveWebBody(raw, r.routed.body);
    if (!got.ok) return got.response === undefined ? new Response(null, { status: 400, headers: { connection: 'close' } }) : toResponse(got.response, head);
    // the handlers read the received bytes from a fresh Request
    if (got.body !== undefined) c.req.raw = new Request(raw.url, { method, headers: raw.headers, body: got.body, signal: raw.signal });
    const entry = await r.routed.admit();
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
      c.res = toResponse(guard.errorResponse(err, { requestId: r.routed.requestId, method, path: c.req.path }), head);
      return undefined;
    }
  };
  return Object.assign(mw, { guard });
}
