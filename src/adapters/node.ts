/** node:http adapters, grouped by framework: `import { guard, idempotency } from 'blastwall/adapters/node'`. */
import { nodeHandler } from '../http/node.js';
import { idempotentNode } from '../integrity/http.js';

/** Wraps a node:http request listener in the request guard: `createServer(guard(wall, listener))`. */
export const guard = nodeHandler;
/** Wraps a node:http handler in idempotency: `createServer(idempotency(options, handler))`. */
export const idempotency = idempotentNode;
