/**
 * The fault admin route: `faultsHandler(wall, { token })` for node:http. It exists only when the wall's
 * faults are on (404 otherwise, as for any unknown path) and answers only to `Authorization: Bearer <token>`
 * (401 otherwise; compared in constant time).
 *
 *   GET    /_blastwall/faults        → 200 { enabled, active: [...] }
 *   POST   /_blastwall/faults        → 201 { id, ... }   body { dependency, fault, options? }
 *   DELETE /_blastwall/faults        → 200 { cleared }
 *   DELETE /_blastwall/faults/<id>   → 200 { stopped: id } | 404
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BlastwallError } from '../core/errors.js';
import { configError, intOption, isPlainObject, objectOption, stringOption } from '../core/validate.js';
import { readBody } from './body.js';
import { pathOf } from './node.js';
import type { Fault } from '../chaos/faults.js';
import type { InjectOptions } from '../chaos/injector.js';
import type { WallFaults } from '../chaos/wall-faults.js';

/** Options of {@link faultsHandler}. */
export interface FaultsHandlerOptions {
  /**
   * The bearer token callers must present in `Authorization: Bearer <token>` (at least 16 characters;
   * shorter throws `CONFIG_INVALID`). Keep it secret: whoever holds it can inject faults.
   */
  token: string;
  /** Path prefix the route answers under (starts with `/`, no trailing `/`). Default `/_blastwall/faults`. */
  path?: string;
  /** Largest accepted request body, in bytes (64 to 1 MiB); larger → 413. Default 16 KiB. */
  maxBodyBytes?: number;
}

/**
 * A node:http handler (usable as Express/Connect middleware): answers requests under its path and returns
 * true; for any other path it calls `next` (when given) and returns false, so it can run first in a plain
 * request listener: `if (!faults(req, res)) app(req, res)`.
 */
export type FaultsHandler = (req: IncomingMessage, res: ServerResponse, next?: () => void) => boolean;

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Constant-time comparison of a presented token with the expected one (both hashed to equal length first). */
export function tokenMatches(presented: string | undefined, expected: Buffer): boolean {
  if (presented === undefined) return false;
  return timingSafeEqual(digest(presented), expected);
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

/**
 * Returns a handler that answers requests under `path` and returns true; for other paths it calls
 * `next` (when given) and returns false.
 */
export function faultsHandler(wall: { readonly faults: WallFaults }, options: FaultsHandlerOptions): FaultsHandler {
  const o = objectOption('faultsHandler options', options, ['token', 'path', 'maxBodyBytes']);
  const token = stringOption('token', o.token);
  if (token.length < 16) throw configError('token', 'a secret of at least 16 characters', `${token.slice(0, 2)}… (${token.length} characters)`);
  const expected = digest(token);
  const base = o.path === undefined ? '/_blastwall/faults' : stringOption('path', o.path, /^\/[A-Za-z0-9_./-]*[A-Za-z0-9_-]$/);
  const maxBody = o.maxBodyBytes === undefined ? 16_384 : intOption('maxBodyBytes', o.maxBodyBytes, 64, 1_048_576);
  return (req, res, next) => {
    const path = pathOf(req.url);
    if (path !== base && !path.startsWith(`${base}/`)) {
      next?.();
      return false;
    }
    const faults = wall.faults;
    if (!faults.enabled) {
      send(res, 404, { error: 'not-found' });
      return true;
    }
    const auth = req.headers.authorization;
    const presented = typeof auth === 'string' && /^Bearer /i.test(auth) ? auth.slice(7).trim() : undefined;
    if (!tokenMatches(presented, expected)) {
      send(res, 401, { error: 'unauthorized' }, { 'www-authenticate': 'Bearer realm="blastwall-faults"' });
      return true;
    }
    const rest = path.slice(base.length);
    const method = req.method ?? 'GET';
    if (rest === '' && method === 'GET') send(res, 200, { enabled: true, active: faults.active() });
    else if (rest === '' && method === 'DELETE') send(res, 200, { cleared: faults.clear() });
    else if (/^\/\d{1,9}$/.test(rest) && method === 'DELETE') {
      const id = Number(rest.slice(1));
      if (faults.stop(id)) send(res, 200, { stopped: id });
      else send(res, 404, { error: 'not-found', message: `No active fault with id ${id}` });
    } else if (rest === '' && method === 'POST') {
      readBody(req, maxBody).then(
        (body) => {
          if (body === null) return send(res, 413, { error: 'too-large', message: `The body exceeds ${maxBody} bytes` });
          try {
            const parsed = parseInjection(body);
            const handle = faults.inject(parsed.dependency, parsed.fault, parsed.options);
            send(res, 201, faults.active().find((a) => a.id === handle.id) ?? { id: handle.id });
          } catch (err) {
            if (err instanceof BlastwallError && err.code === 'CONFIG_INVALID') send(res, 400, { error: 'invalid', message: err.message });
            else send(res, 500, { error: 'internal' });
          }
        },
        () => {
          if (!res.headersSent) send(res, 400, { error: 'invalid', message: 'The request body could not be read' });
        },
      );
    } else send(res, 405, { error: 'method-not-allowed' }, { allow: rest === '' ? 'GET, POST, DELETE' : 'DELETE' });
    return true;
  };
}

/** Parses `{ dependency, fault, options? }` from JSON; the fault and options are validated by `inject`. */
export function parseInjection(body: Buffer): { dependency: string; fault: Fault; options: InjectOptions } {
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch {
    throw configError('body', 'JSON { dependency, fault, options? }', body.toString('utf8').slice(0, 60));
  }
  if (!isPlainObject(v)) throw configError('body', 'JSON { dependency, fault, options? }', v);
  const b = objectOption('body', v, ['dependency', 'fault', 'options']);
  return {
    dependency: stringOption('dependency', b.dependency),
    fault: b.fault as Fault,
    options: (b.options ?? {}) as InjectOptions,
  };
}
