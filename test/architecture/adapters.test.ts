import { describe, expect, it } from 'vitest';
import * as expressAdapters from 'blastwall/adapters/express';
import * as fastifyAdapters from 'blastwall/adapters/fastify';
import * as honoAdapters from 'blastwall/adapters/hono';
import * as nodeAdapters from 'blastwall/adapters/node';
import { expressErrorHandler, expressMiddleware, honoMiddleware, installFastify, nodeHandler } from 'blastwall/http';
import { expressIdempotency, honoIdempotency, idempotentNode, installFastifyIdempotency } from '../../src/integrity/http.js';

describe('adapters grouped by framework (the old names stay, the same functions)', () => {
  it('each framework offers guard and idempotency under the package subpath blastwall/adapters/<framework>', () => {
    expect({ ...expressAdapters }).toEqual({ guard: expressMiddleware, idempotency: expressIdempotency, errorHandler: expressErrorHandler });
    expect({ ...fastifyAdapters }).toEqual({ guard: installFastify, idempotency: installFastifyIdempotency });
    expect({ ...honoAdapters }).toEqual({ guard: honoMiddleware, idempotency: honoIdempotency });
    expect({ ...nodeAdapters }).toEqual({ guard: nodeHandler, idempotency: idempotentNode });
  });
});
