/**
 * Receiving a request body before the request takes an admission slot: bounded in bytes and in time, so
 * a client uploading slowly (or endlessly) holds a socket and at most `maxBytes` of memory, never a slot
 * of the service's concurrency.
 */
import type { IncomingMessage } from 'node:http';
import { type Clock, type TimerHandle, realClock } from '../core/clock.js';
import { clientProblem, type GuardResponse } from './problem.js';

/**
 * How large and how slow a request body may be. {@link HttpGuard} computes these per request (see
 * `Routed.body`): the route's `maxBodyBytes`, and the smallest of the body timeout, the route's deadline
 * and the caller's deadline.
 */
export interface BodyLimits {
  /** Largest body accepted (bytes); larger → 413. */
  maxBytes: number;
  /** Longest the whole body may take to arrive (ms, on `clock`); longer → 408. `Infinity`: no time limit. */
  timeoutMs: number;
  /** The clock `timeoutMs` is measured on (the guard's clock; a `FakeClock` in tests). */
  clock: Clock;
}

/**
 * The result of receiving a body: the bytes (`ok: true`), an answer to send instead of running the handler
 * (413 or 408), or nothing to answer because the client disconnected first.
 */
export type BodyOutcome =
  /** `body` is undefined when the bytes were already in the request stream (read them from it). */
  | { ok: true; body: Buffer | undefined }
  /** Answer this (413 or 408, with `Connection: close`); the rest of the body is discarded, not buffered. */
  | { ok: false; response: GuardResponse }
  /** The client went away before its body arrived: nothing to answer. */
  | { ok: false; response: undefined };

export function tooLarge(maxBytes: number): GuardResponse {
  return clientProblem(413, 'PAYLOAD_TOO_LARGE', 'Request body too large', `The body exceeds ${maxBytes} bytes.`, { connection: 'close' });
}

export function tooSlow(timeoutMs: number): GuardResponse {
  return clientProblem(408, 'REQUEST_TIMEOUT', 'Request body too slow', `The body did not arrive within ${Math.round(timeoutMs)} ms.`, { connection: 'close' });
}

/** Whether the request head announces a body (HTTP/1.1: a non-zero Content-Length, or Transfer-Encoding). */
export function hasBody(headers: IncomingMessage['headers']): boolean {
  const te = headers['transfer-encoding'];
  if (te !== undefined && te !== '') return true;
  const cl = headers['content-length'];
  return cl !== undefined && cl !== '0' && cl.trim() !== '0';
}

function armTimer(limits: BodyLimits, fn: () => void): TimerHandle | undefined {
  if (!Number.isFinite(limits.timeoutMs)) return undefined;
  const h = limits.clock.setTimer(fn, Math.max(0, limits.timeoutMs));
  limits.clock.refTimer?.(h, false);
  return h;
}

/**
 * Receives a node:http request body, then hands the request on untouched: the bytes are taken from the
 * HTTP parser as they arrive (the request stream is never read, so no `'end'` is missed) and pushed back
 * into the request once complete, where the handler, `express.json()` or Fastify read them as usual.
 * Call it before anything reads the request (in the request listener or the first middleware).
 *
 * Over `maxBytes` (announced by Content-Length, or counted) or past `timeoutMs`, the outcome is the 413 or
 * 408 answer, and further bytes are read and dropped (not buffered) until the answer is written and the
 * connection closes, so the client reads the answer instead of a reset.
 */
