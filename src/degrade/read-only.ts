import type { IncomingMessage, ServerResponse } from 'node:http';
import { BlastwallError } from '../core/errors.js';

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Something that can say whether writes are allowed now (the wall). */
export interface WriteGate {
  /**
   * Returns when writes are allowed; throws a {@link BlastwallError} with code `READ_ONLY` (and
   * `retryAfterMs`, used for the `Retry-After` header) while they are not. Any other error passes through
   * {@link readOnlyGuard} unchanged.
   */
  guardWrite(): void;
}

/**
 * An HTTP guard for node:http (and anything built on it): while the service is read-only, write methods
 * get 503 with `Retry-After` and a problem+json body; reads pass. Returns true when it answered.
 */
export function readOnlyGuard(gate: WriteGate): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    if (!WRITE_METHODS.has(req.method ?? 'GET')) return false;
    try {
      gate.guardWrite();
      return false;
    } catch (e) {
      if (!(e instanceof BlastwallError) || e.code !== 'READ_ONLY') throw e;
      const retryAfter = Math.max(1, Math.ceil((e.retryAfterMs ?? 30_000) / 1000));
      const body = JSON.stringify({
        type: 'https://blastwall.dev/problems/read-only',
        title: 'Service is read-only',
        status: 503,
        detail: e.message,
        retryAfterSeconds: retryAfter,
      });
      res.writeHead(503, {
        'content-type': 'application/problem+json',
        'retry-after': String(retryAfter),
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
      return true;
    }
  };
}
