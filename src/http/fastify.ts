import type { IncomingMessage, ServerResponse } from 'node:http';
import { receiveNodeBody } from './body.js';
import { HttpGuard, type HttpGuardOptions, type Routed, type RouteSpec, type Routing } from './guard.js';
import { pathOf, responseDone } from './node.js';
import type { GuardResponse } from './problem.js';
import type { Wall } from '../wall/wall.js';

/** The parts of a Fastify instance, request and reply the adapter uses. */
interface FastifyRequestLike {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  raw: IncomingMessage;
  routeOptions?: { url?: string | undefined; config?: unknown };
}
interface FastifyReplyLike {
  raw: ServerResponse;
  sent: boolean;
  code(status: number): FastifyReplyLike;
  headers(h: Record<string, string>): FastifyReplyLike;
  send(body?: unknown): FastifyReplyLike;
}
type Done = (err?: Error) => void;
interface FastifyLike {
  addHook(name: 'onRequest', fn: (req: FastifyRequestLike, reply: FastifyReplyLike, done: Done) => void): unknown;
  setErrorHandler(fn: (err: Error, req: FastifyRequestLike, reply: FastifyReplyLike) => unknown): unknown;
}

function send(reply: FastifyReplyLike, r: GuardResponse, head: boolean): void {
  if (!reply.sent) reply.code(r.status).headers(r.headers).send(head ? undefined : r.body);
}

/**
 * Installs blastwall on a Fastify instance (at the root, before `listen`): health, metrics, the request
 * body received within the route's limits before admission (413/408 otherwise; Fastify then parses it as
 * usual, its own `bodyLimit` still applies), admission, and the route's operation — named by the route
 * pattern (`GET /users/:id`), with priority, deadline and `maxBodyBytes` from the route's
 * `config: { blastwall: { … } }` — plus an error handler answering every error as problem+json
 * (`errorHandler: false` keeps yours).
 */
export function installFastify(app: FastifyLike, wallOrGuard: Wall | HttpGuard, options?: HttpGuardOptions & { errorHandler?: boolean }): HttpGuard {
  const { errorHandler = true, ...rest } = options ?? {};
  const guard = wallOrGuard instanceof HttpGuard ? wallOrGuard : new HttpGuard(wallOrGuard, rest);
  const routedOf = new WeakMap<FastifyRequestLike, Routed>();
  app.addHook('onRequest', (req, reply, done) => {
    const pattern = req.routeOptions?.url;
    const cfg = req.routeOptions?.config as { blastwall?: RouteSpec } | undefined;
    const path = pathOf(req.url);
    const head = req.method === 'HEAD';
    // route config wins; then the guard's own `routes`; else the operation is named by the pattern
    const useRoute = pattern !== undefined && pattern !== '' && (cfg?.blastwall !== undefined || guard.match(req.method, path) === undefined);
    let r: Routing;
    try {
      r = guard.route({
        method: req.method,
        path,
        header: (n) => {
          const v = req.headers[n];
          return Array.isArray(v) ? v.join(',') : v;
        },
        ...(useRoute ? { route: { key: `${req.method} ${pattern}`, spec: cfg?.blastwall } } : {}),
      });
    } catch (err) {
      send(reply, guard.errorResponse(err, { method: req.method, path }), head);
      return;
    }
    if (r.kind === 'respond') {
      Promise.resolve(r.response).then(
        (x) => send(reply, x, head),
        (err: unknown) => send(reply, guard.errorResponse(err, { method: req.method, path }), head),
      );
      return;
    }
    const routed = r.routed;
    routedOf.set(req, routed);
    receiveNodeBody(req.raw, routed.body)
      .then(async (got) => {
        if (!got.ok) {
          if (got.response !== undefined) send(reply, got.response, head);
          return;
        }
        const entry = await routed.admit();
        if (entry.kind === 'respond') return send(reply, entry.response, head);
        await entry.admitted.run(() => {
          const finished = responseDone(reply.raw);
          done();
          return finished;
        });
      })
      .catch((err: unknown) => {
        // a 5xx already sent (by the handler or the error handler) only teaches the limiter
        if (!reply.sent && !reply.raw.headersSent) send(reply, guard.errorResponse(err, { requestId: routed.requestId, method: req.method, path }), head);
      });
  });
  if (errorHandler) {
    app.setErrorHandler((err, req, reply) => {
      const r = guard.errorResponse(err, { requestId: routedOf.get(req)?.requestId, method: req.method, path: pathOf(req.url) });
      return reply.code(r.status).headers(r.headers).send(r.body);
    });
  }
  return guard;
}
