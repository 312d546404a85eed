/**
 * Thin mounts of the dashboard's node:http listener in Fastify and Hono (Express takes it as it is:
 * `app.use('/ops', handler)`). Both hand the raw request and response to the listener, body unread.
 * Create the handler with the same `prefix` as the mount: `dashboardHandler(wall, { prefix: '/ops' })`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DashboardHandler } from './handler.js';

interface FastifyRequestLike {
  raw: IncomingMessage;
}
interface FastifyReplyLike {
  raw: ServerResponse;
  hijack(): void;
}
interface FastifyLike {
  removeAllContentTypeParsers(): void;
  addContentTypeParser(type: string, parser: (req: unknown, payload: unknown, done: (err: Error | null, body?: unknown) => void) => void): void;
  all(path: string, handler: (request: FastifyRequestLike, reply: FastifyReplyLike) => void): void;
}

/**
 * A Fastify plugin: `app.register(dashboardFastify(handler), { prefix: '/ops' })`. Inside it no body is parsed
 * (the dashboard reads and limits its own), and the reply is hijacked for the listener.
 */
export function dashboardFastify(handler: DashboardHandler): (app: FastifyLike) => Promise<void> {
  return async (app) => {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
    const route = (request: FastifyRequestLike, reply: FastifyReplyLike): void => {
      reply.hijack();
      handler(request.raw, reply.raw);
    };
    app.all('/', route);
    app.all('/*', route);
  };
}

/**
 * The answer that tells @hono/node-server the response was written already. Made when this module loads, with
 * the platform's Response (node-server replaces the global one with a lighter class when it starts serving,
 * and that class's responses are written without looking at the marker).
 */
const ALREADY_SENT = new Response(null, { headers: { 'x-hono-already-sent': 'true' } });

interface HonoContextLike {
  env: unknown;
}

/**
 * A Hono handler for a server run by @hono/node-server: `app.all('/ops/*', dashboardHono(handler))` (and
 * `app.all('/ops', …)`). Other runtimes have no node:http request to hand over: 501.
 */
export function dashboardHono(handler: DashboardHandler): (c: HonoContextLike) => Response {
  return (c) => {
    const env = (c.env ?? {}) as { incoming?: IncomingMessage; outgoing?: ServerResponse };
    if (env.incoming === undefined || env.outgoing === undefined) {
      return new Response(JSON.stringify({ status: 501, title: 'The dashboard mount needs @hono/node-server' }), { status: 501, headers: { 'content-type': 'application/problem+json' } });
    }
    handler(env.incoming, env.outgoing);
    // @hono/node-server leaves a response marked so alone (the listener writes it)
    return ALREADY_SENT;
  };
}
