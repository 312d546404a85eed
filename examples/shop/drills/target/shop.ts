/**
 * The shop as its drills run it: `createShop` (its wall, dependencies and operations, unchanged) with fault
 * injection on, plus what a game day needs around it — admission control by priority at the door, a mode
 * rule (a core dependency unavailable → `degraded`), a validated `catalog` of prices, and a durable store in
 * which each order's charge is claimed once by its idempotency key, so effects can be counted afterwards.
 */
import { randomUUID } from 'node:crypto';
import {
  AdmissionController,
  type AttemptContext,
  type IntegrityStore,
  memoryStore,
  modeRules,
  sleep,
  watchStore,
} from 'blastwall';
import type { DrillApp, DrillEnv, DrillRequest } from 'blastwall/testing';
import { z } from 'zod';
import { createShop } from '../../service.js';

export interface DrillShopOptions {
  /** The durable store (default an in-memory one); the wall watches it as the core dependency `store:<kind>`. */
  store?: () => Promise<IntegrityStore> | IntegrityStore;
  /** Admission: in-flight limit at the door (default 64) and queue (default 128). */
  admission?: { limit?: number; queue?: number };
  /** Deliberately broken: browse calls recommendations without its fallback (as if it were core). */
  withoutFallback?: boolean;
  /** Called after the wall is closed (drop a schema, stop a proxy, ...). */
  cleanup?: () => Promise<void> | void;
}

/** A price as the catalog must answer it; anything else is quarantined and never reaches an order. */
export const Price = z.object({ sku: z.string().min(1), cents: z.number().int().positive() });
export type Price = z.infer<typeof Price>;

export interface DrillShop extends DrillApp {
  store: IntegrityStore;
  /** Charges made, by order (a real effect of the payments function). */
  charges: Map<string, number>;
  /** Orders whose charge ran more than once. */
  duplicateCharges(): Promise<string[]>;
  /** Orders stored with a price that is not a valid `Price`. */
  badOrders(): Promise<number>;
}

export function drillShop(options: DrillShopOptions = {}): (env: DrillEnv) => Promise<DrillShop> {
  return async (env) => {
    const { clock, random } = env;
    const store = options.store ? await options.store() : memoryStore();
    const shop = createShop({ clock, random, timeline: env.timeline, wall: { faults: true, modeDwell: '500ms' } });
    const { wall } = shop;
    wall.rules([modeRules.anyCore(['unavailable'], 'degraded')]);
    const payments = wall.get('payments');
    const email = wall.get('email');
    const recs = wall.get('recommendations');
    const catalog = wall.dependency('catalog', {
      criticality: 'optional',
      timeout: '80ms',
      retry: false,
      validate: Price,
      fallback: null, // no price, no order: checkout fails rather than inventing one
      cache: { fresh: '200ms', stale: '10m' },
      health: { window: '2s', minDwellMs: 300, minimumCalls: 5 },
    });
    const checkout = wall.operations().find((o) => o.name === 'checkout')!;
    const browse = wall.operations().find((o) => o.name === 'browse')!;
    const admission = new AdmissionController({ clock, limit: options.admission?.limit ?? 64, queue: options.admission?.queue ?? 128 });
    const charges = new Map<string, number>();
    // the store is a core dependency; its timeout sits below checkout's 500 ms deadline, so a store that
    // stops answering is judged (and its breaker opened) by its own timeout, not by callers giving up; the
    // breaker opens at 25% failures over its 10 s window, so an outage shows within seconds
    const wstore = watchStore(wall, store, { timeout: '250ms', halfOpenAfter: '1s', failureRate: 0.25 });
    /** Stores take time in whole milliseconds (a clock may return fractions). */
    const nowMs = (): number => Math.floor(clock.now());

    async function price(ctx: AttemptContext): Promise<Price> {
      await sleep(clock, 2, ctx.signal);
      return { sku: 'socks', cents: 1299 };
    }

    async function charge(order: string, cents: number, ctx: AttemptContext): Promise<{ id: string; cents: number }> {
      await sleep(clock, 5, ctx.signal);
      charges.set(order, (charges.get(order) ?? 0) + 1);
      return { id: `ch_${Math.floor(random() * 1e9).toString(36)}`, cents };
    }

    async function placeOrder(req: DrillRequest): Promise<unknown> {
      const order = `order-${req.seq}`;
      const token = randomUUID();
      const claim = await wstore.claim({ key: order, fingerprint: 'checkout', token, now: nowMs(), leaseMs: 10_000 });
      if (claim.state === 'completed') return JSON.parse(claim.response.body) as unknown;
      if (claim.state !== 'claimed') throw Object.assign(new Error(`order ${order} is ${claim.state}`), { code: 'CONFLICT' });
      const p = (await catalog.attempt(price, { key: 'socks' })).value as Price | null;
      if (p === null) throw Object.assign(new Error('no valid price for socks'), { code: 'NO_PRICE' });
      const c = await payments.call((ctx) => charge(order, p.cents, ctx));
      const response = { status: 200, headers: {}, body: JSON.stringify(c) };
      const done = await wstore.commit({
        complete: { key: order, token, response, expiresAt: nowMs() + 3_600_000 },
        effects: [{ collection: 'orders', id: order, data: { charge: c.id, price: p } }],
        now: nowMs(),
      });
      if (!done.ok) throw Object.assign(new Error(`order ${order}: ${done.reason}`), { code: 'CONFLICT' });
      await email.call(async () => {
        await sleep(clock, 2);
      });
      return c;
    }

    async function loadRecs(ctx: AttemptContext): Promise<string[]> {
      await sleep(clock, 3, ctx.signal);
      return ['socks', 'scarf'];
    }

    /** The door, as the HTTP guard does it: the deadline counts from arrival, the admission wait spends it. */
    const admitted = async <T>(priority: DrillRequest['priority'], deadlineMs: number, work: (remainingMs: number) => Promise<T>): Promise<T> => {
      const arrived = clock.now();
      const ticket = await admission.admit(priority, { deadlineMs });
      let ok = false;
      try {
        const v = await work(deadlineMs - (clock.now() - arrived));
        ok = true;
        return v;
      } finally {
        ticket.release(ok);
      }
    };

    return {
      wall,
      store: wstore,
      charges,
      operations: {
        checkout: (req) => admitted(req.priority, checkout.deadlineMs, (left) => checkout.run(() => placeOrder(req), { priority: req.priority, deadlineMs: left })),
        browse: (req) =>
          admitted<unknown>(req.priority, browse.deadlineMs, (left) =>
            options.withoutFallback ? browse.run(() => recs.call(loadRecs, { criticality: 'core' }), { priority: req.priority, deadlineMs: left }) : shop.browse(),
          ),
      },
      duplicateCharges: () => Promise.resolve([...charges].filter(([, n]) => n > 1).map(([o]) => o)),
      badOrders: async () => {
        const orders = await store.effects('orders');
        return orders.filter((o) => !Price.safeParse((o.data as { price?: unknown }).price).success).length;
      },
      close: async () => {
        admission.close();
        await wall.close();
        await store.close();
        await options.cleanup?.();
      },
    };
  };
}
