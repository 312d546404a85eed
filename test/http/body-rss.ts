/**
 * Measures what a 300 MiB request body costs `honoIdempotency` with the default `maxBodyBytes` (1 MiB):
 * how much of the body the client was asked for before the 413, and the process RSS before and at peak.
 *
 *   node --import tsx --expose-gc test/http/body-rss.ts
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { honoIdempotency } from '../../src/integrity/http.js';
import { createIdempotency } from '../../src/integrity/idempotency.js';
import { MemoryStore } from '../../src/stores/memory/index.js';

const MiB = 1 << 20;
const app = new Hono();
app.use('/p', honoIdempotency({ idempotency: createIdempotency({ store: new MemoryStore() }), scope: 'global' }) as never);
app.post('/p', (c) => c.json({ ok: true }, 201));
const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
await new Promise<void>((r) => (server.listening ? r() : server.once('listening', () => r())));
const port = (server.address() as AddressInfo).port;
(globalThis as { gc?: () => void }).gc?.();
const before = process.memoryUsage().rss;
let peak = before;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
let pulled = 0;
const chunk = new Uint8Array(MiB).fill(97);
const body = new ReadableStream<Uint8Array>({
  pull(c) {
    if (pulled >= 300 * MiB) return c.close();
    pulled += chunk.length;
    c.enqueue(chunk);
  },
});
const r = await fetch(`http://127.0.0.1:${port}/p`, { method: 'POST', headers: { 'idempotency-key': '"k"' }, body, duplex: 'half' } as RequestInit);
await r.text();
clearInterval(sampler);
process.stdout.write(
  `status ${r.status}; offered 300 MiB, asked of the client ${(pulled / MiB).toFixed(0)} MiB; RSS before ${(before / MiB).toFixed(0)} MiB, peak ${(peak / MiB).toFixed(0)} MiB\n`,
);
server.closeAllConnections();
server.close();
