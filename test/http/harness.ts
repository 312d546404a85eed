/**
 * One service, four adapters: the same routes served through node:http, Express, Fastify and Hono on
 * 127.0.0.1, so each HTTP-hardening test runs against every adapter.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { expressErrorHandler, expressMiddleware } from '../../src/http/express.js';
import { installFastify } from '../../src/http/fastify.js';
import type { HttpGuard, HttpGuardOptions, RouteSpec } from '../../src/http/guard.js';
import { honoMiddleware } from '../../src/http/hono.js';
import { nodeHandler } from '../../src/http/node.js';
import type { Wall } from '../../src/wall/wall.js';

/** A route's behaviour: gets the request body (as text) and returns a JSON-able value, or throws. */
export type RouteFn = (body: string) => unknown;

export interface Route {
  method: 'GET' | 'POST';
  path: string;
  spec: RouteSpec;
  fn: RouteFn;
}

export interface Served {
  url: string;
  port: number;
  guard: HttpGuard;
  /** The HTTP server (request events, connections). */
  server: Server;
  close(): Promise<void>;
}

export type Adapter = (wall: Wall, routes: Route[], options: HttpGuardOptions) => Promise<Served>;

function readAll(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function closer(server: Server): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
}

const guardRoutes = (routes: Route[]): Record<string, RouteSpec> => Object.fromEntries(routes.map((r) => [`${r.method} ${r.path}`, r.spec]));

const node: Adapter = async (wall, routes, options) => {
  const listener = nodeHandler(
    wall,
    async (req, res) => {
      const r = routes.find((x) => x.method === req.method && x.path === (req.url ?? '/').split('?')[0]);
      if (r === undefined) {
        res.writeHead(404).end();
        return;
      }
      const value = await r.fn(await readAll(req));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    },
    { ...options, routes: guardRoutes(routes) },
  );
  const server = createServer(listener);
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, port, guard: listener.guard, server, close: closer(server) };
};

const expressAdapter: Adapter = async (wall, routes, options) => {
  const app = express();
  const mw = expressMiddleware(wall, { ...options, routes: guardRoutes(routes) });
  app.use(mw);
  app.use(express.text({ type: '*/*', limit: '1mb' }));
  for (const r of routes) {
    const m = r.method === 'GET' ? app.get.bind(app) : app.post.bind(app);
    m(r.path, async (req, res) => {
      res.json(await r.fn(typeof req.body === 'string' ? req.body : ''));
    });
  }
  app.use(expressErrorHandler());
  const server = createServer(app);
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, port, guard: mw.guard, server, close: closer(server) };
};

const fastifyAdapter: Adapter = async (wall, routes, options) => {
  const app = Fastify();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  const guard = installFastify(app, wall, options);
  for (const r of routes) {
    app.route({ method: r.method, url: r.path, config: { blastwall: r.spec }, handler: async (req) => r.fn(typeof req.body === 'string' ? req.body : '') });
  }
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    guard,
    server: app.server,
    close: async () => {
      app.server.closeAllConnections();
      await app.close();
    },
  };
};

const honoAdapter: Adapter = async (wall, routes, options) => {
  const app = new Hono();
  // Hono logs a handler's error with console.error before blastwall answers it; the tests read errors from the answer
  app.onError((_err, c) => c.text('', 500));
  const mw = honoMiddleware(wall, { ...options, routes: guardRoutes(routes) });
  app.use('*', mw);
  for (const r of routes) {
    app.on(r.method, r.path, async (c) => c.json((await r.fn(await c.req.text())) as object));
  }
  const server = await new Promise<Server>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s as Server));
  });
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, port, guard: mw.guard, server, close: closer(server) };
};

export const ADAPTERS: [string, Adapter][] = [
  ['node:http', node],
  ['express', expressAdapter],
  ['fastify', fastifyAdapter],
  ['hono', honoAdapter],
];
