import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorResponse, HttpGuard, type HttpGuardOptions, type RouteSpec } from './guard.js';
import { pathOf, responseDone } from './node.js';
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

/**
 * Installs blastwall on a Fastify instance (at the root, before `listen`): health, metrics, admission, and
 * the route's operation — named by the route pattern (`GET /users/:id`), with priority and deadline from
 * the route's `config: { blastwall: { operation, priority, deadline } }` — plus an error handler turning
 * blastwall errors into 503/504 with the don't-retry header (`errorHandler: false` keeps yours).
 */
export function installFastify(app: FastifyLike, wallOrGuard: Wall | HttpGuard, options?: HttpGuardOptions & { errorHandler?: boolean }): HttpGuard {
  const { errorHandler = true, ...rest } = options ?? {};
  const guard = wallOrGuard instanceof HttpGuard ? wallOrGuard : new HttpGuard(wallOrGuard, rest);
  app.addHook('onRequest', (req, reply, done) => {
    const pattern = req.routeOptions?.url;
    const cfg = req.routeOptions?.config as { blastwall?: RouteSpec } | undefined;
    const path = pathOf(req.url);
    // route config wins; then the guard's own `routes`; else the operation is named by the pattern
    const useRoute = pattern !== undefined && pattern !== '' && (cfg?.blastwall !== undefined || guard.match(req.method, path) === undefined);
    guard
      .enter({
        method: req.method,
        path,
        header: (n) => {
          const v = req.headers[n];
          return Array.isArray(v) ? v.join(',') : v;
        },
        ...(useRoute ? { route: { key: `${req.method} ${pattern}`, spec: cfg?.blastwall } } : {}),
      })
      .then((entry) => {
        if (entry.kind === 'respond') {
          reply.code(entry.response.status).headers(entry.response.headers).send(req.method === 'HEAD' ? undefined : entry.response.body);
          return;
        }
        return entry.admitted.run(() => {
          const finished = responseDone(reply.raw);
          done();
          return finished;
        });
      })
      .catch((err: unknown) => {
        if (!reply.sent) {
          const r = errorResponse(err);
          reply.code(r.status).headers(r.headers).send(r.body);
        }
      });
  });
  if (errorHandler) {
    app.setErrorHandler((err, _req, reply) => {
      const sc = (err as unknown as { statusCode?: unknown }).statusCode;
      const r = errorResponse(err);
      if (r.status === 500 && typeof sc === 'number') return reply.code(sc).send({ error: err.name, message: err.message });
      return reply.code(r.status).headers(r.headers).send(r.body);
    });
  }
  return guard;
}
