/**
 * The shop for `blastwall audit --module examples/shop/wall.ts [--verify]`.
 *
 * - `wall`: the service built once, each operation run once so its edges are observed.
 * - `verify`: a fresh shop on the clock `--verify` gives, with fault injection on, and one function per
 *   operation; `--verify` builds one per check, injects the failure mode and compares what happens with
 *   what the audit predicted.
 */
import type { FakeClock } from 'blastwall/testing';
import { createShop } from './service.js';

const shop = createShop();
await shop.checkout();
await shop.browse();

export const wall = shop.wall;

export function verify({ clock }: { clock: FakeClock }) {
  const s = createShop({ clock, random: () => 0.5, wall: { faults: true, drift: false } });
  return { wall: s.wall, operations: { checkout: s.checkout, browse: s.browse } };
}
