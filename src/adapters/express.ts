/**
 * Express adapters, grouped by framework: `import { guard, idempotency, errorHandler } from
 * 'blastwall/adapters/express'` (or `import * as bw from ...` and `bw.guard(wall)`).
 */
import { expressErrorHandler, expressMiddleware } from '../http/express.js';
import { expressIdempotency } from '../integrity/http.js';

/** The request guard as Express middleware (priority, deadline, shedding, read-only): `app.use(guard(wall))`. */
export const guard = expressMiddleware;
/** Turns blastwall errors thrown by handlers into problem responses. */
export const errorHandler = expressErrorHandler;
/** Idempotency for Express routes: a repeated request with the same key gets the stored answer. */
export const idempotency = expressIdempotency;
