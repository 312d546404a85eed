/** Hono adapters, grouped by framework: `import { guard, idempotency } from 'blastwall/adapters/hono'`. */
import { honoMiddleware } from '../http/hono.js';
import { honoIdempotency } from '../integrity/http.js';

/** The request guard as Hono middleware: `app.use(guard(wall))`. */
export const guard = honoMiddleware;
/** Idempotency as Hono middleware. */
export const idempotency = honoIdempotency;
