import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorResponse, type GuardResponse, HttpGuard, type HttpGuardOptions } from './guard.js';
import type { Wall } from '../wall/wall.js';

/** Writes a guard answer on a node:http response (if nothing was sent yet). */
export function writeResponse(res: ServerResponse, r: GuardResponse, head = false): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(r.status, { ...r.headers, 'content-length': String(Buffer.byteLength(r.body)) });
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
    res.once('close', () => (res.statusCode >= 500 ? reject(new Error(`HTTP ${res.statusCode}`)) : resolve()));
  });
}

export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => unknown;

/**
 * Wraps a node:http request listener: `/healthz`, `/metrics`, operation by route, priority, the
 * caller's deadline, admission control. The handler runs inside the operation until the response closes;
 * an error it throws (or rejects with) is answered with `errorResponse`.
 */
export function nodeHandler(
  wallOrGuard: Wall | HttpGuard,
  handler: NodeHandler,
  options?: HttpGuardOptions,
): ((req: IncomingMessage, res: ServerResponse) => void) & { guard: HttpGuard } {
  const guard = wallOrGuard instanceof HttpGuard ? wallOrGuard : new HttpGuard(wallOrGuard, options);
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const method = req.method ?? 'GET';
    guard
      .enter({ method, path: pathOf(req.url), header: headerReader(req.headers) })
      .then((entry) => {
        if (entry.kind === 'respond') return writeResponse(res, entry.response, method === 'HEAD');
        return entry.admitted.run(() => {
          const done = responseDone(res);
          return Promise.all([handler(req, res), done]).then(() => undefined);
        });
      })
      .catch((err: unknown) => {
        if (!res.writableEnded) writeResponse(res, errorResponse(err));
      });
  };
  return Object.assign(listener, { guard });
}
