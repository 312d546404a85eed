/**
 * Corrupt responses: the catalog answers prices of the wrong shape for 4 s. Every such answer fails
 * validation and is quarantined, the catalog turns `corrupt`, checkout keeps selling at the last valid
 * (cached) price, and no order with a bad price reaches the store.
 */
import { defineDrill, dependency, fault, integrity, operation } from 'blastwall/testing';
import { type DrillShop, drillShop } from './target/shop.js';

export default defineDrill({
  name: 'corrupt catalog',
  description: 'The catalog answers `{ sku, cents: "12.99" }` instead of integer cents for 4 s.',
  target: { app: drillShop() },
  load: { duration: '9s', operations: { checkout: { rate: 40 } } },
  faults: [{ dependency: 'catalog', fault: fault.corrupt((v: { sku: string }) => ({ ...v, cents: '12.99' })), at: '2s', for: '4s' }],
  invariants: [
    dependency('catalog').reaches('corrupt', { within: '2s' }),
    operation('checkout').successRate.atLeast(0.99),
    integrity('no bad data in the store', async (app: DrillShop) => {
      const bad = await app.badOrders();
      const all = (await app.store.effects('orders')).length;
      return { ok: bad === 0 && all > 0, observed: `${bad} orders with an invalid price of ${all} stored`, value: bad };
    }),
  ],
});
