/**
 * The shop demo (examples/shop/service.ts) with its dashboard on 127.0.0.1 and light, bounded traffic:
 * what the browser tests open, and `npx tsx test/dashboard/shop-server.ts` for a look by hand.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTimeline } from 'blastwall/timeline';
import { dashboardHandler } from '../../src/dashboard/index.js';
import type { FleetMember } from '../../src/dashboard/state.js';
import { createShop } from '../../examples/shop/service.js';

export const TOKEN = 'test-operator-token-0123456789';

export interface ShopDashboard {
  url: string;
  shop: ReturnType<typeof createShop>;
  timeline: ReturnType<typeof createTimeline>;
  watchers(): number;
  close(): Promise<void>;
}

export async function startShopDashboard(options: { token?: string; maxRequests?: number; fleet?: () => Promise<FleetMember[]> } = {}): Promise<ShopDashboard> {
  const timeline = createTimeline({ path: ':memory:', service: 'shop' });
  const shop = createShop({ timeline, wall: { faults: true } });
  shop.wall.feature('recommendations-panel', { owner: 'team-growth', expires: '2099-01-01', cost: 'expensive' });
  const handler = dashboardHandler(shop.wall, { ...(options.token !== undefined ? { token: options.token } : {}), ...(options.fleet ? { fleet: options.fleet } : {}), timeline, interval: '250ms' });
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  // traffic: a checkout and a browse every 20 ms, at most maxRequests rounds (bounded in count; stopped at close)
  let running = true;
  let rounds = 0;
  const max = options.maxRequests ?? 20_000;
  const traffic = (async () => {
    while (running && rounds < max) {
      rounds++;
      await Promise.allSettled([shop.checkout(), shop.browse()]);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();

  return {
    url: `http://127.0.0.1:${port}/`,
    shop,
    timeline,
    watchers: () => handler.watchers(),
    close: async () => {
      running = false;
      await traffic;
      handler.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await shop.wall.close();
      timeline.close();
    },
  };
}

if (process.argv[1]?.endsWith('shop-server.ts')) {
  const d = await startShopDashboard({ token: TOKEN, maxRequests: 30_000 });
  process.stdout.write(`dashboard: ${d.url}  (token ${TOKEN}); Ctrl-C to stop\n`);
  process.on('SIGINT', () => void d.close().then(() => process.exit(0)));
}
