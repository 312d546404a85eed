/** Fastify adapters, grouped by framework: `import { guard, idempotency } from 'blastwall/adapters/fastify'`. */
import { installFastify } from '../http/fastify.js';
import { installFastifyIdempotency } from '../integrity/http.js';

/** Installs the request guard on a Fastify app: `guard(app, wall)`. */
export const guard = installFastify;
/** Installs idempotency on a Fastify app: `idempotency(app, options)`. */
export const idempotency = installFastifyIdempotency;