export function receiveNodeBody(req: IncomingMessage, limits: BodyLimits): Promise<BodyOutcome> {
  if (!hasBody(req.headers)) return Promise.resolve({ ok: true, body: Buffer.alloc(0) });
  // too late to take the bytes from the parser: they are all in the stream already
  if (req.complete) return Promise.resolve({ ok: true, body: req.readableLength === 0 ? Buffer.alloc(0) : undefined });
  const announced = Number(req.headers['content-length']);
  if (Number.isFinite(announced) && announced > limits.maxBytes) {
    dropBody(req);
    return Promise.resolve({ ok: false, response: tooLarge(limits.maxBytes) });
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = req.readableLength;
    let settled = false;
    const settle = (outcome: BodyOutcome): void => {
      settled = true;
      if (timer !== undefined) limits.clock.clearTimer(timer);
      req.removeListener('close', onClose);
      resolve(outcome);
    };
    const onClose = (): void => {
      if (!settled) settle({ ok: false, response: undefined });
    };
    const timer = armTimer(limits, () => {
      if (settled) return;
      settle({ ok: false, response: tooSlow(limits.timeoutMs) });
    });
    // the HTTP parser hands body bytes to `push`: collect them here until the message is complete
    const own = (chunk: unknown, encoding?: BufferEncoding): boolean => {
      if (settled) return true; // answered already: drop what keeps coming
      if (chunk === null) {
        delete (req as { push?: unknown }).push;
        const body = Buffer.concat(chunks);
        const early = req.readableLength > 0; // bytes that reached the stream before we took over
        if (body.length > 0) req.push(body);
        req.push(null);
        settle({ ok: true, body: early ? undefined : body });
        return false;
      }
      const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string, encoding);
      size += b.length;
      if (size > limits.maxBytes) {
        chunks.length = 0;
        settle({ ok: false, response: tooLarge(limits.maxBytes) });
        return true;
      }
      chunks.push(b);
      return true;
    };
    (req as { push: unknown }).push = own;
    req.once('close', onClose);
    // bytes reached the stream before we took over (something async ran first): the parser may have
    // paused the socket at the stream's high-water mark; ask for more as a reader would
    if (size > 0) (req as unknown as { _read(n: number): void })._read(req.readableHighWaterMark);
  });
}

/**
 * Reads a whole request body from its stream, at most `max` bytes (null when larger; the rest is then
 * read and dropped). For bodies `receiveNodeBody` found already in the stream.
 */
export function readNodeStream(req: IncomingMessage, max: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > max) {
        over = true;
        chunks.length = 0;
        resolve(null);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(over ? null : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Reads and drops the rest of a body that will not be used (so the answer is not lost to a reset). */
function dropBody(req: IncomingMessage): void {
  (req as { push: unknown }).push = (): boolean => true;
}

/**
 * The same for a web `Request` (Hono): reads the body stream chunk by chunk, stopping at `maxBytes` or
 * `timeoutMs`, and returns the bytes to re-attach to a new `Request`.
 */
export function receiveWebBody(request: Request, limits: BodyLimits): Promise<{ ok: true; body: Uint8Array | undefined } | { ok: false; response: GuardResponse | undefined }> {
  const stream = request.body;
  if (stream === null) return Promise.resolve({ ok: true, body: undefined });
  const announced = Number(request.headers.get('content-length') ?? NaN);
  if (Number.isFinite(announced) && announced > limits.maxBytes) return Promise.resolve({ ok: false, response: tooLarge(limits.maxBytes) });
  const reader = stream.getReader();
  return new Promise((resolve) => {
    let settled = false;
    const timer = armTimer(limits, () => {
      if (settled) return;
      settled = true;
      resolve({ ok: false, response: tooSlow(limits.timeoutMs) });
    });
    const done = (r: { ok: true; body: Uint8Array | undefined } | { ok: false; response: GuardResponse | undefined }): void => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) limits.clock.clearTimer(timer);
      resolve(r);
    };
    const chunks: Uint8Array[] = [];
    let size = 0;
    const pump = (): void => {
      reader.read().then(
        ({ done: end, value }) => {
          if (settled) return;
          if (end) {
            const body = new Uint8Array(size);
            let at = 0;
            for (const c of chunks) {
              body.set(c, at);
              at += c.length;
            }
            return done({ ok: true, body });
          }
          size += value.byteLength;
          if (size > limits.maxBytes) return done({ ok: false, response: tooLarge(limits.maxBytes) });
          chunks.push(value);
          pump();
        },
        () => done({ ok: false, response: undefined }),
      );
    };
    pump();
  });
}

/**
 * Reads a request body of at most `max` bytes: null when it is larger — the bytes already read are
 * dropped and the rest is read and discarded (never buffered), so the 413 you write reaches the client
 * instead of a reset. Call it in the request listener, before anything reads the request.
 */
export async function readBody(req: IncomingMessage, max: number): Promise<Buffer | null> {
  const got = await receiveNodeBody(req, { maxBytes: max, timeoutMs: Number.POSITIVE_INFINITY, clock: realClock });
  if (got.ok) return got.body ?? readNodeStream(req, max);
  if (got.response === undefined) throw new Error('the client closed the connection before its body arrived');
  return null;
}
