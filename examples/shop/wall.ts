/**
 * The shop's wall for `blastwall audit --module examples/shop/wall.ts`: the service is built, each
 * operation runs once so its edges are observed, and the wall is exported.
 */
import { createShop } from './service.js';

const shop = createShop();
await shop.checkout();
await shop.browse();

export const wall = shop.wall;
